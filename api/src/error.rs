//! The one place where errors become HTTP statuses (OpenAI's error body) and gRPC statuses.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eiq_inference::InferenceError;
use eiq_models::CatalogueError;
use serde::Serialize;
use utoipa::ToSchema;

use crate::service::limits::MAX_ERROR_BYTES;

/// Errors of the service layer, shared by REST and gRPC.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is well-formed JSON or protobuf but asks for something invalid.
    #[error("{0}")]
    InvalidInput(String),

    #[error(transparent)]
    Inference(#[from] InferenceError),

    /// A part the request needs is not available (a word list not fetched, a model without heads).
    #[error("{0}")]
    Unavailable(String),

    /// The request names something the tenant does not have (an account without history).
    #[error("{0}")]
    NotFound(String),

    /// Valid, but not allowed on this server (a server-side path outside the import root).
    #[error("{0}")]
    Forbidden(String),

    /// Valid, but the tenant's state does not allow it yet (too little history to train on).
    #[error("{0}")]
    FailedPrecondition(String),

    /// An upload or file over its size limit.
    #[error("{0}")]
    TooLarge(String),

    /// The server's own fault (disk, a background task). The detail is logged, never sent: it
    /// may name paths or the process.
    #[error("{0}")]
    Internal(String),

    /// Too much of one kind of work is in flight (imports); try again shortly.
    #[error("{0}")]
    Busy(String),
}

/// REST-only failures before a handler runs (body too large, not JSON, wrong shape, no route).
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(transparent)]
    Service(#[from] ServiceError),

    #[error("{message}")]
    Rejected { status: StatusCode, message: String },
}

/// How one error is reported on each protocol.
struct Classification {
    status: StatusCode,
    grpc: tonic::Code,
    kind: &'static str,
    code: &'static str,
    retry_after_seconds: Option<u32>,
}

impl ServiceError {
    fn classify(&self) -> Classification {
        use InferenceError as E;
        let (status, grpc, kind, code, retry_after_seconds) = match self {
            ServiceError::InvalidInput(_) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                tonic::Code::InvalidArgument,
                "invalid_request_error",
                "invalid_input",
                None,
            ),
            ServiceError::Unavailable(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, tonic::Code::Unavailable, "server_error", "unavailable", None)
            }
            ServiceError::NotFound(_) => {
                (StatusCode::NOT_FOUND, tonic::Code::NotFound, "invalid_request_error", "not_found", None)
            }
            ServiceError::Forbidden(_) => {
                (StatusCode::FORBIDDEN, tonic::Code::PermissionDenied, "invalid_request_error", "forbidden", None)
            }
            ServiceError::FailedPrecondition(_) => (
                StatusCode::CONFLICT,
                tonic::Code::FailedPrecondition,
                "invalid_request_error",
                "failed_precondition",
                None,
            ),
            ServiceError::TooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                tonic::Code::ResourceExhausted,
                "invalid_request_error",
                "too_large",
                None,
            ),
            ServiceError::Internal(_) => {
                (StatusCode::INTERNAL_SERVER_ERROR, tonic::Code::Internal, "server_error", "internal", None)
            }
            ServiceError::Busy(_) => {
                (StatusCode::TOO_MANY_REQUESTS, tonic::Code::ResourceExhausted, "rate_limit_error", "busy", Some(1))
            }
            ServiceError::Inference(err) => match err {
                E::ModelNotServed(_) | E::Catalogue(CatalogueError::UnknownModel { .. }) => {
                    (StatusCode::NOT_FOUND, tonic::Code::NotFound, "invalid_request_error", "model_not_found", None)
                }
                E::QueueFull { .. } => (
                    StatusCode::TOO_MANY_REQUESTS,
                    tonic::Code::ResourceExhausted,
                    "rate_limit_error",
                    "queue_full",
                    Some(1),
                ),
                E::ModelLoading(_) => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    tonic::Code::Unavailable,
                    "server_error",
                    "model_loading",
                    Some(5),
                ),
                E::ModelFailed { .. } | E::WorkerStopped => (
                    StatusCode::SERVICE_UNAVAILABLE,
                    tonic::Code::Unavailable,
                    "server_error",
                    "model_unavailable",
                    None,
                ),
                E::Catalogue(_) | E::Tokenizer(_) | E::Backend { .. } => {
                    (StatusCode::INTERNAL_SERVER_ERROR, tonic::Code::Internal, "server_error", "inference_failed", None)
                }
            },
        };
        Classification { status, grpc, kind, code, retry_after_seconds }
    }
}

