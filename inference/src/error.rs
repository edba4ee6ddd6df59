/// What can go wrong between text and vectors. The API maps each to one HTTP and gRPC status.
#[derive(Debug, thiserror::Error)]
pub enum InferenceError {
    #[error(transparent)]
    Catalogue(#[from] eiq_models::CatalogueError),

    #[error("model `{0}` is not served here")]
    ModelNotServed(String),

    /// The model is served, but as another kind (an encoder asked to generate, say); `is` and
    /// `wanted` read "an encoder", "a generator".
    #[error("model `{model}` is {is}, not {wanted}")]
    WrongKind { model: String, is: &'static str, wanted: &'static str },

    #[error("model `{0}` is still loading")]
    ModelLoading(String),

    #[error("model `{model}` failed to load: {reason}")]
    ModelFailed { model: String, reason: String },

    #[error("the queue of model `{model}` is full ({capacity} places); retry shortly")]
    QueueFull { model: String, capacity: usize },

    #[error("tokenizer: {0}")]
    Tokenizer(String),

    #[error("{backend} backend: {reason}")]
    Backend { backend: &'static str, reason: String },

    #[error("the model worker stopped (server shutting down)")]
    WorkerStopped,
}

impl InferenceError {
    pub(crate) fn candle(err: candle_core::Error) -> Self {
        Self::Backend { backend: "candle", reason: err.to_string() }
    }

    pub(crate) fn onnx(err: impl std::fmt::Display) -> Self {
        Self::Backend { backend: "onnx", reason: err.to_string() }
    }
}
