//! BERT-family encoders in f32 on the CPU with candle, from upstream safetensors, optionally
//! with some layers replaced by fine-tuned ones (an overlay: a few MB instead of a whole model).

use std::collections::HashMap;
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
    /// Loads `config.json` and `model.safetensors`, with the tensors of `overlay` replacing
    /// their namesakes.
    pub fn load(config: &Path, weights: &Path, overlay: Option<&Path>) -> Result<Self, InferenceError> {
        Self::from_tensors(&read_config(config)?, load_weights(weights, overlay)?)
    }

    /// An encoder from f32 CPU tensors already in memory, named as in a Hugging Face checkpoint.
    pub fn from_tensors(config: &BertConfig, tensors: HashMap<String, Tensor>) -> Result<Self, InferenceError> {
        let device = Device::Cpu;
        let vars = VarBuilder::from_tensors(tensors, DType::F32, &device);
        let model = Bert::load(vars, config).map_err(InferenceError::candle)?;
        Ok(Self { model, device, hidden_size: config.hidden_size })
    }
}

pub fn read_config(path: &Path) -> Result<BertConfig, InferenceError> {
    let text = std::fs::read_to_string(path).map_err(|e| InferenceError::candle(e.into()))?;
    serde_json::from_str(&text)
        .map_err(|e| InferenceError::Backend { backend: "candle", reason: format!("{}: {e}", path.display()) })
}

/// Every tensor of `weights` in f32, those of `overlay` replacing their namesakes. An overlay
/// tensor with no namesake, or of another shape, is an error: it would otherwise be ignored.
pub fn load_weights(weights: &Path, overlay: Option<&Path>) -> Result<HashMap<String, Tensor>, InferenceError> {
    let device = Device::Cpu;
    let read = |path: &Path| -> Result<HashMap<String, Tensor>, InferenceError> {
        let tensors = candle_core::safetensors::load(path, &device).map_err(InferenceError::candle)?;
        tensors
            .into_iter()
            .map(|(name, t)| Ok((name, t.to_dtype(DType::F32).map_err(InferenceError::candle)?)))
            .collect()
    };
    let mut tensors = read(weights)?;
    if let Some(overlay) = overlay {
        for (name, tensor) in read(overlay)? {
            let key = if tensors.contains_key(&name) { name.clone() } else { format!("bert.{name}") };
            let Some(base) = tensors.get(&key) else {
                return Err(InferenceError::Backend {
                    backend: "candle",
                    reason: format!("{}: `{name}` is not a tensor of the base model", overlay.display()),
                });
            };
            if base.shape() != tensor.shape() {
                return Err(InferenceError::Backend {
                    backend: "candle",
                    reason: format!(
                        "{}: `{name}` is {:?}, the base model's is {:?}",
                        overlay.display(),
                        tensor.shape(),
                        base.shape()
                    ),
                });
            }
            tensors.insert(key, tensor);
        }
    }
    Ok(tensors)
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
