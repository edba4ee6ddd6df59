//! `POST /v1/posts:search`: the tenant's posts most like a text (or a vector), with how they did.

use axum::Json;
use axum::extract::State;
use eiq_service::index::SearchRequest;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::accounts::TimeValue;
use super::json::ApiJson;
use crate::error::{ApiError, ErrorBody};
use crate::principal::Caller;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchBody {
    /// What to find posts like (or give `vector`).
    #[schema(max_length = 65536)]
    pub text: Option<String>,
    /// A vector in the index model's space (384 numbers for `minilm-l6-v2`).
    pub vector: Option<Vec<f32>>,
    #[schema(max_length = 200)]
    pub account_id: Option<String>,
    pub platform: Option<String>,
    /// Unix seconds or RFC 3339; inclusive.
    pub since: Option<TimeValue>,
    pub until: Option<TimeValue>,
    /// How many posts (default 10).
    #[schema(minimum = 1, maximum = 100)]
    pub k: Option<usize>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SearchResponse {
    /// The embedding model of the index.
    pub model: String,
    /// Most similar first.
    pub results: Vec<SimilarPostBody>,
    /// The tenant's latest import is still being indexed: recent posts may be missing.
    pub indexing: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SimilarPostBody {
    pub post_id: String,
    pub account_id: String,
    pub platform: String,
    pub text: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    /// Likes + comments + shares.
    pub engagement: f64,
    /// Against the account's baseline before the post: 0.25 = +25 %; null for an account's first post.
    pub lift: Option<f64>,
    pub hashtags: Vec<String>,
    /// Cosine similarity.
    pub score: f32,
}

/// The tenant's posts most similar to a text, filtered by account, platform and time inside the
/// vector store.
#[utoipa::path(
    post, path = "/v1/posts:search", tag = "posts",
    params(("x-tenant-id" = Option<String>, Header)),
    request_body = SearchBody,
    responses(
        (status = 200, body = SearchResponse),
        (status = 404, description = "the account has no history", body = ErrorBody),
        (status = 422, description = "k out of range, a vector of the wrong size, a bad time, an over-long text (the message names the field)", body = ErrorBody),
        (status = 503, description = "the embedding model is loading or the vector store is unavailable", body = ErrorBody),
    )
)]
pub async fn search(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<SearchBody>,
) -> Result<Json<SearchResponse>, ApiError> {
    let request = SearchRequest {
        text: body.text,
        vector: body.vector,
        account_id: body.account_id,
        platform: body.platform,
        since: body.since.map(|t| t.seconds("since".into())).transpose()?,
        until: body.until.map(|t| t.seconds("until".into())).transpose()?,
        k: body.k,
    };
    Ok(Json(state.services.index.search(&principal, request).await?.into()))
}
