//! Who a call acts for, decided once for both protocols before any handler runs, and recorded.
//!
//! [`guard`] is a route layer over REST and gRPC alike (gRPC metadata are HTTP/2 headers): it
//! looks up the operation ([`crate::access`]), lets public ones through, and otherwise asks the
//! [`Authenticator`] for the request's [`Principal`], checks the principal's role holds the
//! operation's permission, and puts the principal in the request's extensions. REST handlers take
//! it with the [`Caller`] extractor, gRPC handlers with [`of_grpc`], and pass it as the first
//! argument of every tenant-scoped service call. A refusal is answered in the request's own
//! protocol: 401, 403 or 429 on REST; UNAUTHENTICATED, PERMISSION_DENIED or RESOURCE_EXHAUSTED on
//! gRPC.
//!
//! The guard meters every admitted call (API calls, and AI-generated posts for a successful caption
//! request) and writes the audit log's request rows: every call of an operation that changes
//! state (with how it ended), every failed authentication and every refused permission. Failed
//! authentications are recorded at a bounded rate per source address, so a flood of junk
//! credentials cannot fill the disk; the excess is counted in the log instead.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::extract::{ConnectInfo, FromRequestParts, MatchedPath, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use eiq_service::ServiceError;
use eiq_service::access::Permission;
use eiq_service::audit::{AuditEvent, AuditLog};
use eiq_service::auth::{Authenticator, Presented, RateLimiter, RateSettings};
use eiq_service::tenancy::{Principal, TENANT_HEADER};
use eiq_service::usage::{Metric, UsageMeter};

use crate::access::{self, Access, Operation};
use crate::error::ApiError;
use crate::request_body::is_grpc;

/// Failed authentications audited per second per source address, and the burst above it.
const FAILURES_AUDITED: RateSettings = RateSettings { per_second: 5.0, burst: 20 };

/// What the guard needs: who may call, and where calls are recorded.
#[derive(Clone)]
pub struct Guard {
    authenticator: Authenticator,
    audit: AuditLog,
    usage: UsageMeter,
    failures: Arc<RateLimiter>,
}

impl Guard {
    pub fn new(authenticator: Authenticator, audit: AuditLog, usage: UsageMeter) -> Self {
        Self { authenticator, audit, usage, failures: Arc::new(RateLimiter::new(FAILURES_AUDITED)) }
    }

    async fn record(&self, event: AuditEvent) {
        if let Err(error) = self.audit.append(event, eiq_datasets::now_ms()).await {
            tracing::error!(%error, "writing the audit log failed");
        }
    }
}

/// Middleware: authenticates, authorises and audits every non-public operation.
pub async fn guard(State(guard): State<Guard>, mut request: Request, next: Next) -> Response {
    let grpc = is_grpc(request.headers());
    let operation = if grpc {
        access::of_grpc(request.uri().path())
    } else {
        match request.extensions().get::<MatchedPath>() {
            Some(path) => access::of_rest(request.method(), path.as_str(), request.uri().path()),
            None => return next.run(request).await,
        }
    };
    let Access::Requires(permission) = operation.access else { return next.run(request).await };
    let context = RequestContext::of(&request, grpc);
    match authorize(&guard.authenticator, request.headers(), operation, permission).await {
        Ok(principal) => {
            let now = eiq_datasets::now_ms();
            guard.usage.count(&principal.tenant, Metric::ApiCalls, 1, now);
            request.extensions_mut().insert(principal.clone());
            let response = next.run(request).await;
            let (outcome, status) = outcome(&response, grpc);
            if operation.generates_post && outcome == "succeeded" {
                guard.usage.count(&principal.tenant, Metric::AiGeneratedPosts, 1, now);
            }
            if operation.changes_state {
                guard.record(context.event(Some(&principal), operation, operation.name, outcome, status)).await;
            }
            response
        }
        Err((principal, err)) => {
            let event = match (&err, &principal) {
                (ServiceError::RateLimited { .. }, _) => None,
                (_, Some(_)) => Some("auth.denied"),
                (_, None) => Some("auth.failed"),
            };
            let response =
                if grpc { crate::error::grpc_status(err).into_http() } else { ApiError::from(err).into_response() };
            if let Some(event) = event {
                let throttled = principal.is_none() && guard.failures.take(&context.source_ip, Instant::now()).is_err();
                if throttled {
                    tracing::warn!(source = %context.source_ip, "failed authentications over the audited rate");
                } else {
                    let (_, status) = outcome(&response, grpc);
                    guard.record(context.event(principal.as_ref(), operation, event, "refused", status)).await;
                }
            }
            response
        }
    }
}

