//! Which models this process serves, and whether each is loading, ready or failed.
//!
//! The server starts answering (`/health`) at once and loads models on a background thread;
//! requests for a model that is not ready get a clear "loading" or "failed" answer, never a hang.
//! A ready model is held by its kind ([`Served`]): encoders, generators and OCR, each kind with
//! its own queue.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};

use eiq_models::{Catalogue, Manifest, ModelCache, ResolvedModel, Task};
use tokio::sync::watch;

use crate::generate::{GenerationQueue, GgufGenerator};
use crate::ocr::{OcrModel, ServedOcr};
use crate::{BatcherConfig, Classifier, EmbeddingModel, InferenceError, Served, ServedEncoder, ServedGenerator};

#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Threads inside one forward pass (ONNX Runtime's intra-op pool).
    pub threads: usize,
    pub batcher: BatcherConfig,
    /// Sentence vectors remembered per model, by exact text (0: none).
    pub cache_entries: usize,
    /// Generation requests that may wait behind the running one, per generator.
    pub generation_queue: usize,
    /// Images an OCR model reads at once, waiting included; more are refused.
    pub ocr_in_flight: usize,
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

/// Loads one resolved model as the kind its task says.
fn load(resolved: &ResolvedModel, options: &LoadOptions) -> Result<Served, InferenceError> {
    if resolved.manifest.task == Task::Generation {
        let weights = resolved.path(eiq_models::FileRole::Weights).ok_or_else(|| InferenceError::ModelFailed {
            model: resolved.manifest.id.clone(),
            reason: "it lists no GGUF file".into(),
        })?;
        let generator = GgufGenerator::load(&resolved.manifest.id, &weights)?;
        let queue = GenerationQueue::start(generator, options.generation_queue);
        return Ok(Served::Generator(Arc::new(ServedGenerator { manifest: resolved.manifest.clone(), queue })));
    }
    if resolved.manifest.task == Task::Ocr {
        let model = OcrModel::load(resolved, options.threads)?;
        return Ok(Served::Ocr(Arc::new(ServedOcr::new(resolved.manifest.clone(), model, options.ocr_in_flight))));
    }
    let (model, classifier) = (EmbeddingModel::load(resolved, options.threads)?, load_heads(resolved)?);
    Ok(Served::Encoder(Arc::new(ServedEncoder::new(model, classifier, options))))
}

enum Slot {
    Loading(Manifest),
    Ready(Served),
    Failed(Manifest, String),
}

pub struct ModelRegistry {
    slots: RwLock<BTreeMap<String, Slot>>,
    default_model: String,
    settled: watch::Sender<bool>,
}

impl ModelRegistry {
    /// Registers `ids` as loading. Each must be an embedding, classification, generation or OCR model
    /// of the catalogue, and `default_model` one of them.
    pub fn new(catalogue: &Catalogue, ids: &[String], default_model: &str) -> Result<Arc<Self>, InferenceError> {
        let mut slots = BTreeMap::new();
        for id in ids {
            let manifest = catalogue.get(id)?;
            if !matches!(manifest.task, Task::Embedding | Task::Classification | Task::Generation | Task::Ocr) {
                return Err(InferenceError::ModelFailed {
                    model: id.clone(),
                    reason: format!("it is a {} entry, not a model this server runs", manifest.task.as_str()),
                });
            }
            slots.insert(id.clone(), Slot::Loading(manifest.clone()));
        }
        if !slots.contains_key(default_model) {
            return Err(InferenceError::ModelNotServed(default_model.to_string()));
        }
        Ok(Self::with_slots(slots, default_model, false))
    }

    /// A registry of models already loaded, ready (and settled) at once: for tests, benchmarks and
    /// embedders that build their models themselves. `default_model` must be one of them.
    pub fn ready(models: Vec<Served>, default_model: &str) -> Result<Arc<Self>, InferenceError> {
        let mut slots = BTreeMap::new();
        for served in models {
            let id = served.manifest().id.clone();
            if slots.insert(id.clone(), Slot::Ready(served)).is_some() {
                return Err(InferenceError::ModelFailed { model: id, reason: "it is registered twice".into() });
            }
        }
        if !slots.contains_key(default_model) {
            return Err(InferenceError::ModelNotServed(default_model.to_string()));
        }
        Ok(Self::with_slots(slots, default_model, true))
    }

