#[derive(Debug, thiserror::Error)]
pub enum TrainingError {
    #[error("unknown task `{name}`; the tasks are {known}")]
    UnknownTask { name: String, known: String },

    #[error(transparent)]
    Dataset(#[from] eiq_datasets::DatasetError),

    #[error("data: {0}")]
    Data(String),

    // Boxed: both are large, and every training result would carry their size.
    #[error(transparent)]
    Catalogue(Box<eiq_models::CatalogueError>),

    #[error(transparent)]
    Inference(Box<eiq_inference::InferenceError>),

    #[error("candle: {0}")]
    Candle(#[from] candle_core::Error),

    #[error("logistic regression: {0}")]
    Linfa(String),

    #[error("{context}: {source}")]
    Io { context: String, source: std::io::Error },

    #[error(transparent)]
    Features(#[from] eiq_features::FeatureError),

    #[error("features: {0}")]
    Polars(#[from] polars::prelude::PolarsError),

    #[error("not enough history to train a forecaster: {0}")]
    NotEnoughHistory(String),

    #[error("forecaster: {0}")]
    Forecaster(String),
}

impl From<eiq_models::CatalogueError> for TrainingError {
    fn from(err: eiq_models::CatalogueError) -> Self {
        Self::Catalogue(Box::new(err))
    }
}

impl From<eiq_inference::InferenceError> for TrainingError {
    fn from(err: eiq_inference::InferenceError) -> Self {
        Self::Inference(Box::new(err))
    }
}

impl TrainingError {
    pub(crate) fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let context = context.into();
        move |source| Self::Io { context, source }
    }
}
