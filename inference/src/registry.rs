//! Which models this process serves, and whether each is loading, ready or failed.
//!
//! The server starts answering (`/health`) at once and loads models on a background thread;
//! requests for a model that is not ready get a clear "loading" or "failed" answer, never a hang.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use eiq_models::{Catalogue, Manifest, ModelCache, ResolvedModel, Task};
use tokio::sync::watch;

use crate::cache::CachedVector;
use crate::{Batcher, BatcherConfig, Classifier, EmbeddingModel, InferenceError, Tokenized, VectorCache};

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Threads inside one forward pass (ONNX Runtime's intra-op pool).
    pub threads: usize,
    pub batcher: BatcherConfig,
    /// Sentence vectors remembered per model, by exact text (0: none).
    pub cache_entries: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ModelState {
    Loading,
    Ready,
    Failed(String),
}

impl std::fmt::Display for ModelState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ModelState::Loading => f.write_str("loading"),
            ModelState::Ready => f.write_str("ready"),
            ModelState::Failed(reason) => write!(f, "failed: {reason}"),
        }
    }
}

#[derive(Debug, Clone)]
pub struct ModelStatus {
    pub manifest: Manifest,
    pub state: ModelState,
}

/// A ready model with the queue in front of it, and its heads if it is a classification model.
pub struct ServedModel {
    pub model: Arc<EmbeddingModel>,
    pub batcher: Batcher,
    pub classifier: Option<Classifier>,
    cache: Option<VectorCache>,
}

/// Texts this many or more are tokenized off the async runtime's threads.
const BLOCKING_TOKENIZE_THRESHOLD: usize = 64;

impl ServedModel {
    /// Tokenizes, queues and waits; returns the vectors in input order and the token count.
    /// Texts the cache remembers skip all three.
    pub async fn embed(self: &Arc<Self>, texts: Vec<String>) -> Result<(Vec<Vec<f32>>, usize), InferenceError> {
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
        let mut computed = if tokenized.is_empty() { Vec::new() } else { self.batcher.embed(tokenized).await? }
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

/// The heads of a classification model, checked against its encoder's width.
fn load_heads(resolved: &ResolvedModel) -> Result<Option<Classifier>, InferenceError> {
    if resolved.manifest.task != Task::Classification {
        return Ok(None);
    }
    let dimensions = resolved.manifest.encoder.as_ref().map_or(0, |e| e.dimensions);
    let path = resolved.heads.clone().ok_or_else(|| InferenceError::ModelFailed {
        model: resolved.manifest.id.clone(),
        reason: "it lists no heads file".into(),
    })?;
    Classifier::from_file(&path, dimensions).map(Some)
}

enum Slot {
    Loading(Manifest),
    Ready(Arc<ServedModel>),
    Failed(Manifest, String),
}

pub struct ModelRegistry {
    slots: RwLock<BTreeMap<String, Slot>>,
    default_model: String,
    settled: watch::Sender<bool>,
}

impl ModelRegistry {
    /// Registers `ids` as loading. Each must be an embedding model of the catalogue, and
    /// `default_model` one of them.
    pub fn new(catalogue: &Catalogue, ids: &[String], default_model: &str) -> Result<Arc<Self>, InferenceError> {
        let mut slots = BTreeMap::new();
        for id in ids {
            let manifest = catalogue.get(id)?;
            if !matches!(manifest.task, Task::Embedding | Task::Classification) {
                return Err(InferenceError::ModelFailed {
                    model: id.clone(),
                    reason: format!("it is a {} entry, not an encoder", manifest.task.as_str()),
                });
            }
            slots.insert(id.clone(), Slot::Loading(manifest.clone()));
        }
        if !slots.contains_key(default_model) {
            return Err(InferenceError::ModelNotServed(default_model.to_string()));
        }
        let (settled, _) = watch::channel(false);
        Ok(Arc::new(Self { slots: RwLock::new(slots), default_model: default_model.to_string(), settled }))
    }

    /// Loads every registered model, one after the other, on a background thread.
    pub fn spawn_loading(self: &Arc<Self>, catalogue: Catalogue, cache: ModelCache, options: LoadOptions) {
        let registry = self.clone();
        std::thread::Builder::new()
            .name("eiq-model-loader".into())
            .spawn(move || {
                let ids: Vec<String> = registry.read().keys().cloned().collect();
                for id in ids {
                    let started = std::time::Instant::now();
                    let loaded = cache
                        .resolve(&catalogue, &id)
                        .map_err(InferenceError::from)
                        .and_then(|resolved| Ok((EmbeddingModel::load(&resolved, options.threads)?, load_heads(&resolved)?)));
                    let slot = match loaded {
                        Ok((model, classifier)) => {
                            tracing::info!(model = %id, backend = model.backend(), elapsed = ?started.elapsed(), "model ready");
                            let model = Arc::new(model);
                            let batcher = Batcher::spawn(model.clone(), options.batcher.clone());
                            let cache = VectorCache::new(options.cache_entries);
                            Slot::Ready(Arc::new(ServedModel { model, batcher, classifier, cache }))
                        }
                        Err(err) => {
                            tracing::error!(model = %id, error = %err, "model failed to load");
                            let manifest = catalogue.get(&id).expect("registered ids are in the catalogue").clone();
                            Slot::Failed(manifest, err.to_string())
                        }
                    };
                    registry.slots.write().unwrap_or_else(|p| p.into_inner()).insert(id, slot);
                }
                registry.settled.send_replace(true);
            })
            .expect("the OS refused a thread for the model loader");
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<String, Slot>> {
        self.slots.read().unwrap_or_else(|p| p.into_inner())
    }

    /// The ready model `id`, or why it cannot serve.
    pub fn get(&self, id: &str) -> Result<Arc<ServedModel>, InferenceError> {
        match self.read().get(id) {
            Some(Slot::Ready(model)) => Ok(model.clone()),
            Some(Slot::Loading(_)) => Err(InferenceError::ModelLoading(id.to_string())),
            Some(Slot::Failed(_, reason)) => {
                Err(InferenceError::ModelFailed { model: id.to_string(), reason: reason.clone() })
            }
            None => Err(InferenceError::ModelNotServed(id.to_string())),
        }
    }

    /// `id` is one of the models this registry was configured with, whatever its state.
    pub fn serves(&self, id: &str) -> bool {
        self.read().contains_key(id)
    }

    pub fn default_model(&self) -> &str {
        &self.default_model
    }

    pub fn statuses(&self) -> Vec<ModelStatus> {
        self.read()
            .values()
            .map(|slot| match slot {
                Slot::Loading(manifest) => ModelStatus { manifest: manifest.clone(), state: ModelState::Loading },
                Slot::Ready(served) => {
                    ModelStatus { manifest: served.model.manifest().clone(), state: ModelState::Ready }
                }
                Slot::Failed(manifest, reason) => {
                    ModelStatus { manifest: manifest.clone(), state: ModelState::Failed(reason.clone()) }
                }
            })
            .collect()
    }

    /// Every registered model is ready.
    pub fn is_ready(&self) -> bool {
        self.read().values().all(|slot| matches!(slot, Slot::Ready(_)))
    }

    /// Becomes `true` once loading has finished, whether or not every model loaded.
    pub fn settled(&self) -> watch::Receiver<bool> {
        self.settled.subscribe()
    }
}
