//! Frames to and from files. Writes land in a temporary file beside the target and are renamed
//! into place, so a reader never sees half a file and a crash loses nothing already stored.

use std::fs::File;
use std::path::Path;

use eiq_datasets::{ImportLimits, LimitExceeded, POST_COLUMNS, QUOTE_CHARS, excerpt};
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

/// A Parquet upload, judged by its footer before any column is decoded: rows compress to almost
/// nothing (a million copies of one value take a few KB), so a file's size says nothing about
/// what decoding it costs. Only the canonical columns are decoded, and each must be a type the
/// canonical schema reads: Polars panics on types this build leaves out (decimals, for one).
/// Once decoded, the text is measured against the same limit.
pub fn parquet_from_bytes(bytes: &[u8], limits: &ImportLimits) -> Result<DataFrame, FeatureError> {
    let wrong = |reason: String| FeatureError::WrongFormat { format: "parquet", row: None, reason };
    let polars = |e: PolarsError| wrong(excerpt(&e.to_string(), 4 * QUOTE_CHARS));
    let mut reader = ParquetReader::new(std::io::Cursor::new(bytes));
    let metadata = reader.get_metadata().map_err(polars)?.clone();
    // The file's count and its row groups' may disagree in a crafted file: the larger counts.
    let groups = metadata.row_groups.iter().map(|g| g.num_rows() as u64).fold(0, u64::saturating_add);
    let rows = groups.max(metadata.num_rows as u64);
    if rows > limits.max_rows as u64 {
        return Err(LimitExceeded { what: "rows", limit: limits.max_rows as u64, found: Some(rows) }.into());
    }
    let schema = reader.schema().map_err(polars)?;
    if schema.len() > limits.max_columns {
        let found = Some(schema.len() as u64);
        return Err(LimitExceeded { what: "columns", limit: limits.max_columns as u64, found }.into());
    }
    let mut projection = Vec::new();
    for (index, field) in schema.iter_values().enumerate().filter(|(_, f)| POST_COLUMNS.contains(&f.name.as_str())) {
        if !readable(&field.dtype) {
            return Err(wrong(format!(
                "column `{}` is {}, which a post history cannot hold (text, whole numbers, or timestamps)",
                field.name,
                excerpt(&format!("{:?}", field.dtype), QUOTE_CHARS)
            )));
        }
        projection.push(index);
    }
    let names: Vec<&str> = schema.iter_names().map(|n| n.as_str()).collect();
    if let Some(missing) = crate::schema::missing_column(&names) {
        return Err(missing);
    }
    let decoded: u64 = metadata
        .row_groups
        .iter()
        .flat_map(|group| projection.iter().filter_map(|&i| group.columns_under_root_iter(names[i])).flatten())
        .map(|chunk| chunk.uncompressed_size().max(0) as u64)
        .fold(0, u64::saturating_add);
    let over = |what, found| LimitExceeded { what, limit: limits.max_decoded_bytes, found: Some(found) };
    if decoded > limits.max_decoded_bytes {
        return Err(over("uncompressed bytes", decoded).into());
    }
    // Polars trusts the pages it decodes, and a corrupt one can trip an assertion inside it: the
    // file's fault, so the wrong format, not a server error.
    let decode = std::panic::AssertUnwindSafe(|| reader.with_projection(Some(projection)).finish());
    let frame = std::panic::catch_unwind(decode)
        .map_err(|_| wrong("its data pages do not decode (a corrupt file?)".into()))?
        .map_err(polars)?;
    // A dictionary page stores a value once however many rows repeat it, so the footer can
    // understate the text: it is measured again as the posts will hold it, one copy per row.
    let mut text = 0u64;
    for column in frame.columns().iter().filter(|c| c.dtype() == &DataType::String || c.dtype().is_categorical()) {
        let strings = column.cast(&DataType::String).map_err(polars)?;
        let bytes = strings.str().map_err(polars)?.iter().map(|s| s.map_or(0, str::len) as u64).sum::<u64>();
        text = text.saturating_add(bytes);
    }
    if text > limits.max_decoded_bytes {
        return Err(over("bytes of text", text).into());
    }
    Ok(frame)
}

/// Arrow types the canonical schema reads as text or numbers, and Polars converts without
/// panicking: flat text, numbers, dates and timestamps with a zone Polars accepts.
fn readable(dtype: &ArrowDataType) -> bool {
    use ArrowDataType as T;
    match dtype {
        T::Null
        | T::Boolean
        | T::Int8
        | T::Int16
        | T::Int32
        | T::Int64
        | T::UInt8
        | T::UInt16
        | T::UInt32
        | T::UInt64
        | T::Float32
        | T::Float64
        | T::Utf8
        | T::LargeUtf8
        | T::Utf8View
        | T::Date32 => true,
        T::Timestamp(_, zone) => TimeZone::opt_try_new(zone.clone()).is_ok(),
        // Pandas' categories: text stored once per distinct value.
        T::Dictionary(_, values, _) => matches!(values.as_ref(), T::Utf8 | T::LargeUtf8 | T::Utf8View),
        _ => false,
    }
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

/// Writes `path` through `<path>.tmp-<pid>-<n>` (synced, then renamed over it). The history store
/// deletes such names left by a dead writer.
pub(crate) fn write_atomically(
    path: &Path,
    write: impl FnOnce(&mut File) -> Result<(), FeatureError>,
) -> Result<(), FeatureError> {
    use std::sync::atomic::{AtomicU64, Ordering};
    // Per call, not only per process: two threads writing the same path must not share it.
    static WRITES: AtomicU64 = AtomicU64::new(0);
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io(parent))?;
    }
    let n = WRITES.fetch_add(1, Ordering::Relaxed);
    let staging = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
    let mut file = File::create(&staging).map_err(io(&staging))?;
    let written = write(&mut file).and_then(|()| file.sync_all().map_err(io(&staging)));
    if let Err(error) = written {
        let _ = std::fs::remove_file(&staging);
        return Err(error);
    }
    std::fs::rename(&staging, path).map_err(io(path))
}
