use std::path::PathBuf;

use eiq_datasets::{LimitExceeded, RowError};

#[derive(Debug, thiserror::Error)]
pub enum FeatureError {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },

    /// The whole file is not the format it was said to be; `row` is the first row that shows it.
    #[error("not {format}: {}{reason}", .row.map(|r| format!("row {r}: ")).unwrap_or_default())]
    WrongFormat { format: &'static str, row: Option<usize>, reason: String },

    /// The file is over one of the [`ImportLimits`](eiq_datasets::ImportLimits): refused whole.
    #[error(transparent)]
    TooLarge(#[from] LimitExceeded),

    /// `--strict`: the first bad row sinks the file.
    #[error("row {}: {}", .0.row, .0.reason)]
    BadRow(RowError),

    #[error("{0}")]
    InvalidName(String),

    #[error(transparent)]
    Polars(#[from] polars::prelude::PolarsError),
}

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> FeatureError + '_ {
    move |source| FeatureError::Io { path: path.to_path_buf(), source }
}
