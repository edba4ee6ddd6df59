//! `GET /v1/audit`: the caller's tenant's audit log, filtered and paged, as JSON or JSON Lines.

use axum::Json;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eiq_service::ServiceError;
use eiq_service::audit::{AuditQuery, AuditRecord};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::AppState;
use crate::error::{ApiError, ErrorBody};
use crate::principal::Caller;

/// The header carrying the next page's `after` on a JSON Lines export.
const NEXT_AFTER_HEADER: &str = "x-next-after";

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// From this time, inclusive: Unix seconds or RFC 3339.
    pub since: Option<String>,
    /// Up to this time, inclusive.
    pub until: Option<String>,
    /// Only this event (`keys.create`, `auth.failed`, …).
    pub event: Option<String>,
    /// Only this actor (a key prefix, an SSO subject).
    pub actor: Option<String>,
    /// Events after this sequence number: the previous page's `next_after`.
    pub after: Option<i64>,
    /// 1–1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
    /// `json` (default) or `jsonl`: one event per line, the next page's `after` in `x-next-after`.
    pub format: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventBody {
    /// 1, 2, 3, … in the tenant's chain.
    pub seq: i64,
    /// RFC 3339, UTC, to the millisecond.
    pub at: String,
    pub actor: String,
    pub auth_method: String,
    /// The caller's role (permission level).
    pub role: String,
    pub event: String,
    pub resource: String,
    pub action: String,
    pub outcome: String,
    pub source_ip: String,
    pub user_agent: String,
    pub details: serde_json::Value,
    pub prev_hash: String,
    pub hash: String,
}

impl From<AuditRecord> for AuditEventBody {
    fn from(r: AuditRecord) -> Self {
        Self {
            seq: r.seq,
            at: eiq_datasets::format_time_ms(r.at_ms),
            actor: r.actor,
            auth_method: r.auth_method,
            role: r.role,
            event: r.event,
            resource: r.resource,
            action: r.action,
            outcome: r.outcome,
            source_ip: r.source_ip,
            user_agent: r.user_agent,
            details: serde_json::from_str(&r.details).unwrap_or(serde_json::Value::String(r.details)),
            prev_hash: r.prev_hash,
            hash: r.hash,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AuditPageBody {
    /// Oldest first.
    pub events: Vec<AuditEventBody>,
    /// Set when more events match: pass it as `after`.
    pub next_after: Option<i64>,
}

#[utoipa::path(
    get, path = "/v1/audit", tag = "audit",
    params(AuditParams),
    responses(
        (status = 200, body = AuditPageBody),
        (status = 422, description = "a bad time, limit or format", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal): Caller,
    params: Result<Query<AuditParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let Query(params) =
        params.map_err(|e| ApiError::Rejected { status: StatusCode::UNPROCESSABLE_ENTITY, message: e.body_text() })?;
    let seconds = |field: &str, value: Option<String>| -> Result<Option<i64>, ServiceError> {
        value
            .map(|text| eiq_datasets::parse_time(text.trim()))
            .transpose()
            .map_err(|message| ServiceError::invalid(field, message))
    };
    let jsonl = match params.format.as_deref() {
        None | Some("json") => false,
        Some("jsonl") => true,
        Some(_) => return Err(ServiceError::invalid("format", "format must be `json` or `jsonl`").into()),
    };
    let query = AuditQuery {
        since: seconds("since", params.since)?,
        until: seconds("until", params.until)?,
        event: params.event,
        actor: params.actor,
        after_seq: params.after,
        limit: params.limit,
    };
    let page = state.audit.list(&principal.tenant, &query).await?;
    let events = page.records.into_iter().map(AuditEventBody::from);
    if !jsonl {
        return Ok(Json(AuditPageBody { events: events.collect(), next_after: page.next_after }).into_response());
    }
    let mut lines = String::new();
    for event in events {
        lines.push_str(&serde_json::to_string(&event).map_err(|e| ServiceError::internal("audit export", e))?);
        lines.push('\n');
    }
    let mut response = Response::new(Body::from(lines));
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    if let Some(after) = page.next_after {
        response.headers_mut().insert(NEXT_AFTER_HEADER, HeaderValue::from(after));
    }
    Ok(response)
}
