//! What can go wrong in a capability, as data rather than prose.
//!
//! Each variant carries what a protocol needs to answer well: the offending field's path (which
//! REST sends as OpenAI's `param`), how long to wait before retrying, the resource that was not
//! found. Messages are protocol-neutral; where the next step depends on the protocol ("import it
//! first" is `POST /v1/history:import` on REST and `Engagement/ImportHistory` on gRPC), the error
//! carries a [`Hint`] that each edge renders in its own words. `api/src/error.rs` is the one place
//! that maps these to HTTP and gRPC statuses.

use std::time::Duration;

use eiq_inference::InferenceError;

use crate::tenancy::TenantId;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The request is well-formed but asks for something invalid.
    #[error("{message}")]
    InvalidInput {
        /// The offending field's path (`inputs[3]`, `policy.thresholds.hate.review`), if one.
        param: Option<String>,
        message: String,
    },

    #[error(transparent)]
    Inference(#[from] InferenceError),

    /// A part the request needs is not available (a word list not fetched, a model without heads,
    /// no answer in time).
    #[error("{message}")]
    Unavailable { message: String, hint: Option<Hint>, retry_after: Option<Duration> },

    /// The request names something the tenant does not have.
    #[error("{message}")]
    NotFound { resource: Resource, message: String, hint: Option<Hint> },

    /// Valid, but not allowed on this server (a server-side path while they are off).
    #[error("{message}")]
    Forbidden { message: String, hint: Option<Hint> },

    /// Valid, but the tenant's state does not allow it yet (too little history to train on).
    #[error("{message}")]
    FailedPrecondition { message: String },

    /// The resource is in a state that does not allow the request (approving a draft); `state`
    /// is the state it is in.
    #[error("{message}")]
    Conflict { state: String, message: String },

    /// An upload whose kind is not one the capability reads (not an image, or a format not served).
    #[error("{message}")]
    UnsupportedMedia { message: String },

    /// An upload or file over its size limit.
    #[error("{message}")]
    TooLarge { limit: u64, message: String, hint: Option<Hint> },

    /// The server's own fault (disk, a background task). The detail is logged, never sent: it
    /// may name paths or the process.
    #[error("{context}: {detail}")]
    Internal { context: &'static str, detail: String },

    /// Too much of one kind of work is in flight; try again after `retry_after`.
    #[error("{message}")]
    Busy { message: String, retry_after: Duration },

    /// No credential where one is required, or one that is malformed, unknown, expired or
    /// revoked. The message never says which, nor whether a tenant exists.
    #[error("{message}")]
    Unauthenticated { message: String },

    /// The caller is over one of its own limits (its key's request rate); try again after
    /// `retry_after`.
    #[error("{message}")]
    RateLimited { message: String, retry_after: Duration },

    /// The tenant used its plan's quota for the period; it renews after `retry_after`.
    #[error("{message}")]
    QuotaExceeded { plan: String, message: String, retry_after: Duration },
}

/// What a not-found answer was looking for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// A tenant with no history.
    History(TenantId),
    /// An account with no history (or none on the platform asked).
    Account(String),
    /// A file under the server's import root.
    ImportFile,
    /// An analysed image, by its id (forgotten, or never analysed for this tenant).
    Image(String),
    /// A tenant of the tenant layer's database.
    Tenant(TenantId),
    /// An API key, by its prefix.
    Key(String),
    /// A post, by its id.
    Post(String),
}

/// The next step for the caller, which each protocol names in its own words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hint {
    /// Import the history first.
    ImportHistory,
    /// Ask for the models this server serves.
    ListModels,
    /// Upload less, or import from a file on the server instead.
    ImportFromServer,
    /// A setting of the server, named by its `eiq serve` flag, decides this.
    ServerSetting {
        flag: &'static str,
        /// What to do with the setting: `add it to`, `start the server with`.
        action: &'static str,
    },
}

impl ServiceError {
    /// A field `param` is invalid; `message` says why (and names the field, for readers of the
    /// message alone).
    pub fn invalid(param: impl Into<String>, message: impl Into<String>) -> Self {
        Self::InvalidInput { param: Some(param.into()), message: message.into() }
    }

    /// The request as a whole is invalid (no one field is to blame).
    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::InvalidInput { param: None, message: message.into() }
    }

    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::Unavailable { message: message.into(), hint: None, retry_after: None }
    }

    pub fn unauthenticated(message: impl Into<String>) -> Self {
        Self::Unauthenticated { message: message.into() }
    }

    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::Forbidden { message: message.into(), hint: None }
    }

    pub fn internal(context: &'static str, detail: impl std::fmt::Display) -> Self {
        Self::Internal { context, detail: detail.to_string() }
    }

    /// The hint this error carries, if any (inference errors get theirs here too).
    pub fn hint(&self) -> Option<Hint> {
        match self {
            Self::Unavailable { hint, .. }
            | Self::NotFound { hint, .. }
            | Self::Forbidden { hint, .. }
            | Self::TooLarge { hint, .. } => *hint,
            Self::Inference(InferenceError::ModelNotServed(_)) => Some(Hint::ListModels),
            _ => None,
        }
    }

    /// How long the caller should wait before trying again, when waiting helps.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Self::Busy { retry_after, .. }
            | Self::RateLimited { retry_after, .. }
            | Self::QuotaExceeded { retry_after, .. } => Some(*retry_after),
            Self::Unavailable { retry_after, .. } => *retry_after,
            Self::Inference(InferenceError::QueueFull { .. }) => Some(Duration::from_secs(1)),
            Self::Inference(InferenceError::ModelLoading(_)) => Some(Duration::from_secs(5)),
            _ => None,
        }
    }

    /// The path of the offending field, for invalid input.
    pub fn param(&self) -> Option<&str> {
        match self {
            Self::InvalidInput { param, .. } => param.as_deref(),
            _ => None,
        }
    }

    /// The client's own mistake (metrics count these apart from failures).
    pub fn is_invalid_input(&self) -> bool {
        matches!(self, Self::InvalidInput { .. } | Self::UnsupportedMedia { .. })
    }
}
