use std::path::PathBuf;

/// Everything that can go wrong between a manifest and verified bytes on disk.
///
/// Messages name the model, the file and the command that fixes the problem.
#[derive(Debug, thiserror::Error)]
pub enum CatalogueError {
    #[error("unknown model `{id}`; known models: {known}")]
    UnknownModel { id: String, known: String },

    #[error("manifest {path}: {reason}")]
    InvalidManifest { path: String, reason: String },

    #[error("model `{model}`: file `{file}` is missing ({path}); {fix}")]
    MissingFile { model: String, file: String, path: PathBuf, fix: String },

    #[error("model `{model}`: file `{file}` has sha256 {actual}, the manifest pins {expected}; {fix}")]
    Corrupt { model: String, file: String, expected: String, actual: String, fix: String },

    #[error("model `{model}`: fetching failed: {reason}")]
    Fetch { model: String, reason: String },

    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },
}

impl CatalogueError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
