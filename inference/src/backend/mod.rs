//! The one seam between the core and a runtime: a padded batch in, last hidden states out.

pub(crate) mod bert;
mod candle;
mod gelu;
mod onnx;

pub use self::bert::{Bert, BertConfig, BertLayers};
pub use self::candle::{CandleEncoder, load_weights, read_config};
pub use self::onnx::OnnxEncoder;
pub(crate) use self::onnx::session as onnx_session;

use crate::{InferenceError, TokenBatch};

/// Token vectors of a batch, row-major `[batch.size, batch.seq_len, hidden_size]`.
#[derive(Debug, Clone)]
pub struct HiddenStates {
    pub hidden_size: usize,
    pub values: Vec<f32>,
}

/// A transformer encoder. Implementations are called from one worker thread per model and may
/// use several cores inside one call.
pub trait Encoder: Send + Sync {
    fn forward(&self, batch: &TokenBatch) -> Result<HiddenStates, InferenceError>;

    /// `candle` or `onnx`, for logs and metrics.
    fn name(&self) -> &'static str;
}
