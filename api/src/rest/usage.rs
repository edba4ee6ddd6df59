//! `GET /v1/usage`: the caller's tenant's usage this month (or another) against its plan.

use axum::Json;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use eiq_service::usage::{Metric, UsageReport};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::principal::Caller;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct UsageParams {
    /// `YYYY-MM` (UTC) [default: this month].
    pub period: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBody {
    pub period: String,
    /// Null in development mode, which no plan limits.
    pub plan: Option<String>,
    pub api_calls: u64,
    pub ai_generated_posts: u64,
    pub published_posts: u64,
    pub limits: Option<PlanLimitsBody>,
}

/// A plan's limits; null is unlimited.
#[derive(Debug, Serialize, ToSchema)]
pub struct PlanLimitsBody {
    pub users: Option<u64>,
    pub accounts: Option<u64>,
    pub posts_per_month: Option<u64>,
    pub ai_features: bool,
    pub sso: bool,
    pub retention_months: Option<u32>,
}

impl From<UsageReport> for UsageBody {
    fn from(report: UsageReport) -> Self {
        Self {
            api_calls: report.usage.count(Metric::ApiCalls),
            ai_generated_posts: report.usage.count(Metric::AiGeneratedPosts),
            published_posts: report.usage.count(Metric::PublishedPosts),
            period: report.usage.period,
            plan: report.plan.map(|p| p.as_str().to_string()),
            limits: report.limits.map(|l| PlanLimitsBody {
                users: l.users,
                accounts: l.accounts,
                posts_per_month: l.posts_per_month,
                ai_features: l.ai_features,
                sso: l.sso,
                retention_months: l.retention_months,
            }),
        }
    }
}

#[utoipa::path(
    get, path = "/v1/usage", tag = "usage",
    params(UsageParams),
    responses((status = 200, body = UsageBody), (status = 422, description = "a period that is not YYYY-MM", body = ErrorBody))
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal): Caller,
    params: Result<Query<UsageParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<UsageBody>, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::Rejected { status: StatusCode::UNPROCESSABLE_ENTITY, message: e.body_text() })?;
    let now = eiq_datasets::now_ms();
    let report = state.usage.report(&principal, state.tenants.plans(), params.period.as_deref(), now).await?;
    Ok(Json(report.into()))
}
