//! `POST /v1/embeddings` in OpenAI's request and response schema.

use axum::Json;
use axum::extract::State;
use base64::Engine;
use eiq_inference::Admission;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::json::ApiJson;
use super::texts::Texts;
use crate::error::{ApiError, ErrorBody};

/// Fields OpenAI defines that this server does not use (`user`) are accepted and ignored.
#[derive(Debug, Deserialize, ToSchema)]
pub struct EmbeddingRequest {
    /// One text, or an array of up to 2048 texts.
    #[schema(value_type = Object, example = json!(["Launch day! 🚀", "Our new feature is live"]))]
    pub input: Texts,
    /// Catalogue id (`GET /v1/models`); the server's default when omitted.
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default)]
    pub encoding_format: EncodingFormat,
    /// If given, must equal the model's dimensions (these models cannot be shortened).
    #[serde(default)]
    pub dimensions: Option<usize>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum EncodingFormat {
    #[default]
    Float,
    /// Little-endian f32 bytes, base64-encoded.
    Base64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingResponse {
    /// Always `list`.
    pub object: String,
    pub data: Vec<EmbeddingData>,
    pub model: String,
    pub usage: Usage,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EmbeddingData {
    /// Always `embedding`.
    pub object: String,
    pub index: usize,
    pub embedding: EmbeddingVector,
}

/// Array of floats, or a base64 string with `encoding_format: base64`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum EmbeddingVector {
    Float(Vec<f32>),
    Base64(String),
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Usage {
    /// Tokens the model read, special tokens included, after truncation to its maximum length.
    pub prompt_tokens: usize,
    pub total_tokens: usize,
}

/// Unit-length sentence embeddings, in input order.
#[utoipa::path(
    post, path = "/v1/embeddings", tag = "embeddings",
    request_body = EmbeddingRequest,
    responses(
        (status = 200, body = EmbeddingResponse),
        (status = 400, description = "malformed JSON", body = ErrorBody),
        (status = 404, description = "unknown model", body = ErrorBody),
        (status = 413, description = "body over the limit", body = ErrorBody),
        (status = 422, description = "empty input, too many inputs, wrong type", body = ErrorBody),
        (status = 429, description = "queue full; see Retry-After", body = ErrorBody),
        (status = 503, description = "model loading or failed", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<EmbeddingRequest>,
) -> Result<Json<EmbeddingResponse>, ApiError> {
    let embeddings = (state.services.embeddings)
        .embed(request.model.as_deref(), request.input.0, request.dimensions, Admission::Refuse)
        .await?;
    let data = embeddings
        .vectors
        .into_iter()
        .enumerate()
        .map(|(index, vector)| EmbeddingData {
            object: "embedding".into(),
            index,
            embedding: encode(vector, request.encoding_format),
        })
        .collect();
    Ok(Json(EmbeddingResponse {
        object: "list".into(),
        data,
        model: embeddings.model,
        usage: Usage { prompt_tokens: embeddings.prompt_tokens, total_tokens: embeddings.prompt_tokens },
    }))
}

fn encode(vector: Vec<f32>, format: EncodingFormat) -> EmbeddingVector {
    match format {
        EncodingFormat::Float => EmbeddingVector::Float(vector),
        EncodingFormat::Base64 => {
            let bytes: Vec<u8> = vector.iter().flat_map(|v| v.to_le_bytes()).collect();
            EmbeddingVector::Base64(base64::engine::general_purpose::STANDARD.encode(bytes))
        }
    }
}
