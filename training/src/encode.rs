//! The catalogue encoder cut in two: the frozen bottom layers run once per text and their output
//! is cached; the top layers (frozen for the linear heads, trained for fine-tuning) run on it.

use std::collections::HashMap;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use eiq_inference::{Bert, BertConfig, BertLayers, TextTokenizer, load_weights, read_config};
use eiq_models::{FileRole, ResolvedModel};
use half::f16;

use crate::store::{MatrixStore, TextKey, text_key};
use crate::{TrainingError, progress};

/// Texts per forward pass and padded tokens per pass, when encoding for the cache.
const MAX_BATCH_TEXTS: usize = 64;
const MAX_BATCH_TOKENS: usize = 4096;

pub struct SplitEncoder {
    pub id: String,
    /// sha256 of the encoder's weights file: part of every cache key.
    pub weights_sha256: String,
    pub config: BertConfig,
    /// Layers below this index are frozen and cached; the rest are the top block.
    pub split: usize,
    pub base_tensors: HashMap<String, Tensor>,
    tokenizer: TextTokenizer,
    bottom: Bert,
    base_top: BertLayers,
}

impl SplitEncoder {
    /// Loads a candle encoder with its top `top_layers` layers separate.
    pub fn load(resolved: &ResolvedModel, top_layers: usize) -> Result<Self, TrainingError> {
        let manifest = &resolved.manifest;
        let missing = |what: &str| TrainingError::Data(format!("model `{}` has no {what}", manifest.id));
        let weights_spec = manifest.file(FileRole::Weights).ok_or_else(|| missing("weights"))?;
        let config = read_config(&resolved.path(FileRole::Config).ok_or_else(|| missing("config"))?)?;
        if top_layers == 0 || top_layers > config.num_hidden_layers {
            return Err(TrainingError::Data(format!(
                "cannot train the top {top_layers} of {} layers",
                config.num_hidden_layers
            )));
        }
        let max_len = manifest.encoder.as_ref().ok_or_else(|| missing("[encoder] table"))?.max_sequence_length;
        let tokenizer =
            TextTokenizer::from_file(resolved.tokenizer.as_deref().ok_or_else(|| missing("tokenizer"))?, max_len)?;
        let base_tensors = load_weights(&resolved.dir.join(&weights_spec.path), None)?;
        let vars = || VarBuilder::from_tensors(base_tensors.clone(), DType::F32, &Device::Cpu);
        let split = config.num_hidden_layers - top_layers;
        let bottom = Bert::load_bottom(vars(), &config, split)?;
        let base_top = BertLayers::load(vars(), &config, split..config.num_hidden_layers, false)?;
        Ok(Self {
            id: manifest.id.clone(),
            weights_sha256: weights_spec.sha256.clone(),
            config,
            split,
            base_tensors,
            tokenizer,
            bottom,
            base_top,
        })
    }

    /// The base model's own top layers, named without any `bert.` prefix.
    pub fn top_layer_tensors(&self) -> HashMap<String, Tensor> {
        self.base_tensors
            .iter()
            .map(|(name, tensor)| (name.strip_prefix("bert.").unwrap_or(name).to_string(), tensor.clone()))
            .filter(|(name, _)| {
                (self.split..self.config.num_hidden_layers).any(|i| name.starts_with(&format!("encoder.layer.{i}.")))
            })
            .collect()
    }

    pub fn key(&self, text: &str) -> TextKey {
        text_key(&self.weights_sha256, text)
    }

