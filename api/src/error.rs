//! The one place where errors become HTTP statuses (OpenAI's error body) and gRPC statuses.
//!
//! The service layer's [`ServiceError`] says what went wrong as data; this module decides the
//! status on each protocol, renders the error's [`Hint`] in that protocol's words, sends the
//! offending field as OpenAI's `param`, and turns `retry_after` into `Retry-After` (REST) or a
//! `retry-after` metadata entry (gRPC).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use eiq_inference::InferenceError;
use eiq_models::CatalogueError;
use eiq_service::limits::MAX_ERROR_BYTES;
use eiq_service::{Hint, ServiceError};
use serde::Serialize;
use utoipa::ToSchema;

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

/// Which protocol an answer is for: hints name the next step in its terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Rest,
    Grpc,
}

fn render_hint(hint: Hint, protocol: Protocol) -> String {
    match (hint, protocol) {
        (Hint::ImportHistory, Protocol::Rest) => "import it first (POST /v1/history:import)".into(),
        (Hint::ImportHistory, Protocol::Grpc) => "import it first (Engagement/ImportHistory)".into(),
        (Hint::ListModels, Protocol::Rest) => "list served models at GET /v1/models".into(),
        (Hint::ListModels, Protocol::Grpc) => "list served models with Embeddings/ListModels".into(),
        (Hint::ImportFromServer, Protocol::Rest) => "import it from a server path (`?path=`)".into(),
        (Hint::ImportFromServer, Protocol::Grpc) => "import it from a server path (`server_path`)".into(),
        (Hint::ServerSetting { flag, action }, Protocol::Rest) => format!("{action} {flag}"),
        (Hint::ServerSetting { flag, .. }, Protocol::Grpc) => format!("a server setting ({flag}) decides this"),
    }
}

fn classify(err: &ServiceError) -> Classification {
    use InferenceError as E;
    let (status, grpc, kind, code) = match err {
        ServiceError::InvalidInput { .. } => {
            (StatusCode::UNPROCESSABLE_ENTITY, tonic::Code::InvalidArgument, "invalid_request_error", "invalid_input")
        }
        ServiceError::Unavailable { .. } => {
            (StatusCode::SERVICE_UNAVAILABLE, tonic::Code::Unavailable, "server_error", "unavailable")
        }
        ServiceError::NotFound { .. } => {
            (StatusCode::NOT_FOUND, tonic::Code::NotFound, "invalid_request_error", "not_found")
        }
        ServiceError::Forbidden { .. } => {
            (StatusCode::FORBIDDEN, tonic::Code::PermissionDenied, "invalid_request_error", "forbidden")
        }
        ServiceError::FailedPrecondition { .. } => {
            (StatusCode::CONFLICT, tonic::Code::FailedPrecondition, "invalid_request_error", "failed_precondition")
        }
        ServiceError::Conflict { .. } => {
            (StatusCode::CONFLICT, tonic::Code::FailedPrecondition, "invalid_request_error", "invalid_state")
        }
        ServiceError::UnsupportedMedia { .. } => (
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            tonic::Code::InvalidArgument,
            "invalid_request_error",
            "unsupported_media_type",
        ),
        ServiceError::TooLarge { .. } => {
            (StatusCode::PAYLOAD_TOO_LARGE, tonic::Code::ResourceExhausted, "invalid_request_error", "too_large")
        }
        ServiceError::Internal { .. } => {
            (StatusCode::INTERNAL_SERVER_ERROR, tonic::Code::Internal, "server_error", "internal")
        }
        ServiceError::Busy { .. } => {
            (StatusCode::TOO_MANY_REQUESTS, tonic::Code::ResourceExhausted, "rate_limit_error", "busy")
        }
        ServiceError::RateLimited { .. } => {
            (StatusCode::TOO_MANY_REQUESTS, tonic::Code::ResourceExhausted, "rate_limit_error", "rate_limited")
        }
        ServiceError::QuotaExceeded { .. } => {
            (StatusCode::TOO_MANY_REQUESTS, tonic::Code::ResourceExhausted, "rate_limit_error", "quota_exceeded")
        }
        ServiceError::Unauthenticated { .. } => {
            (StatusCode::UNAUTHORIZED, tonic::Code::Unauthenticated, "authentication_error", "unauthenticated")
        }
        ServiceError::Inference(err) => match err {
            E::ModelNotServed(_) | E::Catalogue(CatalogueError::UnknownModel { .. }) => {
                (StatusCode::NOT_FOUND, tonic::Code::NotFound, "invalid_request_error", "model_not_found")
            }
            E::WrongKind { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                tonic::Code::InvalidArgument,
                "invalid_request_error",
                "wrong_model_kind",
            ),
            E::QueueFull { .. } => {
                (StatusCode::TOO_MANY_REQUESTS, tonic::Code::ResourceExhausted, "rate_limit_error", "queue_full")
            }
            E::ModelLoading(_) => {
                (StatusCode::SERVICE_UNAVAILABLE, tonic::Code::Unavailable, "server_error", "model_loading")
            }
            E::ModelFailed { .. } | E::WorkerStopped => {
                (StatusCode::SERVICE_UNAVAILABLE, tonic::Code::Unavailable, "server_error", "model_unavailable")
            }
            E::Catalogue(_) | E::Tokenizer(_) | E::Backend { .. } => {
                (StatusCode::INTERNAL_SERVER_ERROR, tonic::Code::Internal, "server_error", "inference_failed")
            }
        },
    };
    // Whole seconds, at least one: `Retry-After` takes no fractions.
    let retry_after_seconds = err.retry_after().map(|wait| wait.as_secs_f64().ceil().max(1.0) as u32);
    Classification { status, grpc, kind, code, retry_after_seconds }
}

