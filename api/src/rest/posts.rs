//! `POST /v1/posts:check` (a post against its platform's rules), `GET /v1/platforms` and
//! `PUT /v1/platforms/{platform}` (the rules in effect for the tenant, and its overrides).

use axum::Json;
use axum::extract::{Path, State};
use eiq_service::posts::{MediaDescription, PostCheckRequest, RuleOverride};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::json::ApiJson;
use crate::error::{ApiError, ErrorBody};
use crate::principal::Caller;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// The post's text (at most 262,144 bytes).
    #[schema(max_length = 262144)]
    pub text: String,
    /// x (or twitter), bluesky, mastodon, threads, instagram, linkedin, facebook, tiktok, pinterest, youtube.
    pub platform: String,
    /// A TikTok photo post's, a Pin's or a YouTube video's title.
    #[serde(default)]
    #[schema(max_length = 4096)]
    pub title: Option<String>,
    #[serde(default)]
    #[schema(max_items = 64)]
    pub media: Vec<MediaBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MediaBody {
    /// photo, video or gif.
    #[serde(rename = "type")]
    pub kind: String,
    #[schema(minimum = 1, maximum = 100000)]
    pub width: Option<u32>,
    #[schema(minimum = 1, maximum = 100000)]
    pub height: Option<u32>,
    #[schema(minimum = 0, maximum = 604800)]
    pub duration_s: Option<f64>,
    pub bytes: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResponse {
    pub platform: String,
    pub length: LengthBody,
    /// The title's length, when a title was sent.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<LengthBody>,
    /// No rule is broken.
    pub valid: bool,
    pub violations: Vec<ViolationBody>,
    /// twitter-text's extraction, without `#`, `@`.
    pub hashtags: Vec<String>,
    pub mentions: Vec<String>,
    pub urls: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LengthBody {
    /// `weighted` (X), `graphemes` (Bluesky, Mastodon) or `characters`.
    pub unit: String,
    pub used: usize,
    pub limit: usize,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ViolationBody {
    /// `length`, `bytes`, `title_length`, `hashtags`, `hashtags_ignored`, `mentions`, `urls`,
    /// `invalid_characters`, `empty`, `media_required`, `media_count`, `media_type`,
    /// `media_mixed`, `media_aspect_ratio`, `media_duration`, `media_bytes`.
    pub rule: String,
    pub message: String,
    pub limit: Option<f64>,
    pub actual: Option<f64>,
}

/// Whether a post fits its platform: the length in the platform's own unit (X's weighted length
/// with URLs as 23, Bluesky's graphemes and bytes, Mastodon's characters with links as 23),
/// hashtag, mention and link caps, titles, and media (count, kinds, mixing, aspect ratio,
/// duration, size). A post over a limit is `valid: false` with the rule it breaks, not an error.
#[utoipa::path(
    post, path = "/v1/posts:check", tag = "posts",
    request_body = CheckBody,
    responses(
        (status = 200, body = CheckResponse),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 422, description = "unknown platform (the message lists the known ones), unknown media type, a number out of range, a text over 262,144 bytes", body = ErrorBody),
    )
)]
pub async fn check(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<CheckBody>,
) -> Result<Json<CheckResponse>, ApiError> {
    let media = body
        .media
        .into_iter()
        .map(|item| MediaDescription {
            kind: item.kind,
            width: item.width,
            height: item.height,
            duration_s: item.duration_s,
            bytes: item.bytes,
        })
        .collect();
    let request = PostCheckRequest { text: body.text, platform: body.platform, title: body.title, media };
    Ok(Json(state.services.posts.check(&principal, request).await?.into()))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlatformList {
    pub platforms: Vec<PlatformBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct PlatformBody {
    pub id: String,
    pub name: String,
    /// `weighted`, `graphemes` or `characters`.
    pub unit: String,
    pub limit: usize,
    pub url_length: Option<usize>,
    pub max_bytes: Option<usize>,
    pub title_limit: Option<usize>,
    pub max_hashtags: Option<usize>,
    pub max_mentions: Option<usize>,
    pub max_urls: Option<usize>,
    /// Past this many hashtags the platform ignores them all.
    pub hashtags_ignored_over: Option<usize>,
    pub media: MediaRulesBody,
    /// Where the rule is documented, and when it took effect or was documented there.
    pub source: String,
    pub as_of: String,
    /// The fields the tenant's override sets.
    pub overridden: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MediaRulesBody {
    pub min_items: usize,
    pub max_items: usize,
    /// Whether photos, videos and GIFs may share a post.
    pub mixed: bool,
    /// The kinds accepted, with their limits.
    pub kinds: Vec<MediaKindBody>,
    pub source: String,
    pub as_of: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MediaKindBody {
    #[serde(rename = "type")]
    pub kind: String,
    pub max_items: usize,
    pub max_bytes: Option<u64>,
    pub min_duration_s: Option<f64>,
    pub max_duration_s: Option<f64>,
    /// Width over height.
    pub min_aspect_ratio: Option<f64>,
    pub max_aspect_ratio: Option<f64>,
}

/// Every platform's rules as the caller's tenant sees them (the table's, with its overrides).
#[utoipa::path(get, path = "/v1/platforms", tag = "posts", responses((status = 200, body = PlatformList)))]
pub async fn list_platforms(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<PlatformList>, ApiError> {
    let platforms = state.services.posts.platforms(&principal).await?;
    Ok(Json(PlatformList { platforms: platforms.into_iter().map(PlatformBody::from).collect() }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OverrideBody {
    #[serde(default)]
    #[schema(minimum = 1, maximum = 1000000)]
    pub limit: Option<usize>,
    #[serde(default)]
    #[schema(maximum = 1000000)]
    pub url_length: Option<usize>,
    #[serde(default)]
    #[schema(maximum = 1000000)]
    pub max_bytes: Option<usize>,
    #[serde(default)]
    #[schema(maximum = 1000000)]
    pub title_limit: Option<usize>,
    #[serde(default)]
    #[schema(maximum = 1000000)]
    pub max_hashtags: Option<usize>,
    #[serde(default)]
    #[schema(maximum = 1000000)]
    pub max_mentions: Option<usize>,
    #[serde(default)]
    #[schema(maximum = 1000000)]
    pub max_urls: Option<usize>,
    #[serde(default)]
    #[schema(maximum = 1000000)]
    pub max_media_items: Option<usize>,
}

/// Replaces the tenant's override of one platform's numbers (a Mastodon instance's 5,000
/// characters, a new hashtag cap); `{}` restores the table's rules.
#[utoipa::path(
    put, path = "/v1/platforms/{platform}", tag = "posts",
    params(("platform" = String, Path, description = "x, bluesky, mastodon, …")),
    request_body = OverrideBody,
    responses(
        (status = 200, body = PlatformBody),
        (status = 422, description = "unknown platform or field, a number out of range", body = ErrorBody),
    )
)]
pub async fn set_platform(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(platform): Path<String>,
    ApiJson(body): ApiJson<OverrideBody>,
) -> Result<Json<PlatformBody>, ApiError> {
    let change = RuleOverride {
        limit: body.limit,
        url_length: body.url_length,
        max_bytes: body.max_bytes,
        title_limit: body.title_limit,
        max_hashtags: body.max_hashtags,
        max_mentions: body.max_mentions,
        max_urls: body.max_urls,
        max_media_items: body.max_media_items,
    };
    Ok(Json(state.services.posts.set_override(&principal, &platform, change).await?.into()))
}
