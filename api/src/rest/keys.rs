//! `/v1/keys`: the caller's tenant's API keys (the admin role). A key is shown once, when made.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use eiq_service::tenants::{KeyInfo, KeyRequest};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::AppState;
use super::json::ApiJson;
use crate::error::{ApiError, ErrorBody};
use crate::principal::Caller;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateKeyBody {
    /// admin, editor, approver, viewer or service.
    pub role: String,
    /// What the key is for (shown in listings).
    #[serde(default)]
    #[schema(max_length = 100)]
    pub name: String,
    /// Days until it expires [default: never].
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyBody {
    /// The 12 hex digits after `eiq_`: how logs and the audit log name the key.
    pub prefix: String,
    pub role: String,
    pub name: String,
    /// RFC 3339, UTC.
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<KeyInfo> for KeyBody {
    fn from(key: KeyInfo) -> Self {
        let time = |at: Option<i64>| at.map(eiq_datasets::format_time);
        Self {
            prefix: key.prefix,
            role: key.role.as_str().to_string(),
            name: key.name,
            created_at: eiq_datasets::format_time(key.created_at),
            expires_at: time(key.expires_at),
            revoked_at: time(key.revoked_at),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewKeyBody {
    /// `eiq_<prefix>_<secret>`: shown this once, the server keeps only its hash.
    pub key: String,
    #[serde(flatten)]
    pub info: KeyBody,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct KeyList {
    /// Newest first.
    pub keys: Vec<KeyBody>,
}

/// Makes a key for the caller's tenant.
#[utoipa::path(
    post, path = "/v1/keys", tag = "keys",
    request_body = CreateKeyBody,
    responses(
        (status = 201, body = NewKeyBody),
        (status = 422, description = "unknown role, name too long, expiry out of range", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(principal): Caller,
    ApiJson(body): ApiJson<CreateKeyBody>,
) -> Result<(StatusCode, Json<NewKeyBody>), ApiError> {
    let request = KeyRequest { role: body.role, name: body.name, expires_in_days: body.expires_in_days };
    let key = state.tenants.issue_key(&principal, request, eiq_datasets::now()).await?;
    Ok((StatusCode::CREATED, Json(NewKeyBody { key: key.key, info: key.info.into() })))
}

/// The caller's tenant's keys, never the keys themselves.
#[utoipa::path(get, path = "/v1/keys", tag = "keys", responses((status = 200, body = KeyList)))]
pub async fn list(State(state): State<AppState>, Caller(principal): Caller) -> Result<Json<KeyList>, ApiError> {
    let keys = state.tenants.list_keys(&principal.tenant).await?;
    Ok(Json(KeyList { keys: keys.into_iter().map(KeyBody::from).collect() }))
}

/// Revokes a key at once, on every replica sharing the database.
#[utoipa::path(
    delete, path = "/v1/keys/{prefix}", tag = "keys",
    params(("prefix" = String, Path, description = "the key's 12 hex digits after `eiq_`")),
    responses(
        (status = 204, description = "revoked"),
        (status = 404, description = "no active key with this prefix in the caller's tenant", body = ErrorBody),
    )
)]
pub async fn revoke(
    State(state): State<AppState>,
    Caller(principal): Caller,
    Path(prefix): Path<String>,
) -> Result<StatusCode, ApiError> {
    state.tenants.revoke_key(&principal.tenant, &prefix, eiq_datasets::now()).await?;
    Ok(StatusCode::NO_CONTENT)
}
