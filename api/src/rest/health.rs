//! Liveness, readiness and Prometheus metrics.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use eiq_inference::ModelState;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, or for readiness `ready` / `loading` / `failed`.
    pub status: String,
    /// Per model: `loading`, `ready` or `failed: <reason>`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub models: Vec<ModelHealth>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelHealth {
    pub id: String,
    pub state: String,
}

/// The process is up and answering.
#[utoipa::path(get, path = "/health", tag = "health", responses((status = 200, body = Health)))]
pub async fn alive() -> Json<Health> {
    Json(Health { status: "ok".into(), models: Vec::new() })
}

/// Every configured model is loaded; 503 until then (or when one failed).
#[utoipa::path(get, path = "/ready", tag = "health", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn ready(State(state): State<AppState>) -> impl IntoResponse {
    let statuses = state.services.embeddings.models();
    let models: Vec<ModelHealth> =
        statuses.iter().map(|s| ModelHealth { id: s.id.clone(), state: s.state.to_string() }).collect();
    let (status, label) = if statuses.iter().all(|s| s.state == ModelState::Ready) {
        (StatusCode::OK, "ready")
    } else if statuses.iter().any(|s| matches!(s.state, ModelState::Failed(_))) {
        (StatusCode::SERVICE_UNAVAILABLE, "failed")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "loading")
    };
    (status, Json(Health { status: label.into(), models }))
}

/// Prometheus text format: HTTP and gRPC requests and latency, queue size, batch sizes and tokens, per model.
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> impl IntoResponse {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], state.metrics.render())
}
