//! An account's engagement: `POST /v1/accounts/{account_id}/forecast` (a draft at candidate
//! times) and `GET|POST /v1/accounts/{account_id}/best-times`.

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use eiq_service::ServiceError;
use eiq_service::engagement::{BestTimesQuery, BlackoutWindow, DraftRequest, parse_media};
use eiq_service::tenancy::Principal;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use super::json::ApiJson;
use crate::error::{ApiError, ErrorBody};
use crate::principal::Caller;

/// Unix seconds or an RFC 3339 string.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum TimeValue {
    Seconds(i64),
    Text(String),
}

impl TimeValue {
    /// Unix seconds, checked like the history's own times; `field` names it in the error.
    pub(super) fn seconds(&self, field: String) -> Result<i64, ServiceError> {
        let parsed = match self {
            TimeValue::Seconds(s) => eiq_datasets::parse_time(&s.to_string()),
            TimeValue::Text(t) => eiq_datasets::parse_time(t.trim()),
        };
        parsed.map_err(|message| ServiceError::invalid(field, message))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ForecastBody {
    #[schema(max_length = 65536)]
    pub text: String,
    /// Default: the account's platform.
    pub platform: Option<String>,
    /// none, photo, video, gif.
    #[serde(default)]
    pub media: Option<String>,
    /// When it might be posted (2000–2100); default: every hour of the coming week.
    #[serde(default)]
    #[schema(max_items = 1000)]
    pub candidate_times: Vec<TimeValue>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastResponse {
    pub account_id: String,
    pub platform: String,
    pub timezone: Option<String>,
    /// The candidate with the highest expected engagement.
    pub best: TimedForecastBody,
    pub forecasts: Vec<TimedForecastBody>,
    pub model: ForecastModelBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TimedForecastBody {
    /// RFC 3339, UTC.
    pub at: String,
    /// `Tue 09:00` in the account's timezone.
    pub local_time: String,
    /// Expected likes + comments + shares.
    pub engagement: f64,
    /// 80 % interval.
    pub low: f64,
    pub high: f64,
    /// Against the account's average post: 0.25 = +25 %.
    pub lift: f64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ForecastModelBody {
    /// `trees` or `ridge`.
    pub served: String,
    pub trained_posts: usize,
    /// On each account's latest 20 % of posts, held out from training.
    pub held_out_spearman: f64,
    pub held_out_mae: f64,
    pub account_median_mae: f64,
}

#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/forecast",
    params(("account_id" = String, Path), ("x-tenant-id" = Option<String>, Header)),
    request_body = ForecastBody,
    responses(
        (status = 200, body = ForecastResponse),
        (status = 404, body = ErrorBody, description = "no history for the account"),
        (status = 409, body = ErrorBody, description = "too little history to train a forecaster"),
        (status = 422, body = ErrorBody),
    )
)]
pub async fn forecast(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(account_id): Path<String>,
    ApiJson(body): ApiJson<ForecastBody>,
) -> Result<Json<ForecastResponse>, ApiError> {
    let candidate_times = (body.candidate_times.iter().enumerate())
        .map(|(index, time)| time.seconds(format!("candidate_times[{index}]")))
        .collect::<Result<_, _>>()?;
    let request = DraftRequest {
        account_id,
        text: body.text,
        platform: body.platform,
        media: parse_media(body.media.as_deref().unwrap_or(""))?,
        candidate_times,
        now: eiq_datasets::now(),
    };
    Ok(Json(state.services.forecast.forecast(&principal, request).await?.into()))
}

#[derive(Debug, Default, Deserialize, ToSchema, IntoParams)]
#[serde(deny_unknown_fields)]
pub struct BestTimesBody {
    pub platform: Option<String>,
    /// How many slots to return (default 5).
    #[schema(minimum = 1, maximum = 672)]
    #[param(minimum = 1, maximum = 672)]
    pub top_k: Option<usize>,
    /// Least time between two returned slots, in hours (default 3).
    #[schema(minimum = 0, maximum = 84)]
    #[param(minimum = 0, maximum = 84)]
    pub min_spacing_hours: Option<f64>,
    /// 15, 30 or 60; default: the finest the account's history supports.
    pub resolution_minutes: Option<u32>,
    /// Return every slot of the week too.
    #[serde(default)]
    pub include_grid: bool,
    /// Local-time windows to avoid (POST only).
    #[serde(default)]
    #[param(ignore)]
    #[schema(max_items = 64)]
    pub blackouts: Vec<BlackoutBody>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BlackoutBody {
    /// mon … sun; absent is every day.
    pub day: Option<String>,
    /// `HH:MM`, local.
    pub start: String,
    /// `HH:MM`, local; before `start` means past midnight.
    pub end: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct BestTimesResponse {
    pub account_id: String,
    pub platform: String,
    pub timezone: Option<String>,
    pub resolution_minutes: u32,
    pub account_posts: usize,
    pub top: Vec<SlotBody>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grid: Option<Vec<SlotBody>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SlotBody {
    /// `Tue 09:00`, local.
    pub start: String,
    /// Minutes since local Monday 00:00.
    pub start_minute: u32,
    /// The next time the slot comes round, RFC 3339 UTC (DST-aware).
    pub next_at: String,
    pub expected_engagement: f64,
    /// Against the account's average slot, with a 90 % band.
    pub lift: f64,
    pub lift_low: f64,
    pub lift_high: f64,
    /// The account's own posts in this slot.
    pub posts: usize,
    /// 0 = all prior (platform and tenant patterns), 1 = all the account's own history.
    pub history_weight: f64,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub blacked_out: bool,
}

#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/best-times",
    params(("account_id" = String, Path), ("x-tenant-id" = Option<String>, Header)),
    request_body = BestTimesBody,
    responses((status = 200, body = BestTimesResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn best_times(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(account_id): Path<String>,
    ApiJson(body): ApiJson<BestTimesBody>,
) -> Result<Json<BestTimesResponse>, ApiError> {
    answer(&state, &principal, &account_id, body).await
}

/// The same question with its options in the query string (no blackouts).
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}/best-times",
    params(("account_id" = String, Path), ("x-tenant-id" = Option<String>, Header), BestTimesBody),
    responses((status = 200, body = BestTimesResponse), (status = 404, body = ErrorBody), (status = 422, body = ErrorBody))
)]
pub async fn best_times_query(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(account_id): Path<String>,
    query: Result<Query<BestTimesBody>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<BestTimesResponse>, ApiError> {
    let Query(body) =
        query.map_err(|e| ApiError::Rejected { status: StatusCode::UNPROCESSABLE_ENTITY, message: e.body_text() })?;
    answer(&state, &principal, &account_id, body).await
}

async fn answer(
    state: &AppState,
    principal: &Principal,
    account_id: &str,
    body: BestTimesBody,
) -> Result<Json<BestTimesResponse>, ApiError> {
    let query = BestTimesQuery {
        platform: body.platform,
        top_k: body.top_k,
        min_spacing_hours: body.min_spacing_hours,
        resolution_minutes: body.resolution_minutes,
        blackouts: body
            .blackouts
            .into_iter()
            .map(|b| BlackoutWindow { day: b.day, start: b.start, end: b.end })
            .collect(),
    };
    let best = state.services.forecast.best_times(principal, account_id, query).await?;
    Ok(Json(super::convert::best_times_response(best, body.include_grid)))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBody {
    pub account_id: String,
    /// Posts in the history.
    pub posts: usize,
    /// Posts in the vector index (equal to `posts` once indexing has caught up).
    pub indexed_posts: u64,
    /// RFC 3339, UTC.
    pub first_post_at: String,
    pub last_post_at: String,
    pub platforms: Vec<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AccountsResponse {
    pub accounts: Vec<AccountBody>,
}

/// The tenant's accounts: posts, indexed posts, first and last post, platforms.
#[utoipa::path(
    get, path = "/v1/accounts", tag = "accounts",
    params(("x-tenant-id" = Option<String>, Header)),
    responses((status = 200, body = AccountsResponse), (status = 404, body = ErrorBody, description = "the tenant has no history"))
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
) -> Result<Json<AccountsResponse>, ApiError> {
    let accounts = state.services.index.accounts(&principal).await?;
    Ok(Json(AccountsResponse { accounts: accounts.into_iter().map(AccountBody::from).collect() }))
}

/// One account of the tenant.
#[utoipa::path(
    get, path = "/v1/accounts/{account_id}", tag = "accounts",
    params(("account_id" = String, Path), ("x-tenant-id" = Option<String>, Header)),
    responses((status = 200, body = AccountBody), (status = 404, body = ErrorBody, description = "no history for the account"))
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(account_id): Path<String>,
) -> Result<Json<AccountBody>, ApiError> {
    Ok(Json(state.services.index.account(&principal, &account_id).await?.into()))
}
