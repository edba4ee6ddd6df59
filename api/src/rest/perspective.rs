//! `POST /v1alpha1/comments:analyze` in the Perspective API's schema, for teams moving off it
//! (Google shuts it down on 2026-12-31): point the client at this server and keep the code.
//!
//! Backed attributes: `TOXICITY` ← the `offensive` head, `IDENTITY_ATTACK` ← the `hate` head,
//! `PROFANITY` ← the pinned profanity word list (1 when a listed word occurs, with its spans).
//! Any other attribute is refused with a 400 that lists these, unless the request sets
//! `dropUnsupportedAttributes`. Span offsets are UTF-16 code units, as Perspective's are.
//! Nothing is stored, whatever `doNotStore` says.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use eiq_service::ServiceError;
use eiq_service::limits::check_text;
use eiq_service::text::{Offsets, Span};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::json::ApiJson;
use crate::error::{ApiError, GoogleApiError};

/// Perspective attribute → (our task, our label); `PROFANITY` comes from the word list.
const MODEL_ATTRIBUTES: [(&str, &str, &str); 2] =
    [("TOXICITY", "offensive", "offensive"), ("IDENTITY_ATTACK", "hate", "hate")];
const PROFANITY: &str = "PROFANITY";

/// `doNotStore`, `sessionId`, `communityId` and `context` are accepted and ignored (nothing is
/// stored; context does not change the scores).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeCommentRequest {
    pub comment: Comment,
    pub requested_attributes: BTreeMap<String, AttributeParameters>,
    #[serde(default)]
    pub languages: Option<Vec<String>>,
    #[serde(default)]
    pub span_annotations: Option<bool>,
    #[serde(default)]
    pub client_token: Option<String>,
    #[serde(default)]
    pub drop_unsupported_attributes: Option<bool>,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct Comment {
    pub text: String,
    /// Only `PLAIN_TEXT`.
    #[serde(default, rename = "type")]
    pub kind: Option<String>,
}

