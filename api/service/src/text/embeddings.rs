//! Text embeddings: validate, pick the model, queue, measure.

use std::sync::Arc;
use std::time::Instant;

use eiq_inference::{Admission, ModelRegistry, ModelState, ModelStatus};

use crate::error::ServiceError;

#[derive(Clone)]
pub struct EmbeddingService {
    registry: Arc<ModelRegistry>,
    max_inputs: usize,
}

/// Vectors in input order, the model that made them, and the tokens it read.
#[derive(Debug)]
pub struct Embeddings {
    pub model: String,
    pub vectors: Vec<Vec<f32>>,
    pub prompt_tokens: usize,
}

impl EmbeddingService {
    pub fn new(registry: Arc<ModelRegistry>, max_inputs: usize) -> Self {
        Self { registry, max_inputs }
    }

    pub fn registry(&self) -> &Arc<ModelRegistry> {
        &self.registry
    }

    /// Embeds `inputs` with `model` (the default when `None` or empty); `dimensions`, when given,
    /// must be what the model produces. `admission` says whether a full queue refuses the call at
    /// once (unary calls: 429) or is waited on (stream items).
    pub async fn embed(
        &self,
        model: Option<&str>,
        inputs: Vec<String>,
        dimensions: Option<usize>,
        admission: Admission,
    ) -> Result<Embeddings, ServiceError> {
        let model = model.filter(|m| !m.is_empty()).unwrap_or(self.registry.default_model()).to_string();
        let started = Instant::now();
        let result = self.embed_with(&model, inputs, dimensions, admission).await;
        // Metric labels stay bounded: names a client invents are counted under one label.
        let label = if self.registry.serves(&model) { model.clone() } else { "unknown".to_string() };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(e) if e.is_invalid_input() => "invalid",
            Err(_) => "error",
        };
        metrics::counter!("eiq_embedding_requests_total", "model" => label.clone(), "outcome" => outcome).increment(1);
        metrics::histogram!("eiq_embedding_request_seconds", "model" => label.clone())
            .record(started.elapsed().as_secs_f64());
        if let Ok(embeddings) = &result {
            metrics::counter!("eiq_embedding_texts_total", "model" => label.clone())
                .increment(embeddings.vectors.len() as u64);
            metrics::counter!("eiq_embedding_tokens_total", "model" => label)
                .increment(embeddings.prompt_tokens as u64);
        }
        result
    }

    async fn embed_with(
        &self,
        model: &str,
        inputs: Vec<String>,
        dimensions: Option<usize>,
        admission: Admission,
    ) -> Result<Embeddings, ServiceError> {
        super::analysis::validate_texts(&inputs, self.max_inputs, "input")?;
        let served = self.registry.get_encoder(model)?;
        let produced = served.model.manifest().encoder.as_ref().map(|e| e.dimensions);
        if let Some(asked) = dimensions.filter(|&asked| Some(asked) != produced) {
            let produced = produced.map_or("unknown".to_string(), |d| d.to_string());
            return Err(ServiceError::invalid(
                "dimensions",
                format!("dimensions: model `{model}` produces {produced} dimensions, not {asked}"),
            ));
        }
        let (vectors, prompt_tokens) = served.embed(inputs, admission).await?;
        Ok(Embeddings { model: model.to_string(), vectors, prompt_tokens })
    }

    /// Every configured model and its state, as both protocols list them.
    pub fn models(&self) -> Vec<ModelSummary> {
        self.registry.statuses().into_iter().map(ModelSummary::from).collect()
    }

    pub fn default_model(&self) -> &str {
        self.registry.default_model()
    }
}

/// A configured model, its facts and its state.
#[derive(Debug, Clone)]
pub struct ModelSummary {
    pub id: String,
    pub task: &'static str,
    /// `candle`, `onnx` or `gguf`.
    pub backend: &'static str,
    /// `f32` or `int8`: the number type of the model's matrix products.
    pub precision: &'static str,
    pub dimensions: Option<usize>,
    pub max_sequence_length: Option<usize>,
    pub licence: String,
    pub upstream: String,
    pub state: ModelState,
}

impl From<ModelStatus> for ModelSummary {
    fn from(status: ModelStatus) -> Self {
        let manifest = status.manifest;
        Self {
            task: manifest.task.as_str(),
            backend: manifest.backend.as_str(),
            precision: manifest.precision.as_str(),
            dimensions: manifest.encoder.as_ref().map(|e| e.dimensions),
            max_sequence_length: manifest.encoder.as_ref().map(|e| e.max_sequence_length),
            state: status.state,
            id: manifest.id,
            licence: manifest.licence,
            upstream: manifest.upstream,
        }
    }
}
