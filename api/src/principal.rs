//! Who a call acts for, built the same way for both protocols from the request's headers (gRPC
//! metadata are HTTP/2 headers): today from `x-tenant-id`, later from an API key. Handlers get a
//! [`Principal`] and pass it as the first argument of every tenant-scoped service call.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use eiq_service::ServiceError;
use eiq_service::tenancy::{Principal, TENANT_HEADER};

use crate::error::ApiError;

/// The principal of a request with these headers.
pub fn from_headers(headers: &HeaderMap) -> Result<Principal, ServiceError> {
    Principal::from_tenant_header(headers.get(TENANT_HEADER).map(|value| value.as_bytes()))
}

/// The principal of a gRPC request.
pub fn of_grpc<T>(request: &tonic::Request<T>) -> Result<Principal, tonic::Status> {
    from_headers(request.metadata().as_ref()).map_err(crate::error::grpc_status)
}

/// A REST handler's principal, as an extractor.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Caller(from_headers(&parts.headers)?))
    }
}
