//! `GET /openapi.json`: the document made from the route list in `mod.rs` (no UI, nothing
//! fetched from a CDN). [`ApiDoc`] holds what is not a route: the title and shared schemas.

use axum::Json;
use axum::extract::State;
use utoipa::OpenApi;

use super::AppState;
use super::publishing::{__path_approve, __path_cancel, __path_reject, __path_reschedule, __path_retry, __path_submit};
use crate::error::{ErrorBody, ErrorDetail};

#[derive(OpenApi)]
#[openapi(
    info(title = "ElevatedIQ Content Intelligence", description = "Local, private AI over social posts."),
    // The post transitions: one route in the router (`publishing::act`), a path each here.
    paths(submit, approve, reject, cancel, reschedule, retry),
    components(schemas(ErrorBody, ErrorDetail))
)]
pub struct ApiDoc;

pub async fn document(State(state): State<AppState>) -> Json<utoipa::openapi::OpenApi> {
    Json(utoipa::openapi::OpenApi::clone(&state.openapi))
}

#[cfg(test)]
mod tests {
    use eiq_service::limits::{
        MAX_ACCOUNT_ID_BYTES, MAX_BLACKOUTS, MAX_CANDIDATES, MAX_MEDIA_DURATION_S, MAX_MEDIA_ITEMS,
        MAX_MEDIA_PIXELS_SIDE, MAX_PLATFORMS, MAX_POST_BYTES, MAX_RULE_VALUE, MAX_SEARCH_K, MAX_SUGGESTED_HASHTAGS,
        MAX_TEXT_BYTES, MAX_TITLE_BYTES, MAX_TONE_BYTES, MAX_TOP_K, MAX_VARIANTS,
    };

    /// utoipa takes only literals: this keeps the documented maxima equal to the enforced ones.
    #[test]
    fn documented_maxima_are_the_enforced_limits() {
        let document = serde_json::to_value(super::super::openapi()).unwrap();
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
        let check = &schemas["CheckBody"]["properties"];
        assert_eq!(check["text"]["maxLength"], MAX_POST_BYTES);
        assert_eq!(check["title"]["maxLength"], MAX_TITLE_BYTES);
        assert_eq!(check["media"]["maxItems"], MAX_MEDIA_ITEMS);
        let media = &schemas["MediaBody"]["properties"];
        assert_eq!(media["width"]["maximum"], f64::from(MAX_MEDIA_PIXELS_SIDE), "{media}");
        assert_eq!(media["duration_s"]["maximum"], MAX_MEDIA_DURATION_S, "{media}");
        let captions = &schemas["CaptionsBody"]["properties"];
        assert_eq!(captions["text"]["maxLength"], MAX_TEXT_BYTES);
        assert_eq!(captions["platforms"]["maxItems"], MAX_PLATFORMS);
        assert_eq!(captions["tone"]["maxLength"], MAX_TONE_BYTES);
        assert_eq!(captions["variants"]["maximum"], MAX_VARIANTS as f64, "{captions}");
        let change = &schemas["OverrideBody"]["properties"];
        assert_eq!(change["limit"]["maximum"], MAX_RULE_VALUE as f64, "{change}");
        let search = &schemas["SearchBody"]["properties"];
        assert_eq!(search["k"]["maximum"], MAX_SEARCH_K as f64, "{search}");
        assert_eq!(search["text"]["maxLength"], MAX_TEXT_BYTES);
        assert_eq!(search["account_id"]["maxLength"], MAX_ACCOUNT_ID_BYTES);
        let suggest = &schemas["SuggestBody"]["properties"];
        assert_eq!(suggest["k"]["maximum"], MAX_SUGGESTED_HASHTAGS as f64, "{suggest}");
        assert_eq!(suggest["text"]["maxLength"], MAX_TEXT_BYTES);
        assert_eq!(schemas["GateBody"]["properties"]["account_id"]["maxLength"], MAX_ACCOUNT_ID_BYTES);
    }
}
