//! An on-disk cache of per-text matrices (token states or pooled vectors) in f16, keyed by the
//! encoder's sha256 and the text, so retraining never runs the encoder on a text twice.
//!
//! One append-only file per encoder and layer: records of `key (32 bytes) | rows (u32) |
//! rows × width f16`. A torn last record (an interrupted run) is ignored on open.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use half::f16;
use sha2::{Digest, Sha256};

use crate::TrainingError;

pub type TextKey = [u8; 32];

/// The key of `text` under the encoder whose weights hash to `encoder_sha256`.
pub fn text_key(encoder_sha256: &str, text: &str) -> TextKey {
    let mut hasher = Sha256::new();
    hasher.update(encoder_sha256.as_bytes());
    hasher.update([0]);
    hasher.update(text.as_bytes());
    hasher.finalize().into()
}

pub struct MatrixStore {
    path: PathBuf,
    width: usize,
    index: HashMap<TextKey, (usize, usize)>,
    values: Vec<f16>,
}

impl MatrixStore {
    /// Opens (or creates) the store at `path` for rows of `width` values.
    pub fn open(path: &Path, width: usize) -> Result<Self, TrainingError> {
        let mut store = Self { path: path.to_path_buf(), width, index: HashMap::new(), values: Vec::new() };
        if !path.exists() {
            return Ok(store);
        }
        let mut bytes = Vec::new();
        File::open(path)
            .and_then(|mut f| f.read_to_end(&mut bytes))
            .map_err(TrainingError::io(format!("reading {}", path.display())))?;
        let mut at = 0;
        while at + 36 <= bytes.len() {
            let key: TextKey = bytes[at..at + 32].try_into().expect("32 bytes");
            let rows = u32::from_le_bytes(bytes[at + 32..at + 36].try_into().expect("4 bytes")) as usize;
            let end = at + 36 + rows * width * 2;
            if end > bytes.len() {
                break;
            }
            let start = store.values.len();
            store.values.extend(bytes[at + 36..end].chunks_exact(2).map(|b| f16::from_le_bytes([b[0], b[1]])));
            store.index.insert(key, (start, rows));
            at = end;
        }
        Ok(store)
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn contains(&self, key: &TextKey) -> bool {
        self.index.contains_key(key)
    }

    /// The `rows × width` values stored for `key`.
    pub fn get(&self, key: &TextKey) -> Option<&[f16]> {
        self.index.get(key).map(|&(start, rows)| &self.values[start..start + rows * self.width])
    }

    /// Appends matrices (row-major f32, `width` columns) to the file and the index.
    pub fn append(&mut self, items: &[(TextKey, Vec<f32>)]) -> Result<(), TrainingError> {
        if let Some(parent) = self.path.parent() {
            std::fs::create_dir_all(parent).map_err(TrainingError::io(format!("creating {}", parent.display())))?;
        }
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.path)
            .map_err(TrainingError::io(format!("opening {}", self.path.display())))?;
        let mut out = BufWriter::new(file);
        for (key, matrix) in items {
            let rows = matrix.len() / self.width;
            let start = self.values.len();
            out.write_all(key).and_then(|_| out.write_all(&(rows as u32).to_le_bytes())).map_err(self.write_error())?;
            for &value in matrix {
                let half = f16::from_f32(value);
                out.write_all(&half.to_le_bytes()).map_err(self.write_error())?;
                self.values.push(half);
            }
            self.index.insert(*key, (start, rows));
        }
        out.flush().map_err(self.write_error())
    }

    fn write_error(&self) -> impl FnOnce(std::io::Error) -> TrainingError {
        TrainingError::io(format!("writing {}", self.path.display()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn survives_reopening_and_ignores_a_torn_last_record() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("states.bin");
        let (a, b) = (text_key("sha", "first"), text_key("sha", "second"));
        assert_ne!(a, text_key("other-sha", "first"), "the key depends on the encoder");
        let mut store = MatrixStore::open(&path, 2).unwrap();
        store.append(&[(a, vec![1.0, 2.0, 3.0, 4.0]), (b, vec![0.5, -0.5])]).unwrap();
        // Half a record, as an interrupted run leaves it.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[7; 40]).unwrap();
        drop(file);

        let store = MatrixStore::open(&path, 2).unwrap();
        let values: Vec<f32> = store.get(&a).unwrap().iter().map(|v| v.to_f32()).collect();
        assert_eq!(values, [1.0, 2.0, 3.0, 4.0]);
        assert_eq!(store.get(&b).unwrap().len(), 2);
        assert!(!store.contains(&text_key("sha", "third")));
    }
}
