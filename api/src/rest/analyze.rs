//! `POST /v1/analyze`: every text-intelligence head, plus word-list spans, for a batch of texts.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::json::ApiJson;
use super::texts::Texts;
use crate::error::{ApiError, ErrorBody};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeRequest {
    /// One text or an array of texts.
    #[schema(value_type = Object, example = json!(["Loving the new update!", "worst service ever"]))]
    pub inputs: Texts,
    /// Tasks to run (`sentiment`, `emotion`, `offensive`, `hate`, `irony`); all when omitted.
    #[serde(default)]
    pub tasks: Option<Vec<String>>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyzeResponse {
    /// One entry per input, in order.
    pub results: Vec<AnalyzeResult>,
    /// The model behind each task: id, version, how the head was trained and its validation score.
    pub models: BTreeMap<String, ModelInfo>,
}

/// Task name → answer, plus `spans`.
#[derive(Debug, Serialize, ToSchema)]
pub struct AnalyzeResult {
    #[serde(flatten)]
    #[schema(value_type = Object)]
    pub tasks: BTreeMap<String, TaskResult>,
    pub spans: Vec<SpanBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TaskResult {
    pub label: String,
    /// Label → probability; they sum to 1.
    pub scores: BTreeMap<String, f32>,
}

/// A word-list match; `start` and `end` count Unicode code points (end exclusive).
#[derive(Debug, Serialize, ToSchema)]
pub struct SpanBody {
    /// `profanity` or `blocklist`.
    pub category: String,
    pub start: usize,
    pub end: usize,
    /// The text as written.
    pub text: String,
    /// The list entry it matched.
    pub entry: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelInfo {
    pub model: String,
    pub version: String,
    /// `f32` or `int8`: the number type of the encoder's matrix products.
    pub precision: String,
    pub labels: Vec<String>,
    /// `fine-tuned` or `frozen`, and for an int8 model how its weights were quantised.
    pub method: String,
    pub metric: String,
    /// The head's score on the task's validation split, in `metric`.
    pub validation: f64,
}

/// Sentiment, emotion, offensive language, hate speech and irony, one encoder pass per text.
#[utoipa::path(
    post, path = "/v1/analyze", tag = "text intelligence",
    request_body = AnalyzeRequest,
    responses(
        (status = 200, body = AnalyzeResponse),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 413, description = "body over the limit", body = ErrorBody),
        (status = 422, description = "empty input, unknown task, wrong type", body = ErrorBody),
        (status = 429, description = "queue full; see Retry-After", body = ErrorBody),
        (status = 503, description = "model loading or failed", body = ErrorBody),
    )
)]
pub async fn analyze(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<AnalyzeRequest>,
) -> Result<Json<AnalyzeResponse>, ApiError> {
    let analysis = state.services.analysis.analyze(request.inputs.0, request.tasks).await?;
    Ok(Json(analysis.into()))
}
