//! The tenant a request acts for, from the `x-tenant-id` header.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::error::ApiError;
use crate::service::{DEFAULT_TENANT, TENANT_HEADER};

pub struct Tenant(pub String);

impl<S: Send + Sync> FromRequestParts<S> for Tenant {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        match parts.headers.get(TENANT_HEADER) {
            None => Ok(Tenant(DEFAULT_TENANT.into())),
            Some(value) => value.to_str().map(|v| Tenant(v.trim().to_string())).map_err(|_| ApiError::Rejected {
                status: StatusCode::UNPROCESSABLE_ENTITY,
                message: format!("`{TENANT_HEADER}` is not visible ASCII"),
            }),
        }
    }
}
