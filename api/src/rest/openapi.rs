//! `GET /openapi.json`, generated from the handlers' annotations (no UI, nothing fetched from a CDN).

use axum::Json;
use utoipa::OpenApi;

use super::{accounts, analyze, embeddings, gate, health, history, models, moderations, perspective};
use crate::error::{ErrorBody, ErrorDetail};

#[derive(OpenApi)]
#[openapi(
    info(title = "ElevatedIQ Content Intelligence", description = "Local, private AI over social posts."),
    paths(
        embeddings::create,
        models::list,
        analyze::analyze,
        moderations::create,
        perspective::analyze,
        gate::check,
        history::import,
        accounts::forecast,
        accounts::best_times,
        accounts::best_times_query,
        health::alive,
        health::ready,
        health::metrics
    ),
    components(schemas(ErrorBody, ErrorDetail))
)]
pub struct ApiDoc;

pub async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
