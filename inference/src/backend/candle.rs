//! BERT-family encoders in f32 on the CPU with candle, from upstream safetensors.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;

use super::bert::{Bert, BertConfig};
use super::{Encoder, HiddenStates};
use crate::{InferenceError, TokenBatch};

pub struct CandleEncoder {
    model: Bert,
    device: Device,
    hidden_size: usize,
}

impl CandleEncoder {
    /// Loads `config.json` and `model.safetensors`.
    pub fn load(config: &Path, weights: &Path) -> Result<Self, InferenceError> {
        let config_text = std::fs::read_to_string(config).map_err(|e| InferenceError::candle(e.into()))?;
        let config: BertConfig = serde_json::from_str(&config_text)
            .map_err(|e| InferenceError::Backend { backend: "candle", reason: format!("{}: {e}", config.display()) })?;
        let device = Device::Cpu;
        let bytes = std::fs::read(weights).map_err(|e| InferenceError::candle(e.into()))?;
        let vars = VarBuilder::from_buffered_safetensors(bytes, DType::F32, &device).map_err(InferenceError::candle)?;
        let model = Bert::load(vars, &config).map_err(InferenceError::candle)?;
        Ok(Self { model, device, hidden_size: config.hidden_size })
    }
}

impl Encoder for CandleEncoder {
    fn forward(&self, batch: &TokenBatch) -> Result<HiddenStates, InferenceError> {
        let shape = (batch.size, batch.seq_len);
        let tensor = |values: &[u32]| Tensor::from_slice(values, shape, &self.device);
        let ids = tensor(&batch.ids).map_err(InferenceError::candle)?;
        let type_ids = tensor(&batch.type_ids).map_err(InferenceError::candle)?;
        let mask = tensor(&batch.mask).map_err(InferenceError::candle)?;
        let padded = batch.mask.contains(&0);
        let output = self.model.forward(&ids, &type_ids, &mask, padded).map_err(InferenceError::candle)?;
        let values = output.flatten_all().and_then(|t| t.to_vec1::<f32>()).map_err(InferenceError::candle)?;
        Ok(HiddenStates { hidden_size: self.hidden_size, values })
    }

    fn name(&self) -> &'static str {
        "candle"
    }
}
