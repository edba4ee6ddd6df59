//! `GET /v1/models`, in OpenAI's list shape with this server's extra facts per model.

use axum::Json;
use axum::extract::State;
use serde::Serialize;
use utoipa::ToSchema;

use super::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelList {
    /// Always `list`.
    pub object: String,
    pub data: Vec<ModelCard>,
    /// Used when a request names no model.
    pub default_model: String,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ModelCard {
    pub id: String,
    /// Always `model`.
    pub object: String,
    pub owned_by: String,
    pub task: String,
    /// `candle` or `onnx`.
    pub backend: String,
    /// `f32` or `int8`: the number type of the encoder's matrix products.
    pub precision: String,
    pub dimensions: Option<usize>,
    pub max_sequence_length: Option<usize>,
    pub licence: String,
    pub upstream: String,
    /// `loading`, `ready` or `failed: <reason>`.
    pub state: String,
}

/// The models this server was configured with (encoders and the caption generator), and their state.
#[utoipa::path(get, path = "/v1/models", tag = "models", responses((status = 200, body = ModelList)))]
pub async fn list(State(state): State<AppState>) -> Json<ModelList> {
    let data = state.services.embeddings.models().into_iter().map(ModelCard::from).collect();
    Json(ModelList {
        object: "list".into(),
        data,
        default_model: state.services.embeddings.default_model().to_string(),
    })
}
