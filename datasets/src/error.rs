use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum DatasetError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    #[error("{path}:{line}: {reason}")]
    Format { path: PathBuf, line: usize, reason: String },

    #[error("{texts} has {text_lines} lines but {labels} has {label_lines}")]
    Misaligned { texts: PathBuf, text_lines: usize, labels: PathBuf, label_lines: usize },
}

pub(crate) fn read(path: &std::path::Path) -> Result<String, DatasetError> {
    std::fs::read_to_string(path).map_err(|source| DatasetError::Io { path: path.to_path_buf(), source })
}