/// The principal, when it may run `operation`; otherwise the refusal, with the principal when it
/// authenticated.
async fn authorize(
    authenticator: &Authenticator,
    headers: &HeaderMap,
    operation: &Operation,
    permission: Permission,
) -> Result<Principal, (Option<Principal>, ServiceError)> {
    let presented = Presented {
        authorization: headers.get(header::AUTHORIZATION).map(|v| v.as_bytes()),
        tenant_header: headers.get(TENANT_HEADER).map(|v| v.as_bytes()),
    };
    let principal =
        authenticator.authenticate(presented, chrono::Utc::now().timestamp()).await.map_err(|err| (None, err))?;
    match authenticator.authorize(&principal, permission, operation.ai_feature) {
        Ok(()) => Ok(principal),
        Err(err) => Err((Some(principal), err)),
    }
}

/// What an audit row says of the request itself.
struct RequestContext {
    grpc: bool,
    action: String,
    path: String,
    source_ip: String,
    user_agent: String,
    /// The public part of a presented API key, never the rest of any credential.
    key_prefix: Option<String>,
}

impl RequestContext {
    fn of(request: &Request, grpc: bool) -> Self {
        let headers = request.headers();
        // The audit log bounds every field it stores.
        let path = request.uri().path().to_string();
        let action = if grpc { path.clone() } else { format!("{} {path}", request.method()) };
        let key_prefix = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_whitespace().nth(1))
            .and_then(eiq_service::tenants::prefix_of)
            .map(String::from);
        Self {
            grpc,
            action,
            path,
            source_ip: request
                .extensions()
                .get::<ConnectInfo<SocketAddr>>()
                .map_or_else(String::new, |ConnectInfo(peer)| peer.ip().to_string()),
            user_agent: headers.get(header::USER_AGENT).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string(),
            key_prefix,
        }
    }

    fn event(
        &self,
        principal: Option<&Principal>,
        operation: &Operation,
        event: &str,
        outcome: &str,
        status: String,
    ) -> AuditEvent {
        let actor = match principal {
            Some(p) => p.actor().unwrap_or(p.credential.method()).to_string(),
            None => self.key_prefix.clone().unwrap_or_else(|| "-".into()),
        };
        AuditEvent {
            tenant: principal.map(|p| p.tenant.clone()),
            actor,
            auth_method: principal.map_or("", |p| p.credential.method()).to_string(),
            role: principal.map_or("", |p| p.role.as_str()).to_string(),
            event: event.to_string(),
            resource: self.path.clone(),
            action: self.action.clone(),
            outcome: outcome.to_string(),
            source_ip: self.source_ip.clone(),
            user_agent: self.user_agent.clone(),
            details: serde_json::json!({
                "protocol": if self.grpc { "grpc" } else { "rest" },
                "operation": operation.name,
                "status": status,
            }),
        }
    }
}

/// How a response ended: `succeeded` or `failed`, and its status (HTTP, or gRPC's code when the
/// call failed at once; a gRPC call that started answering is `0`).
fn outcome(response: &Response, grpc: bool) -> (&'static str, String) {
    let status = if grpc {
        response.headers().get("grpc-status").and_then(|v| v.to_str().ok()).unwrap_or("0").to_string()
    } else {
        response.status().as_u16().to_string()
    };
    let succeeded = if grpc { status == "0" } else { response.status().is_success() };
    (if succeeded { "succeeded" } else { "failed" }, status)
}

/// The principal [`guard`] admitted; a handler outside the guard is a server bug.
fn admitted(extensions: &axum::http::Extensions) -> Result<Principal, ServiceError> {
    extensions.get::<Principal>().cloned().ok_or_else(|| ServiceError::internal("principal", "route outside the guard"))
}

/// The principal of a gRPC request.
pub fn of_grpc<T>(request: &tonic::Request<T>) -> Result<Principal, tonic::Status> {
    admitted(request.extensions()).map_err(crate::error::grpc_status)
}

/// A REST handler's principal, as an extractor.
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        Ok(Caller(admitted(&parts.extensions)?))
    }
}
