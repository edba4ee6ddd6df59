//! REST: thin axum handlers, one file per resource, all calling the service layer.

mod accounts;
mod analyze;
mod body_limit;
mod embeddings;
mod gate;
mod health;
mod history;
mod json;
mod models;
mod moderations;
mod openapi;
mod perspective;
mod tenant;
mod texts;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{get, post};
use metrics_exporter_prometheus::PrometheusHandle;

pub use openapi::ApiDoc;

use crate::service::{AnalysisService, EmbeddingService, ForecastService, GateService, HistoryService};

#[derive(Clone)]
pub struct AppState {
    pub embeddings: EmbeddingService,
    pub analysis: AnalysisService,
    pub gate: GateService,
    pub history: HistoryService,
    pub forecast: ForecastService,
    pub metrics: PrometheusHandle,
}

pub fn router(state: AppState, max_body_bytes: usize) -> Router {
    // History uploads have their own, larger limit (--max-import-bytes), enforced as they stream.
    let max_import_bytes = state.history.max_import_bytes();
    let imports = Router::new()
        .route("/v1/history:import", post(history::import))
        .layer(axum::middleware::from_fn_with_state(max_import_bytes, body_limit::refuse_oversized));
    let requests = Router::new()
        .route("/v1/embeddings", post(embeddings::create))
        .route("/v1/models", get(models::list))
        .route("/v1/analyze", post(analyze::analyze))
        .route("/v1/moderations", post(moderations::create))
        .route("/v1alpha1/comments:analyze", post(perspective::analyze))
        .route("/v1/moderation/gate", post(gate::check))
        .route("/v1/accounts/{account_id}/forecast", post(accounts::forecast))
        .route("/v1/accounts/{account_id}/best-times", get(accounts::best_times_query).post(accounts::best_times))
        .route("/health", get(health::alive))
        .route("/ready", get(health::ready))
        .route("/metrics", get(health::metrics))
        .route("/openapi.json", get(openapi::document))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(max_body_bytes, body_limit::refuse_oversized));
    requests.merge(imports).with_state(state)
}
