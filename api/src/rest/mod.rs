//! REST: thin axum handlers, one file per resource, all calling the service layer.

mod body_limit;
mod embeddings;
mod health;
mod json;
mod models;
mod openapi;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;

pub use openapi::ApiDoc;

use crate::service::EmbeddingService;

#[derive(Clone)]
pub struct AppState {
    pub embeddings: EmbeddingService,
    pub metrics: PrometheusHandle,
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    Router::new()
        .route("/v1/embeddings", post(embeddings::create))
        .route("/v1/models", get(models::list))
        .route("/health", get(health::alive))
        .route("/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::document))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(max_body_bytes, body_limit::refuse_oversized))
        .with_state(state)
}