impl ApiError {
    /// What the client is told, logging the server's own failures once, for every protocol:
    /// internal details stay in the log (tagged with the same id), a hint is added in the
    /// protocol's words, and every message is cut to [`MAX_ERROR_BYTES`] so no input is echoed
    /// without bound.
    fn client_message(&self, protocol: Protocol) -> String {
        let internal = matches!(
            self,
            ApiError::Service(
                ServiceError::Internal { .. }
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
        let hint = match self {
            ApiError::Service(err) => err.hint(),
            ApiError::Rejected { .. } => None,
        };
        match hint {
            Some(hint) => truncated(format!("{self}; {}", render_hint(hint, protocol))),
            None => truncated(self.to_string()),
        }
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

impl ApiError {
    /// The REST error body of this error.
    pub fn body(&self) -> ErrorBody {
        let c = self.classify();
        let message = self.client_message(Protocol::Rest);
        let param = match self {
            ApiError::Service(err) => err.param().map(truncated_param),
            ApiError::Rejected { .. } => None,
        };
        ErrorBody { error: ErrorDetail { message, kind: c.kind.into(), code: c.code.into(), param } }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let c = self.classify();
        let (status, retry_after) = (c.status, c.retry_after_seconds);
        let mut response = (status, Json(self.body())).into_response();
        if let Some(seconds) = retry_after {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

impl ApiError {
    fn classify(&self) -> Classification {
        match self {
            ApiError::Service(err) => classify(err),
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
        let message = self.0.client_message(Protocol::Rest);
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

/// The gRPC status of a service error, with `retry-after` metadata when waiting helps.
pub fn grpc_status(err: ServiceError) -> tonic::Status {
    let classification = classify(&err);
    let mut status = tonic::Status::new(classification.grpc, ApiError::Service(err).client_message(Protocol::Grpc));
    if let Some(seconds) = classification.retry_after_seconds {
        status.metadata_mut().insert("retry-after", seconds.into());
    }
    status
}

/// A field path can hold the caller's own names (a policy category): bounded like an echo.
fn truncated_param(param: &str) -> String {
    param.chars().take(eiq_service::limits::MAX_ECHO_CHARS * 4).collect()
}
