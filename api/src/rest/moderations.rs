//! `POST /v1/moderations` in OpenAI's schema, so the official clients work unchanged.
//!
//! OpenAI's categories are mapped from ours: `harassment` ← the `offensive` head (OLID: insults,
//! threats and profanity aimed at someone), `hate` ← the `hate` head (HatEval: hate against
//! immigrants and women). No model here backs the others (self-harm, sexual, violence, illicit,
//! and the `/threatening` subtypes): they always come back `false` with score 0 and an empty
//! `category_applied_input_types` list, so nobody mistakes silence for a clean bill.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::State;
use eiq_service::text::TaskScores;
use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::json::ApiJson;
use crate::error::{ApiError, ErrorBody};

/// OpenAI's categories, in their order.
pub const OPENAI_CATEGORIES: [&str; 13] = [
    "harassment",
    "harassment/threatening",
    "hate",
    "hate/threatening",
    "illicit",
    "illicit/violent",
    "self-harm",
    "self-harm/instructions",
    "self-harm/intent",
    "sexual",
    "sexual/minors",
    "violence",
    "violence/graphic",
];

/// (OpenAI category, our task, our label) for the categories a model backs.
const BACKED: [(&str, &str, &str); 2] = [("harassment", "offensive", "offensive"), ("hate", "hate", "hate")];

/// A category is flagged at this probability or above (OpenAI does not publish theirs).
const FLAG_THRESHOLD: f32 = 0.5;

/// `model` is accepted and ignored: this server answers with its own moderation model.
#[derive(Debug, Deserialize, ToSchema)]
pub struct ModerationRequest {
    /// A string, an array of strings, or an array of `{"type": "text", "text": ...}` objects.
    #[schema(value_type = Object, example = json!("you are all idiots"))]
    pub input: ModerationInput,
}

#[derive(Debug)]
pub struct ModerationInput(pub Vec<String>);

impl<'de> Deserialize<'de> for ModerationInput {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        use serde_json::Value;
        let item = |index: usize, value: Value| match value {
            Value::String(text) => Ok(text),
            Value::Object(object) => match (object.get("type").and_then(Value::as_str), object.get("text")) {
                (Some("text"), Some(Value::String(text))) => Ok(text.clone()),
                (Some("image_url"), _) => {
                    Err(D::Error::custom(format!("item {index} is an image; this server moderates text only")))
                }
                _ => Err(D::Error::custom(format!("item {index} must be {{\"type\": \"text\", \"text\": \"...\"}}"))),
            },
            _ => Err(D::Error::custom(format!("item {index} must be a string or a text object"))),
        };
        match Value::deserialize(deserializer)? {
            Value::String(text) => Ok(Self(vec![text])),
            Value::Array(items) => {
                items.into_iter().enumerate().map(|(i, v)| item(i, v)).collect::<Result<_, _>>().map(Self)
            }
            _ => Err(D::Error::custom("expected a string or an array")),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModerationResponse {
    pub id: String,
    pub model: String,
    pub results: Vec<ModerationResult>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModerationResult {
    pub flagged: bool,
    pub categories: BTreeMap<&'static str, bool>,
    pub category_scores: BTreeMap<&'static str, f32>,
    pub category_applied_input_types: BTreeMap<&'static str, Vec<&'static str>>,
}

/// OpenAI-compatible moderation; see the module docs for which categories are backed.
#[utoipa::path(
    post, path = "/v1/moderations", tag = "text intelligence",
    request_body = ModerationRequest,
    responses(
        (status = 200, body = ModerationResponse),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 422, description = "empty input, image input, wrong type", body = ErrorBody),
        (status = 429, description = "queue full; see Retry-After", body = ErrorBody),
        (status = 503, description = "model loading or failed", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<ModerationRequest>,
) -> Result<Json<ModerationResponse>, ApiError> {
    // Every head: they share the one encoder pass, and a model without some head still answers.
    let analysis = state.services.analysis.analyze(request.input.0, None).await?;
    let results = analysis.results.iter().map(|r| moderation_result(&r.tasks)).collect();
    Ok(Json(ModerationResponse {
        id: format!("modr-{}", uuid_like()),
        model: format!("{}@{}", analysis.model, analysis.model_version),
        results,
    }))
}

fn moderation_result(tasks: &[TaskScores]) -> ModerationResult {
    let mut result = ModerationResult {
        flagged: false,
        categories: OPENAI_CATEGORIES.iter().map(|&c| (c, false)).collect(),
        category_scores: OPENAI_CATEGORIES.iter().map(|&c| (c, 0.0)).collect(),
        category_applied_input_types: OPENAI_CATEGORIES.iter().map(|&c| (c, Vec::new())).collect(),
    };
    for (category, task, label) in BACKED {
        let Some(scores) = tasks.iter().find(|t| t.task == task) else { continue };
        let score = scores.score(label);
        let flagged = score >= FLAG_THRESHOLD;
        result.categories.insert(category, flagged);
        result.category_scores.insert(category, score);
        result.category_applied_input_types.insert(category, vec!["text"]);
        result.flagged |= flagged;
    }
    result
}

/// 32 hex digits from the clock and a counter: unique per process, no randomness needed.
fn uuid_like() -> String {
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    let count = COUNTER.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    format!("{:024x}{:08x}", nanos, count as u32)
}
