//! A loaded embedding model: its tokenizer, its backend, and the pooling they share.

use std::collections::HashMap;

use eiq_models::{Backend, FileRole, Manifest, ResolvedModel};

use crate::split::split_by_length;
use crate::{
    BatchWork, CandleEncoder, Encoder, InferenceError, OnnxEncoder, TextTokenizer, TokenBatch, Tokenized,
    mean_pool_normalized,
};

pub struct EmbeddingModel {
    manifest: Manifest,
    tokenizer: TextTokenizer,
    encoder: Box<dyn Encoder>,
}

impl EmbeddingModel {
    /// Loads a verified model on the backend its manifest names; `threads` bounds ONNX Runtime's
    /// intra-op pool (candle sizes its own from the machine).
    pub fn load(resolved: &ResolvedModel, threads: usize) -> Result<Self, InferenceError> {
        let manifest = resolved.manifest.clone();
        let missing = |what: &str| InferenceError::Backend {
            backend: manifest.backend.as_str(),
            reason: format!("model `{}` has no {what}", manifest.id),
        };
        let spec = manifest.encoder.as_ref().ok_or_else(|| missing("[encoder] table"))?;
        let tokenizer_path = resolved.tokenizer.as_deref().ok_or_else(|| missing("tokenizer"))?;
        let tokenizer = TextTokenizer::from_file(tokenizer_path, spec.max_sequence_length)?;
        let weights = resolved.path(FileRole::Weights).ok_or_else(|| missing("weights file"))?;
        let encoder: Box<dyn Encoder> = match manifest.backend {
            Backend::Candle => match &resolved.base {
                // A fine-tune stored as the layers it changed, over its base model's weights.
                Some(base) => {
                    let config = base.path(FileRole::Config).ok_or_else(|| missing("base config file"))?;
                    let base_weights = base.path(FileRole::Weights).ok_or_else(|| missing("base weights"))?;
                    Box::new(CandleEncoder::load(&config, &base_weights, Some(&weights))?)
                }
                None => {
                    let config = resolved.path(FileRole::Config).ok_or_else(|| missing("config file"))?;
                    Box::new(CandleEncoder::load(&config, &weights, None)?)
                }
            },
            Backend::Lexicon | Backend::Gguf => {
                return Err(InferenceError::Backend {
                    backend: manifest.backend.as_str(),
                    reason: format!("`{}` is a {} model, not an encoder", manifest.id, manifest.task.as_str()),
                });
            }
            Backend::Onnx => {
                let runtime = resolved.runtime_library.as_deref().ok_or_else(|| missing("runtime library"))?;
                Box::new(OnnxEncoder::load(runtime, &weights, spec.dimensions, threads)?)
            }
        };
        Ok(Self::from_parts(manifest, tokenizer, encoder))
    }

    /// A model from parts already in memory: `manifest` describes it, the tokenizer and encoder
    /// are used as given (see `tiny.rs` for one built in code).
    pub fn from_parts(manifest: Manifest, tokenizer: TextTokenizer, encoder: Box<dyn Encoder>) -> Self {
        Self { manifest, tokenizer, encoder }
    }

    pub fn id(&self) -> &str {
        &self.manifest.id
    }

    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    pub fn backend(&self) -> &'static str {
        self.encoder.name()
    }

    pub fn tokenize(&self, text: &str) -> Result<Tokenized, InferenceError> {
        self.tokenizer.tokenize(text)
    }

    /// One unit vector per text, in input order. Identical texts (one post checked by several
    /// callers at once) are computed once; the rest are sorted by length and run in as many
    /// forward passes as keeps padding cheap (see `split.rs`).
    pub fn embed_tokenized(&self, texts: &[&Tokenized]) -> Result<Vec<Vec<f32>>, InferenceError> {
        let mut unique: Vec<&Tokenized> = Vec::new();
        let mut slot_of: HashMap<&Tokenized, usize> = HashMap::new();
        let slots: Vec<usize> = texts
            .iter()
            .map(|&text| {
                *slot_of.entry(text).or_insert_with(|| {
                    unique.push(text);
                    unique.len() - 1
                })
            })
            .collect();

        let mut order: Vec<usize> = (0..unique.len()).collect();
        order.sort_by_key(|&i| unique[i].len());
        let lengths: Vec<usize> = order.iter().map(|&i| unique[i].len()).collect();
        let mut vectors = vec![Vec::new(); unique.len()];
        for range in split_by_length(&lengths) {
            let members = &order[range];
            let batch: Vec<&Tokenized> = members.iter().map(|&i| unique[i]).collect();
            for (&i, vector) in members.iter().zip(self.embed_padded(&batch)?) {
                vectors[i] = vector;
            }
        }
        Ok(slots.into_iter().map(|slot| vectors[slot].clone()).collect())
    }

    /// One forward pass over `texts` padded to the longest of them.
    pub fn embed_padded(&self, texts: &[&Tokenized]) -> Result<Vec<Vec<f32>>, InferenceError> {
        let batch = TokenBatch::pad(texts.iter().copied());
        if batch.size == 0 {
            return Ok(Vec::new());
        }
        let hidden = self.encoder.forward(&batch)?;
        Ok(mean_pool_normalized(&hidden, &batch))
    }

    /// Tokenizes and embeds in one batch, without the queue: for the CLI, benchmarks and tests.
    pub fn embed(&self, texts: &[&str]) -> Result<Vec<Vec<f32>>, InferenceError> {
        let tokenized = texts.iter().map(|t| self.tokenize(t)).collect::<Result<Vec<_>, _>>()?;
        self.embed_tokenized(&tokenized.iter().collect::<Vec<_>>())
    }
}

/// The encoder's queue batches tokenized texts into sentence vectors.
impl BatchWork for EmbeddingModel {
    type Item = Tokenized;
    type Output = Vec<f32>;

    fn cost(text: &Tokenized) -> usize {
        text.len()
    }

    fn run(&self, texts: &[&Tokenized]) -> Result<Vec<Vec<f32>>, InferenceError> {
        self.embed_tokenized(texts)
    }

    fn id(&self) -> &str {
        &self.manifest.id
    }

    fn backend(&self) -> &'static str {
        self.encoder.name()
    }
}
