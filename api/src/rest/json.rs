//! A JSON extractor whose rejections use the API's error body instead of axum's plain text.

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, Request};
use serde::de::DeserializeOwned;

use crate::error::ApiError;

/// Like `axum::Json`: malformed JSON is 400, a wrong shape or type 422, an oversized body 413,
/// a missing `Content-Type: application/json` 415; each with a message that says what is wrong.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(request, state).await {
            Ok(axum::Json(value)) => Ok(Self(value)),
            Err(rejection) => Err(rejection_to_error(rejection)),
        }
    }
}

fn rejection_to_error(rejection: JsonRejection) -> ApiError {
    let status = rejection.status();
    let message = match status {
        axum::http::StatusCode::PAYLOAD_TOO_LARGE => "request body is larger than the server's limit".to_string(),
        _ => rejection.body_text(),
    };
    ApiError::Rejected { status, message }
}
