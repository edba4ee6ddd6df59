//! `POST /v1/moderation/gate`: the decision a post gets before publishing, and why.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use eiq_service::ServiceError;
use eiq_service::text::{GateRequest, Policy, PolicyChoice};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::analyze::SpanBody;
use super::json::ApiJson;
use crate::error::{ApiError, ErrorBody};
use crate::principal::Caller;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GateBody {
    /// The post as it will be published.
    pub text: String,
    /// Where it will be published (`x`, `instagram`, ...); echoed in the answer.
    #[serde(default)]
    pub platform: Option<String>,
    /// The account that will publish it: the `duplicate` category compares the post with that
    /// account's posts of the policy's window (default 30 days). Omitted: no duplicate check.
    #[serde(default)]
    #[schema(max_length = 200)]
    pub account_id: Option<String>,
    /// A configured policy's name, or a policy inline; `default` when omitted.
    #[serde(default)]
    #[schema(value_type = Object, example = json!({"thresholds": {"offensive": {"review": 0.4, "block": 0.8}}, "blocklist": ["competitorco"]}))]
    pub policy: Option<serde_json::Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GateResponse {
    /// `allow`, `review` or `block`.
    pub decision: String,
    /// The policy's name, or `inline`.
    pub policy: String,
    pub platform: Option<String>,
    /// Most severe first; empty when allowed.
    pub reasons: Vec<ReasonBody>,
    pub spans: Vec<SpanBody>,
    /// Every category's score, whether or not the policy sets a threshold for it.
    pub scores: BTreeMap<String, f32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ReasonBody {
    pub category: String,
    pub score: f32,
    /// `review` or `block`.
    pub threshold_crossed: String,
    /// The threshold's value; absent for blocklist hits and failures.
    pub threshold: Option<f32>,
    /// The model or word list behind the score.
    pub model: String,
    pub model_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// Checks a post against a moderation policy. Fails closed: a model error or timeout gives
/// `review`, never `allow`.
#[utoipa::path(
    post, path = "/v1/moderation/gate", tag = "moderation",
    request_body = GateBody,
    responses(
        (status = 200, body = GateResponse),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 422, description = "empty post, malformed policy (the message names the field), unknown policy name", body = ErrorBody),
    )
)]
pub async fn check(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<GateBody>,
) -> Result<Json<GateResponse>, ApiError> {
    let policy = match body.policy {
        None => PolicyChoice::default(),
        Some(serde_json::Value::String(name)) => PolicyChoice::Named(name),
        Some(value @ serde_json::Value::Object(_)) => PolicyChoice::Inline(parse_policy(value)?),
        Some(_) => {
            return Err(ServiceError::invalid("policy", "policy: expected a policy name or a policy object").into());
        }
    };
    let request = GateRequest { text: body.text, platform: body.platform, account_id: body.account_id, policy };
    let verdict = state.services.gate.check(&principal, request).await?;
    Ok(Json(verdict.into()))
}

/// An inline policy, with the path of a bad field in the error (`policy.thresholds.hate.review`).
fn parse_policy(value: serde_json::Value) -> Result<Policy, ServiceError> {
    serde_path_to_error::deserialize(value).map_err(|err| {
        let path = err.path().to_string();
        let field = if path == "." { "policy".to_string() } else { format!("policy.{path}") };
        let message = format!("{field}: {}", err.into_inner());
        ServiceError::invalid(field, message)
    })
}
