//! Text embeddings: validate, pick the model, queue, measure.

use std::sync::Arc;
use std::time::Instant;

use eiq_inference::{ModelRegistry, ModelStatus};

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
    /// must be what the model produces.
    pub async fn embed(
        &self,
        model: Option<&str>,
        inputs: Vec<String>,
        dimensions: Option<usize>,
    ) -> Result<Embeddings, ServiceError> {
        let model = model.filter(|m| !m.is_empty()).unwrap_or(self.registry.default_model()).to_string();
        let started = Instant::now();
        let result = self.embed_with(&model, inputs, dimensions).await;
        // Metric labels stay bounded: names a client invents are counted under one label.
        let label = if self.registry.serves(&model) { model.clone() } else { "unknown".to_string() };
        let outcome = match &result {
            Ok(_) => "ok",
            Err(ServiceError::InvalidInput(_)) => "invalid",
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
    ) -> Result<Embeddings, ServiceError> {
        super::analysis::validate_texts(&inputs, self.max_inputs, "input")?;
        let served = self.registry.get(model)?;
        let produced = served.model.manifest().encoder.as_ref().map(|e| e.dimensions);
        if let Some(asked) = dimensions.filter(|&asked| Some(asked) != produced) {
            let produced = produced.map_or("unknown".to_string(), |d| d.to_string());
            return Err(ServiceError::InvalidInput(format!(
                "dimensions: model `{model}` produces {produced} dimensions, not {asked}"
            )));
        }
        let (vectors, prompt_tokens) = served.embed(inputs).await?;
        Ok(Embeddings { model: model.to_string(), vectors, prompt_tokens })
    }

    pub fn models(&self) -> Vec<ModelStatus> {
        self.registry.statuses()
    }

    pub fn default_model(&self) -> &str {
        self.registry.default_model()
    }
}
