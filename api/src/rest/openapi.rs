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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::service::limits::{MAX_BLACKOUTS, MAX_CANDIDATES, MAX_TEXT_BYTES, MAX_TOP_K};

    /// utoipa takes only literals: this keeps the documented maxima equal to the enforced ones.
    #[test]
    fn documented_maxima_are_the_enforced_limits() {
        let document = serde_json::to_value(ApiDoc::openapi()).unwrap();
        let schemas = &document["components"]["schemas"];
        let best = &schemas["BestTimesBody"]["properties"];
        assert_eq!(best["top_k"]["maximum"], MAX_TOP_K as f64, "{best}");
        assert_eq!(best["blackouts"]["maxItems"], MAX_BLACKOUTS);
        let forecast = &schemas["ForecastBody"]["properties"];
        assert_eq!(forecast["text"]["maxLength"], MAX_TEXT_BYTES);
        assert_eq!(forecast["candidate_times"]["maxItems"], MAX_CANDIDATES);
        let query = document["paths"]["/v1/accounts/{account_id}/best-times"]["get"]["parameters"]
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["name"] == "top_k")
            .cloned()
            .unwrap();
        assert_eq!(query["schema"]["maximum"], MAX_TOP_K as f64, "{query}");
    }
}