#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttributeParameters {
    /// Only `PROBABILITY`.
    #[serde(default)]
    pub score_type: Option<String>,
    /// Scores below this are left out of the answer.
    #[serde(default)]
    pub score_threshold: Option<f32>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AnalyzeCommentResponse {
    pub attribute_scores: BTreeMap<String, AttributeScores>,
    pub languages: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AttributeScores {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub span_scores: Vec<SpanScore>,
    pub summary_score: Score,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SpanScore {
    /// UTF-16 code units, end exclusive.
    pub begin: usize,
    pub end: usize,
    pub score: Score,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Score {
    pub value: f32,
    /// Always `PROBABILITY`.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

fn probability(value: f32) -> Score {
    Score { value, kind: "PROBABILITY" }
}

fn invalid(message: String) -> GoogleApiError {
    GoogleApiError::from(ServiceError::invalid_request(message))
}

/// Perspective-compatible comment analysis; see the module docs for the backed attributes.
#[utoipa::path(
    post, path = "/v1alpha1/comments:analyze", tag = "text intelligence",
    request_body = AnalyzeCommentRequest,
    responses(
        (status = 200, body = AnalyzeCommentResponse),
        (status = 400, description = "unsupported attribute, language, score type or comment type; empty comment (Google's error shape)"),
        (status = 503, description = "model loading or failed"),
    )
)]
pub async fn analyze(
    State(state): State<AppState>,
    request: Result<ApiJson<AnalyzeCommentRequest>, ApiError>,
) -> Result<Json<AnalyzeCommentResponse>, GoogleApiError> {
    let ApiJson(request) = request?;
    if request.comment.text.trim().is_empty() {
        return Err(invalid("Comment must be non-empty.".into()));
    }
    check_text("comment.text", &request.comment.text)?;
    if request.comment.kind.as_deref().is_some_and(|k| k != "PLAIN_TEXT") {
        return Err(invalid("Currently, only 'PLAIN_TEXT' comments are supported".into()));
    }
    if request.requested_attributes.is_empty() {
        return Err(invalid("Missing requested_attributes".into()));
    }
    let drop_unsupported = request.drop_unsupported_attributes.unwrap_or(false);
    let model_tasks: Vec<&str> = MODEL_ATTRIBUTES.iter().map(|(_, task, _)| *task).collect();
    let backed_tasks = state.services.analysis.backed(&model_tasks);
    let supported: Vec<&str> = MODEL_ATTRIBUTES
        .iter()
        .filter(|(_, task, _)| backed_tasks.contains(task))
        .map(|(attribute, ..)| *attribute)
        .chain([PROFANITY])
        .collect();
    let mut attributes = Vec::new();
    for (name, parameters) in &request.requested_attributes {
        if !supported.contains(&name.as_str()) {
            if drop_unsupported {
                continue;
            }
            return Err(invalid(format!(
                "Attribute {name} is not supported by this server; supported: {}",
                supported.join(", ")
            )));
        }
        if let Some(kind) = parameters.score_type.as_deref().filter(|k| *k != "PROBABILITY") {
            return Err(invalid(format!("Requested score type {kind} is not supported by attribute {name}")));
        }
        if let Some(languages) = &request.languages
            && !languages.is_empty()
            && !languages.iter().any(|l| l.eq_ignore_ascii_case("en") || l.to_ascii_lowercase().starts_with("en-"))
        {
            return Err(invalid(format!(
                "Attribute {name} does not support request languages: {}",
                languages.join(", ")
            )));
        }
        attributes.push((name.as_str(), parameters));
    }

    let text = request.comment.text;
    let whole = text.encode_utf16().count();
    let tasks: Vec<String> = attributes
        .iter()
        .filter_map(|(name, _)| MODEL_ATTRIBUTES.iter().find(|(attribute, ..)| attribute == name))
        .map(|(_, task, _)| task.to_string())
        .collect();
    // PROFANITY alone needs no model pass.
    let (spans, scores) = if tasks.is_empty() {
        (state.services.analysis.profanity_spans(&text)?, Vec::new())
    } else {
        let mut analysis = state.services.analysis.analyze(vec![text.clone()], Some(tasks)).await?;
        let result = analysis.results.remove(0);
        (result.spans, result.tasks)
    };
    let spans_wanted = request.span_annotations.unwrap_or(false);
    let mut attribute_scores = BTreeMap::new();
    for (name, parameters) in attributes {
        let (summary, span_scores) = if name == PROFANITY {
            let profane: Vec<&Span> = spans.iter().filter(|s| s.category == "profanity").collect();
            let mut utf16 = Offsets::new(&text, |part| part.encode_utf16().count());
            let spans = profane
                .iter()
                .filter_map(|s| {
                    Some(SpanScore {
                        begin: utf16.at(s.bytes.start)?,
                        end: utf16.at(s.bytes.end)?,
                        score: probability(1.0),
                    })
                })
                .collect();
            (if profane.is_empty() { 0.0 } else { 1.0 }, spans)
        } else {
            let (_, task, label) =
                MODEL_ATTRIBUTES.iter().find(|(attribute, ..)| *attribute == name).expect("supported");
            let score = scores.iter().find(|t| t.task == *task).map_or(0.0, |t| t.score(label));
            (score, vec![SpanScore { begin: 0, end: whole, score: probability(score) }])
        };
        if parameters.score_threshold.is_some_and(|threshold| summary < threshold) {
            continue;
        }
        let span_scores = if spans_wanted { span_scores } else { Vec::new() };
        attribute_scores.insert(name.to_string(), AttributeScores { span_scores, summary_score: probability(summary) });
    }
    Ok(Json(AnalyzeCommentResponse {
        attribute_scores,
        languages: request.languages.filter(|l| !l.is_empty()).unwrap_or_else(|| vec!["en".into()]),
        client_token: request.client_token,
    }))
}
