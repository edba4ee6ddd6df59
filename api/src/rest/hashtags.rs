//! `POST /v1/hashtags:suggest`: hashtags for a draft from the tenant's own history, the draft's
//! keyphrases and public tweets, with the evidence behind each.

use axum::Json;
use axum::extract::State;
use eiq_service::hashtags::SuggestRequest;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::json::ApiJson;
use crate::error::{ApiError, ErrorBody};
use crate::principal::Caller;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SuggestBody {
    /// The draft.
    #[schema(max_length = 65536)]
    pub text: String,
    /// Caps the count (instagram 5, threads 1, bluesky 8, linkedin 5, x 2, ...).
    pub platform: Option<String>,
    /// Whose history to draw on; without it, the tenant's.
    #[schema(max_length = 200)]
    pub account_id: Option<String>,
    /// How many tags (default: the platform's default, or 5).
    #[schema(minimum = 1, maximum = 30)]
    pub k: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SuggestResponse {
    pub hashtags: Vec<HashtagBody>,
    /// The most the platform takes; null without a platform.
    pub limit: Option<usize>,
    /// Whose history backed the suggestions: `account`, `tenant` or `none` (text and corpus only).
    pub history: String,
    /// What to know about this answer (no history, indexing under way).
    pub notes: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HashtagBody {
    /// With `#`, in readable CamelCase or as the history writes it.
    pub tag: String,
    /// 0–1.
    pub score: f32,
    /// `history`, `text`, `corpus`.
    pub sources: Vec<String>,
    /// History posts that carry the tag.
    pub posts: usize,
    /// The tag's engagement lift for the account, shrunk by post count (0.25 = +25 %); null without history.
    pub lift: Option<f64>,
}

/// Hashtags for a draft, best first.
#[utoipa::path(
    post, path = "/v1/hashtags:suggest", tag = "hashtags",
    params(("x-tenant-id" = Option<String>, Header)),
    request_body = SuggestBody,
    responses(
        (status = 200, body = SuggestResponse),
        (status = 404, description = "the account has no history", body = ErrorBody),
        (status = 422, description = "empty or over-long text, k out of 1–30, unknown platform (the message names the field)", body = ErrorBody),
        (status = 503, description = "the embedding model is loading", body = ErrorBody),
    )
)]
pub async fn suggest(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<SuggestBody>,
) -> Result<Json<SuggestResponse>, ApiError> {
    let request = SuggestRequest { text: body.text, platform: body.platform, account_id: body.account_id, k: body.k };
    Ok(Json(state.services.hashtags.suggest(&principal, request).await?.into()))
}