    /// Computes and stores the bottom layers' output for every text `states` lacks.
    pub fn cache_states(&self, texts: &[&str], states: &mut MatrixStore) -> Result<(), TrainingError> {
        let mut missing: Vec<(TextKey, Vec<u32>, Vec<u32>)> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for text in texts {
            let key = self.key(text);
            if !states.contains(&key) && seen.insert(key) {
                let tokens = self.tokenizer.tokenize(text)?;
                missing.push((key, tokens.ids, tokens.type_ids));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        missing.sort_by_key(|(_, ids, _)| ids.len());
        let bar = progress(missing.len(), &format!("{}: layers 1-{} (cached)", self.id, self.split));
        for chunk in chunks_by_tokens(&missing, |(_, ids, _)| ids.len()) {
            let (batch, seq) = (chunk.len(), chunk.last().map_or(0, |(_, ids, _)| ids.len()));
            let mut ids = vec![0u32; batch * seq];
            let mut type_ids = vec![0u32; batch * seq];
            let mut mask = vec![0u32; batch * seq];
            for (row, (_, row_ids, row_types)) in chunk.iter().enumerate() {
                ids[row * seq..row * seq + row_ids.len()].copy_from_slice(row_ids);
                type_ids[row * seq..row * seq + row_types.len()].copy_from_slice(row_types);
                mask[row * seq..row * seq + row_ids.len()].fill(1);
            }
            let tensor = |v: Vec<u32>| Tensor::from_vec(v, (batch, seq), &Device::Cpu);
            let padded = mask.contains(&0);
            let hidden = self.bottom.forward(&tensor(ids)?, &tensor(type_ids)?, &tensor(mask)?, padded)?;
            let items = chunk
                .iter()
                .enumerate()
                .map(|(row, (key, row_ids, _))| {
                    let matrix = hidden.get(row)?.narrow(0, 0, row_ids.len())?.flatten_all()?.to_vec1::<f32>()?;
                    Ok((*key, matrix))
                })
                .collect::<Result<Vec<_>, TrainingError>>()?;
            states.append(&items)?;
            bar.inc(chunk.len() as u64);
        }
        bar.finish();
        Ok(())
    }

    /// Computes and stores the base model's sentence vector (its own top layers, mean-pooled,
    /// unit length) for every text `pooled` lacks, from the cached states.
    pub fn cache_pooled(
        &self,
        texts: &[&str],
        states: &MatrixStore,
        pooled: &mut MatrixStore,
    ) -> Result<(), TrainingError> {
        let mut missing: Vec<(TextKey, &[f16])> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for text in texts {
            let key = self.key(text);
            if !pooled.contains(&key) && seen.insert(key) {
                let matrix =
                    states.get(&key).ok_or_else(|| TrainingError::Data("text without cached states".into()))?;
                missing.push((key, matrix));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        let width = states.width();
        missing.sort_by_key(|(_, m)| m.len());
        let bar = progress(missing.len(), &format!("{}: frozen sentence vectors", self.id));
        for chunk in chunks_by_tokens(&missing, |(_, m)| m.len() / width) {
            let matrices: Vec<&[f16]> = chunk.iter().map(|(_, m)| *m).collect();
            let batch = StateBatch::new(&matrices, width)?;
            let hidden = self.base_top.forward(&batch.hidden, &batch.mask, batch.padded)?;
            let vectors = batch.mean_pool_normalized(&hidden)?.to_vec2::<f32>()?;
            let items: Vec<(TextKey, Vec<f32>)> = chunk.iter().map(|(k, _)| *k).zip(vectors).collect();
            pooled.append(&items)?;
            bar.inc(chunk.len() as u64);
        }
        bar.finish();
        Ok(())
    }
}

/// Consecutive runs of `items` (sorted by length) within the per-pass text and token budgets.
pub fn chunks_by_tokens<T>(items: &[T], len: impl Fn(&T) -> usize) -> Vec<&[T]> {
    let mut chunks = Vec::new();
    let mut start = 0;
    while start < items.len() {
        let mut end = start + 1;
        while end < items.len()
            && end - start < MAX_BATCH_TEXTS
            && len(&items[end]) * (end + 1 - start) <= MAX_BATCH_TOKENS
        {
            end += 1;
        }
        chunks.push(&items[start..end]);
        start = end;
    }
    chunks
}

/// Cached token states of several texts, padded into one `[batch, seq, width]` tensor.
pub struct StateBatch {
    pub hidden: Tensor,
    /// `[batch, seq]`, 1 for real tokens.
    pub mask: Tensor,
    pub padded: bool,
}

impl StateBatch {
    pub fn new(matrices: &[&[f16]], width: usize) -> Result<Self, TrainingError> {
        let batch = matrices.len();
        let seq = matrices.iter().map(|m| m.len() / width).max().unwrap_or(0);
        let mut hidden = vec![0f32; batch * seq * width];
        let mut mask = vec![0u32; batch * seq];
        for (row, matrix) in matrices.iter().enumerate() {
            let start = row * seq * width;
            for (out, value) in hidden[start..start + matrix.len()].iter_mut().zip(matrix.iter()) {
                *out = value.to_f32();
            }
            mask[row * seq..row * seq + matrix.len() / width].fill(1);
        }
        let padded = mask.contains(&0);
        Ok(Self {
            hidden: Tensor::from_vec(hidden, (batch, seq, width), &Device::Cpu)?,
            mask: Tensor::from_vec(mask, (batch, seq), &Device::Cpu)?,
            padded,
        })
    }

    /// Mean over real tokens, scaled to unit length (as served), with ops that backpropagate.
    pub fn mean_pool_normalized(&self, hidden: &Tensor) -> Result<Tensor, TrainingError> {
        let mask = self.mask.to_dtype(DType::F32)?.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let mean = summed.broadcast_div(&mask.sum(1)?.clamp(1e-9, f64::MAX)?)?;
        let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        Ok(mean.broadcast_div(&norm)?)
    }
}