    fn with_slots(slots: BTreeMap<String, Slot>, default_model: &str, settled: bool) -> Arc<Self> {
        let (settled, _) = watch::channel(settled);
        Arc::new(Self { slots: RwLock::new(slots), default_model: default_model.to_string(), settled })
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
                    let loaded = cache.resolve(&catalogue, &id).map_err(InferenceError::from).and_then(|resolved| load(&resolved, &options));
                    let slot = match loaded {
                        Ok(served) => {
                            tracing::info!(model = %id, backend = served.manifest().backend.as_str(), elapsed = ?started.elapsed(), "model ready");
                            Slot::Ready(served)
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
    fn get(&self, id: &str) -> Result<Served, InferenceError> {
        match self.read().get(id) {
            Some(Slot::Ready(served)) => Ok(served.clone()),
            Some(Slot::Loading(_)) => Err(InferenceError::ModelLoading(id.to_string())),
            Some(Slot::Failed(_, reason)) => {
                Err(InferenceError::ModelFailed { model: id.to_string(), reason: reason.clone() })
            }
            None => Err(InferenceError::ModelNotServed(id.to_string())),
        }
    }

    /// The ready encoder `id`, or why it cannot serve.
    pub fn get_encoder(&self, id: &str) -> Result<Arc<ServedEncoder>, InferenceError> {
        match self.get(id)? {
            Served::Encoder(encoder) => Ok(encoder),
            other => Err(InferenceError::WrongKind { model: id.to_string(), is: other.kind(), wanted: "an encoder" }),
        }
    }

    /// The ready generator `id`, or why it cannot serve.
    pub fn get_generator(&self, id: &str) -> Result<Arc<ServedGenerator>, InferenceError> {
        match self.get(id)? {
            Served::Generator(generator) => Ok(generator),
            other => Err(InferenceError::WrongKind { model: id.to_string(), is: other.kind(), wanted: "a generator" }),
        }
    }

    /// The ready OCR model `id`, or why it cannot serve.
    pub fn get_ocr(&self, id: &str) -> Result<Arc<ServedOcr>, InferenceError> {
        match self.get(id)? {
            Served::Ocr(ocr) => Ok(ocr),
            other => Err(InferenceError::WrongKind { model: id.to_string(), is: other.kind(), wanted: "an OCR model" }),
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
                Slot::Ready(served) => ModelStatus { manifest: served.manifest().clone(), state: ModelState::Ready },
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

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::Admission;
    use crate::tiny::{tiny_encoder, tiny_registry};

    fn options(max_queue: usize) -> LoadOptions {
        let batcher =
            BatcherConfig { max_batch_tokens: 512, max_batch_size: 4, max_wait: Duration::from_millis(1), max_queue };
        LoadOptions { threads: 1, batcher, cache_entries: 0, generation_queue: 1, ocr_in_flight: 1 }
    }

    fn texts(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    /// The same vectors, up to float rounding (a batch's padding and shape may reorder sums).
    fn assert_close(left: &[Vec<f32>], right: &[Vec<f32>]) {
        assert_eq!(left.len(), right.len());
        for (a, b) in left.iter().zip(right) {
            let delta = a.iter().zip(b).map(|(x, y)| (x - y).abs()).fold(0f32, f32::max);
            assert!(a.len() == b.len() && delta < 1e-5, "vectors differ by {delta}");
        }
    }

    #[tokio::test]
    async fn a_ready_registry_serves_the_tiny_encoder_through_its_queue() {
        let registry = tiny_registry("tiny", &[], &options(16));
        assert!(registry.is_ready() && *registry.settled().borrow());
        assert_eq!(registry.statuses()[0].state, ModelState::Ready);
        let served = registry.get_encoder("tiny").unwrap();
        let inputs = ["good news today", "bad day", "good news today"];
        let (vectors, tokens) = served.embed(texts(&inputs), Admission::Refuse).await.unwrap();
        assert_close(&vectors, &served.model.embed(&inputs).unwrap());
        let lengths: usize = inputs.iter().map(|t| served.model.tokenize(t).unwrap().len()).sum();
        assert_eq!(tokens, lengths);

        let err = registry.get_encoder("other").err().unwrap();
        assert!(matches!(err, InferenceError::ModelNotServed(_)));
        assert_eq!(err.to_string(), "model `other` is not served here");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn waiting_requests_all_get_through_a_small_queue() {
        let registry = tiny_registry("tiny", &[], &options(2));
        let served = registry.get_encoder("tiny").unwrap();
        let requests: Vec<Vec<String>> =
            (0..24).map(|i| [format!("post number {i}"), "thanks".into()][..1 + i % 2].to_vec()).collect();
        let tasks: Vec<_> = requests
            .iter()
            .map(|request| {
                let (served, request) = (served.clone(), request.clone());
                tokio::spawn(async move { served.embed(request, Admission::Wait).await })
            })
            .collect();
        for (task, request) in tasks.into_iter().zip(&requests) {
            let (vectors, _) = task.await.unwrap().unwrap();
            let refs: Vec<&str> = request.iter().map(String::as_str).collect();
            assert_close(&vectors, &served.model.embed(&refs).unwrap());
        }

        // Three texts can never fit a queue of two: refused at once, even when willing to wait.
        let err = served.embed(texts(&["a", "b", "c"]), Admission::Wait).await.err().unwrap();
        assert!(matches!(err, InferenceError::QueueFull { capacity: 2, .. }), "{err}");
    }

    #[test]
    fn a_ready_registry_checks_its_models() {
        let served = || {
            Served::Encoder(Arc::new(ServedEncoder::new(tiny_encoder("tiny", Task::Embedding, 0), None, &options(4))))
        };
        let twice = ModelRegistry::ready(vec![served(), served()], "tiny").err().unwrap();
        assert!(matches!(twice, InferenceError::ModelFailed { .. }), "{twice}");
        let no_default = ModelRegistry::ready(vec![served()], "other").err().unwrap();
        assert!(matches!(no_default, InferenceError::ModelNotServed(_)), "{no_default}");
    }
}