impl ApiError {
    /// What the client is told, logging the server's own failures once, for every protocol:
    /// internal details stay in the log (tagged with the same id), and every message is cut to
    /// [`MAX_ERROR_BYTES`] so no input is echoed without bound.
    fn client_message(&self) -> String {
        let internal = matches!(
            self,
            ApiError::Service(
                ServiceError::Internal(_)
                    | ServiceError::Inference(InferenceError::Catalogue(_) | InferenceError::Backend { .. })
            )
        );
        if internal {
            let id = ERROR_IDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            tracing::error!(error = %self, error_id = id, "request failed");
            return format!("internal error {id}; the server's log has the details");
        }
        if self.classify().status.is_server_error() {
            tracing::warn!(error = %self, "request failed");
        }
        truncated(self.to_string())
    }
}

/// Numbers internal errors so a client's report can be found in the log.
static ERROR_IDS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

fn truncated(mut message: String) -> String {
    if message.len() > MAX_ERROR_BYTES {
        let mut cut = MAX_ERROR_BYTES - '…'.len_utf8();
        while !message.is_char_boundary(cut) {
            cut -= 1;
        }
        message.truncate(cut);
        message.push('…');
    }
    message
}

/// OpenAI's error envelope: `{"error": {"message", "type", "code", "param"}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    pub message: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub code: String,
    pub param: Option<String>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let c = self.classify();
        let (status, kind, code, retry_after) = (c.status, c.kind, c.code, c.retry_after_seconds);
        let message = self.client_message();
        let body = ErrorBody { error: ErrorDetail { message, kind: kind.into(), code: code.into(), param: None } };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

impl ApiError {
    fn classify(&self) -> Classification {
        match self {
            ApiError::Service(err) => err.classify(),
            ApiError::Rejected { status, .. } => {
                let code = match *status {
                    StatusCode::PAYLOAD_TOO_LARGE => "body_too_large",
                    StatusCode::NOT_FOUND => "not_found",
                    StatusCode::METHOD_NOT_ALLOWED => "method_not_allowed",
                    StatusCode::UNSUPPORTED_MEDIA_TYPE => "unsupported_media_type",
                    _ => "invalid_request",
                };
                let grpc = match *status {
                    StatusCode::PAYLOAD_TOO_LARGE => tonic::Code::ResourceExhausted,
                    StatusCode::NOT_FOUND => tonic::Code::NotFound,
                    StatusCode::METHOD_NOT_ALLOWED => tonic::Code::Unimplemented,
                    _ => tonic::Code::InvalidArgument,
                };
                Classification { status: *status, grpc, kind: "invalid_request_error", code, retry_after_seconds: None }
            }
        }
    }
}

/// An error rendered in Google's API shape, for the Perspective-compatible endpoint:
/// `{"error": {"code": 400, "message", "status": "INVALID_ARGUMENT"}}`. Google reports every
/// client mistake as 400, so 422 becomes 400 here.
#[derive(Debug)]
pub struct GoogleApiError(pub ApiError);

impl From<ApiError> for GoogleApiError {
    fn from(err: ApiError) -> Self {
        Self(err)
    }
}

impl From<ServiceError> for GoogleApiError {
    fn from(err: ServiceError) -> Self {
        Self(err.into())
    }
}

impl IntoResponse for GoogleApiError {
    fn into_response(self) -> Response {
        let c = self.0.classify();
        let status = if c.status == StatusCode::UNPROCESSABLE_ENTITY { StatusCode::BAD_REQUEST } else { c.status };
        let message = self.0.client_message();
        let grpc_name = format!("{:?}", c.grpc);
        // tonic names codes in CamelCase; Google's `status` is SCREAMING_SNAKE_CASE.
        let mut status_name = String::new();
        for (i, ch) in grpc_name.chars().enumerate() {
            if ch.is_uppercase() && i > 0 {
                status_name.push('_');
            }
            status_name.push(ch.to_ascii_uppercase());
        }
        let body = serde_json::json!({
            "error": {"code": status.as_u16(), "message": message, "status": status_name}
        });
        (status, Json(body)).into_response()
    }
}

impl IntoResponse for ServiceError {
    fn into_response(self) -> Response {
        ApiError::from(self).into_response()
    }
}

impl From<ServiceError> for tonic::Status {
    fn from(err: ServiceError) -> Self {
        let classification = err.classify();
        tonic::Status::new(classification.grpc, ApiError::Service(err).client_message())
    }
}
