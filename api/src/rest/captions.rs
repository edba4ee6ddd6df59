//! `POST /v1/captions:generate`: variants of a draft for each platform, as JSON, or as
//! Server-Sent Events when the client asks for `text/event-stream`.

use axum::Json;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use eiq_service::ServiceError;
use eiq_service::captions::{CaptionRequest, HashtagWish, ImageInput};
use futures::StreamExt;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::gate::ReasonBody;
use super::json::ApiJson;
use super::posts::LengthBody;
use crate::error::{ApiError, ErrorBody};
use crate::principal::Caller;
use crate::streaming::{CaptionStreamItem, caption_events};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CaptionsBody {
    /// The draft, or a brief (at most 65,536 bytes); may be empty with an image.
    #[schema(max_length = 65536)]
    pub text: String,
    /// 1–10 of x, bluesky, mastodon, threads, instagram, linkedin, facebook, tiktok, pinterest, youtube.
    #[schema(max_items = 10)]
    pub platforms: Vec<String>,
    /// `playful`, `formal`, … (at most 200 bytes).
    #[serde(default)]
    #[schema(max_length = 200)]
    pub tone: Option<String>,
    /// `false`: no hashtags beyond the draft's; `true` or absent: a few, within the platform's cap; a number: up to that many (at most 30).
    #[serde(default)]
    #[schema(value_type = Option<Object>, example = json!(3))]
    pub hashtags: Option<HashtagsBody>,
    /// An analysed image's id (`POST /v1/images:analyze`, kept for a day): its text and
    /// description go into the prompt beside the brief, which may then be empty.
    #[serde(default)]
    #[schema(max_length = 64)]
    pub image_id: Option<String>,
    /// The image itself, base64 (within the request body limit); analysed on the way.
    #[serde(default)]
    pub image: Option<String>,
    /// Per platform, 1–5 (default 1).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 5)]
    pub variants: Option<usize>,
    /// The same seed gives the same variants.
    #[serde(default)]
    pub seed: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum HashtagsBody {
    Flag(bool),
    Count(usize),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaptionsResponse {
    /// `model` (the local model wrote them) or `rules` (no model could: each variant is the draft, fitted).
    pub method: String,
    /// The model, with `method: model`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub model: Option<String>,
    /// Why no model wrote them, with `method: rules`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub variants: Vec<CaptionVariantBody>,
    pub usage: UsageBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CaptionVariantBody {
    pub platform: String,
    pub text: String,
    pub length: LengthBody,
    /// Always true unless the draft's own links and mentions cannot fit the platform.
    pub valid: bool,
    pub hashtags: Vec<String>,
    pub gate: GateSummaryBody,
    /// Cosine of the variant's sentence vector to the draft's.
    pub similarity: Option<f32>,
    /// `generated` (the model's text, fitted) or `fitted_draft`.
    pub origin: String,
    /// Which attempt the gate let through (1 is the first), for generated variants.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<usize>,
    /// The text was cut to fit (at a sentence end, else a word).
    pub trimmed: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct GateSummaryBody {
    /// `allow`, `review` or `block`.
    pub decision: String,
    pub reasons: Vec<ReasonBody>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UsageBody {
    pub generations: usize,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub prompt_seconds: f64,
    pub generation_seconds: f64,
    /// From the request to the first piece of generated text.
    pub first_token_seconds: Option<f64>,
}

#[derive(Debug, Serialize)]
struct TextEventBody {
    platform: String,
    variant: usize,
    text: String,
}

/// Writes captions with the local model and makes each fit its platform by code: every variant
/// is valid for its platform (length in its unit, hashtag caps), keeps the draft's links and
/// @mentions verbatim and adds none, and passes the moderation gate (a blocked one is written
/// again, then replaced by the fitted draft). Without the model, the draft is fitted by rules
/// and `method` says so. With `Accept: text/event-stream` the answer streams: `text` events as the
/// model writes, a `variant` event per finished variant, then `done` with the whole answer.
#[utoipa::path(
    post, path = "/v1/captions:generate", tag = "captions",
    request_body = CaptionsBody,
    responses(
        (status = 200, body = CaptionsResponse, description = "JSON, or Server-Sent Events (`text`, `variant`, `done`, `error`) with `Accept: text/event-stream`"),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 422, description = "empty text, unknown platform (listed), variants out of 1–5, too many hashtags", body = ErrorBody),
        (status = 429, description = "the generation queue is full; retry after `Retry-After` seconds", body = ErrorBody),
    )
)]
pub async fn generate(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    ApiJson(body): ApiJson<CaptionsBody>,
) -> Result<Response, ApiError> {
    let request = request(body)?;
    let service = state.services.captions.clone();
    let wants_stream = headers
        .get_all(axum::http::header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .any(|value| value.contains("text/event-stream"));
    if !wants_stream {
        let captions = service.generate(&principal, request, None).await?;
        return Ok(Json(CaptionsResponse::from(captions)).into_response());
    }
    let mut events = Box::pin(caption_events(service, principal, request));
    // A request the service refuses is an HTTP error, not a stream that starts and fails.
    let first = match events.next().await {
        Some(Err(err)) => return Err(err.into()),
        Some(Ok(item)) => item,
        None => return Err(ServiceError::internal("caption stream", "ended without an answer").into()),
    };
    let stream = futures::stream::once(async move { Ok(first) }).chain(events).map(|item| {
        let event = match item {
            Ok(CaptionStreamItem::Event(eiq_service::captions::CaptionEvent::Text { platform, variant, text })) => {
                Event::default().event("text").json_data(TextEventBody { platform, variant, text })
            }
            Ok(CaptionStreamItem::Event(eiq_service::captions::CaptionEvent::Variant { variant, .. })) => {
                Event::default().event("variant").json_data(CaptionVariantBody::from(variant))
            }
            Ok(CaptionStreamItem::Done(captions)) => {
                Event::default().event("done").json_data(CaptionsResponse::from(captions))
            }
            Err(err) => Event::default().event("error").json_data(ApiError::from(err).body()),
        };
        event.map_err(|err| std::io::Error::other(err.to_string()))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

fn request(body: CaptionsBody) -> Result<CaptionRequest, ServiceError> {
    use base64::Engine;
    let image = match (body.image_id, body.image) {
        (Some(_), Some(_)) => {
            return Err(ServiceError::invalid("image", "send image_id or image, not both"));
        }
        (Some(id), None) => Some(ImageInput::Id(id)),
        (None, Some(encoded)) => {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(encoded.trim())
                .map_err(|e| ServiceError::invalid("image", format!("image is not base64: {e}")))?;
            Some(ImageInput::Bytes(bytes))
        }
        (None, None) => None,
    };
    let hashtags = match body.hashtags {
        None | Some(HashtagsBody::Flag(true)) => HashtagWish::Unspecified,
        Some(HashtagsBody::Flag(false)) | Some(HashtagsBody::Count(0)) => HashtagWish::None,
        Some(HashtagsBody::Count(n)) => HashtagWish::Count(n),
    };
    Ok(CaptionRequest {
        text: body.text,
        image,
        platforms: body.platforms,
        tone: body.tone,
        hashtags,
        variants: body.variants,
        seed: body.seed,
    })
}
