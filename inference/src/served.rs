//! What a ready model serves, with the queue in front of it.
//!
//! Each kind of model is served its own way: an encoder turns texts into sentence vectors (and
//! class probabilities, with heads). Every kind queues its work in a [`Batcher`] of its own, with
//! the same admission and batching.

use std::sync::Arc;

use eiq_models::Manifest;

use crate::cache::CachedVector;
use crate::generate::GenerationQueue;
use crate::ocr::ServedOcr;
use crate::{Admission, Batcher, Classifier, EmbeddingModel, InferenceError, LoadOptions, Tokenized, VectorCache};

/// A ready model, by what it serves. Each kind has its own queue in front of it; image
/// pipelines will be a kind of their own.
#[derive(Clone)]
pub enum Served {
    Encoder(Arc<ServedEncoder>),
    Generator(Arc<ServedGenerator>),
    /// An image pipeline: OCR.
    Ocr(Arc<ServedOcr>),
}

impl Served {
    pub fn manifest(&self) -> &Manifest {
        match self {
            Served::Encoder(encoder) => encoder.model.manifest(),
            Served::Generator(generator) => &generator.manifest,
            Served::Ocr(ocr) => &ocr.manifest,
        }
    }

    /// What the model is, for errors.
    pub fn kind(&self) -> &'static str {
        match self {
            Served::Encoder(_) => "an encoder",
            Served::Generator(_) => "a generator",
            Served::Ocr(_) => "an OCR model",
        }
    }
}

/// A ready generator with its queue (the generation server).
pub struct ServedGenerator {
    pub manifest: Manifest,
    pub queue: GenerationQueue,
}

/// A ready encoder with the queue in front of it, and its heads if it is a classification model.
pub struct ServedEncoder {
    pub model: Arc<EmbeddingModel>,
    pub batcher: Batcher<EmbeddingModel>,
    pub classifier: Option<Classifier>,
    cache: Option<VectorCache>,
}

/// Texts this many or more are tokenized off the async runtime's threads.
const BLOCKING_TOKENIZE_THRESHOLD: usize = 64;

impl ServedEncoder {
    /// Serves `model` (with `classifier`'s heads, for a classification model): spawns its batcher
    /// and sizes its vector cache as `options` say.
    pub fn new(model: EmbeddingModel, classifier: Option<Classifier>, options: &LoadOptions) -> Self {
        let model = Arc::new(model);
        let batcher = Batcher::spawn(model.clone(), options.batcher.clone());
        Self { model, batcher, classifier, cache: VectorCache::new(options.cache_entries) }
    }

    /// Tokenizes, queues and waits; returns the vectors in input order and the token count.
    /// Texts the cache remembers skip all three. Tokenizing happens before queueing, so a request
    /// that waits for room (`admission`) waits with its work already done.
    pub async fn embed(
        self: &Arc<Self>,
        texts: Vec<String>,
        admission: Admission,
    ) -> Result<(Vec<Vec<f32>>, usize), InferenceError> {
        let cached: Vec<Option<CachedVector>> =
            texts.iter().map(|text| self.cache.as_ref().and_then(|cache| cache.get(text))).collect();
        let hits = cached.iter().filter(|c| c.is_some()).count();
        if hits > 0 {
            metrics::counter!("eiq_vector_cache_hits_total", "model" => self.model.id().to_string())
                .increment(hits as u64);
        }
        let missing: Vec<String> =
            texts.iter().zip(&cached).filter(|(_, c)| c.is_none()).map(|(text, _)| text.clone()).collect();
        let tokenized = if missing.len() >= BLOCKING_TOKENIZE_THRESHOLD {
            let model = self.model.clone();
            tokio::task::spawn_blocking(move || tokenize_all(&model, &missing))
                .await
                .map_err(|_| InferenceError::WorkerStopped)??
        } else {
            tokenize_all(&self.model, &missing)?
        };
        let lengths: Vec<usize> = tokenized.iter().map(Tokenized::len).collect();
        let mut computed =
            if tokenized.is_empty() { Vec::new() } else { self.batcher.submit(tokenized, admission).await? }
                .into_iter()
                .zip(lengths);
        let mut tokens = 0;
        let mut vectors = Vec::with_capacity(texts.len());
        for (text, hit) in texts.into_iter().zip(cached) {
            let (vector, length) = match hit {
                Some((vector, length)) => (Vec::clone(&vector), length),
                None => {
                    let (vector, length) = computed.next().expect("one vector per text that missed");
                    if let Some(cache) = &self.cache {
                        cache.insert(text, (Arc::new(vector.clone()), length));
                    }
                    (vector, length)
                }
            };
            tokens += length;
            vectors.push(vector);
        }
        Ok((vectors, tokens))
    }
}

fn tokenize_all(model: &EmbeddingModel, texts: &[String]) -> Result<Vec<Tokenized>, InferenceError> {
    texts.iter().map(|text| model.tokenize(text)).collect()
}
