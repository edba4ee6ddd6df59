//! Frames to and from files. Writes land in a temporary file beside the target and are renamed
//! into place, so a reader never sees half a file and a crash loses nothing already stored.

use std::fs::File;
use std::path::Path;

use polars::prelude::*;

use crate::FeatureError;
use crate::error::io;

pub fn read_parquet(path: &Path) -> Result<DataFrame, FeatureError> {
    let file = File::open(path).map_err(io(path))?;
    ParquetReader::new(file).finish().map_err(|e| FeatureError::WrongFormat {
        format: "parquet",
        row: None,
        reason: format!("{}: {e}", path.display()),
    })
}

pub fn parquet_from_bytes(bytes: &[u8]) -> Result<DataFrame, FeatureError> {
    ParquetReader::new(std::io::Cursor::new(bytes)).finish().map_err(|e| FeatureError::WrongFormat {
        format: "parquet",
        row: None,
        reason: e.to_string(),
    })
}

pub fn write_parquet(frame: &mut DataFrame, path: &Path) -> Result<(), FeatureError> {
    write_atomically(path, |file| {
        ParquetWriter::new(file).with_compression(ParquetCompression::Zstd(None)).finish(frame)?;
        Ok(())
    })
}

pub fn write_csv(frame: &mut DataFrame, path: &Path) -> Result<(), FeatureError> {
    write_atomically(path, |file| {
        let mut writer = std::io::BufWriter::new(file);
        for (i, name) in frame.get_column_names().iter().enumerate() {
            let separator = if i == 0 { "" } else { "," };
            std::io::Write::write_all(&mut writer, format!("{separator}{name}").as_bytes()).map_err(io(path))?;
        }
        std::io::Write::write_all(&mut writer, b"\n").map_err(io(path))?;
        let columns: Vec<StringChunked> = frame
            .columns()
            .iter()
            .map(|c| Ok(c.cast(&DataType::String)?.as_materialized_series().str()?.clone()))
            .collect::<Result<_, PolarsError>>()?;
        let mut csv = csv_writer(&mut writer);
        for row in 0..frame.height() {
            let record: Vec<&str> = columns.iter().map(|c| c.get(row).unwrap_or("")).collect();
            csv.write_record(&record).map_err(|e| FeatureError::Io { path: path.to_path_buf(), source: e.into() })?;
        }
        csv.flush().map_err(io(path))?;
        Ok(())
    })
}

fn csv_writer<W: std::io::Write>(writer: W) -> csv::Writer<W> {
    csv::WriterBuilder::new().has_headers(false).from_writer(writer)
}

fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut File) -> Result<(), FeatureError>,
) -> Result<(), FeatureError> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let staging = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut file = File::create(&staging).map_err(io(&staging))?;
    let written = write(&mut file).and_then(|()| file.sync_all().map_err(io(&staging)));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&staging);
        return Err(error);
    }
    std::fs::rename(&staging, path).map_err(io(path))
}
