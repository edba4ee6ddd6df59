//! Who is calling: a request's credential becomes a [`Principal`], the same way for REST and gRPC
//! (gRPC metadata are HTTP/2 headers, so both edges hand over the same [`Presented`] headers).
//!
//! - **`Authorization: Bearer eiq_…`** is an API key, looked up on every request, so a revoked key
//!   is refused at once on every replica sharing the database.
//! - **`Authorization: Bearer <JWT>`** is SSO, checked against the configured JWKS (`jwt.rs`). Its
//!   tenant must exist and be on a plan that includes SSO.
//!
//! [`Authenticator::authorize`] then checks the principal's role holds the operation's permission
//! and, for AI features, that the tenant's plan includes them.
//! - **No credential** is served only in development mode: no tenant exists yet and the server
//!   listens on loopback only (or the operator passed `--insecure-no-auth`). Every request is then
//!   the admin of the tenant its `x-tenant-id` names, as before the tenant layer. Creating the first
//!   tenant ends development mode within a second, without a restart.
//!
//! With a credential, `x-tenant-id` may be omitted; when sent, it must name the credential's own
//! tenant. Every authenticated credential has a request rate (`rate.rs`). Failures are one
//! [`ServiceError::Unauthenticated`] whatever the reason (unknown, altered, expired or revoked key),
//! so an attacker learns nothing from the answer; the reason goes to the log.

mod jwt;
mod rate;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::access::Permission;
use crate::error::ServiceError;
use crate::tenancy::{Credential, Principal};
use crate::tenants::TenantDirectory;

pub use jwt::{JwtSettings, JwtVerifier, MAX_TOKEN_BYTES, SsoIdentity};
pub use rate::{RateLimiter, RateSettings};

/// How long a "no tenants yet" answer is trusted before the database is asked again.
const DEVELOPMENT_RECHECK: Duration = Duration::from_secs(1);

const MISSING: &str = "this server requires a credential: send `Authorization: Bearer <API key>`";
const MALFORMED: &str = "malformed `Authorization` header: expected `Bearer <API key or token>`";
const REFUSED: &str = "invalid credential: unknown, expired or revoked";

/// How a server authenticates (from `eiq serve`'s flags and where it listens).
pub struct AuthSettings {
    /// Whether requests without a credential are served while no tenant exists: the server
    /// listens on loopback only, or the operator accepted the risk (`--insecure-no-auth`).
    pub development_allowed: bool,
    /// SSO tokens, when a JWKS file is configured.
    pub jwt: Option<JwtVerifier>,
    pub rate: RateSettings,
}

/// What a request presents, as raw header values.
#[derive(Debug, Clone, Copy, Default)]
pub struct Presented<'a> {
    pub authorization: Option<&'a [u8]>,
    pub tenant_header: Option<&'a [u8]>,
}

/// Turns credentials into principals; cheap to clone.
#[derive(Clone)]
pub struct Authenticator {
    inner: Arc<Inner>,
}

struct Inner {
    directory: TenantDirectory,
    jwt: Option<JwtVerifier>,
    development_allowed: bool,
    /// Set once a tenant exists: development mode is then over for good.
    tenants_exist: AtomicBool,
    /// When the database last said it has no tenants.
    no_tenants_at: Mutex<Option<Instant>>,
    limiter: RateLimiter,
}

impl Authenticator {
    pub fn new(directory: TenantDirectory, settings: AuthSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                directory,
                jwt: settings.jwt,
                development_allowed: settings.development_allowed,
                tenants_exist: AtomicBool::new(false),
                no_tenants_at: Mutex::new(None),
                limiter: RateLimiter::new(settings.rate),
            }),
        }
    }

    pub fn directory(&self) -> &TenantDirectory {
        &self.inner.directory
    }

    /// Whether requests without a credential are served now.
    pub async fn development_mode(&self) -> Result<bool, ServiceError> {
        let inner = &self.inner;
        if !inner.development_allowed || inner.tenants_exist.load(Ordering::Acquire) {
            return Ok(false);
        }
        let fresh = |at: &Option<Instant>| at.is_some_and(|at| at.elapsed() < DEVELOPMENT_RECHECK);
        if fresh(&inner.no_tenants_at.lock().unwrap_or_else(|p| p.into_inner())) {
            return Ok(true);
        }
        if inner.directory.has_tenants().await? {
            if !inner.tenants_exist.swap(true, Ordering::AcqRel) {
                tracing::warn!("a tenant exists: development mode is over, every request needs a credential");
            }
            return Ok(false);
        }
        *inner.no_tenants_at.lock().unwrap_or_else(|p| p.into_inner()) = Some(Instant::now());
        Ok(true)
    }

    /// The principal of a request presenting `presented`, at Unix time `now`.
    pub async fn authenticate(&self, presented: Presented<'_>, now: i64) -> Result<Principal, ServiceError> {
        let Some(authorization) = presented.authorization else {
            return match self.development_mode().await? {
                true => Principal::from_tenant_header(presented.tenant_header),
                false => Err(ServiceError::unauthenticated(MISSING)),
            };
        };
        let principal = self.verify(bearer_token(authorization)?, now).await?;
        if let Some(header) = presented.tenant_header {
            let named = Principal::from_tenant_header(Some(header))?.tenant;
            if named != principal.tenant {
                return Err(ServiceError::forbidden("`x-tenant-id` names another tenant than the credential"));
            }
        }
        self.take_token(&principal)?;
        Ok(principal)
    }

    async fn verify(&self, token: &str, now: i64) -> Result<Principal, ServiceError> {
        if token.starts_with("eiq_") {
            let identity = self.inner.directory.authenticate(token, now).await?.ok_or_else(|| {
                tracing::info!(prefix = crate::tenants::prefix_of(token).unwrap_or("?"), "API key refused");
                ServiceError::unauthenticated(REFUSED)
            })?;
            let credential = Credential::ApiKey { prefix: identity.prefix };
            let plan = Some(identity.plan);
            return Ok(Principal { tenant: identity.tenant, role: identity.role, credential, plan });
        }
        let Some(jwt) = &self.inner.jwt else {
            return Err(ServiceError::unauthenticated(REFUSED));
        };
        let identity = jwt.verify(token).map_err(|reason| {
            tracing::info!(%reason, "SSO token refused");
            ServiceError::unauthenticated(REFUSED)
        })?;
        let plan = match self.inner.directory.plan(&identity.tenant).await {
            Ok(plan) => plan,
            Err(ServiceError::NotFound { .. }) => {
                tracing::info!(tenant = %identity.tenant, "SSO token for an unknown tenant");
                return Err(ServiceError::unauthenticated(REFUSED));
            }
            Err(other) => return Err(other),
        };
        if !self.inner.directory.plans().limits(plan).sso {
            return Err(ServiceError::forbidden(format!(
                "SSO sign-in is not part of the {} plan this tenant is on",
                plan.as_str()
            )));
        }
        let credential = Credential::Sso { subject: identity.subject };
        Ok(Principal { tenant: identity.tenant, role: identity.role, credential, plan: Some(plan) })
    }

    /// Whether `principal` may run an operation needing `permission` (and, for an AI feature,
    /// a plan that includes them): the role's table, then the plan's.
    pub fn authorize(
        &self,
        principal: &Principal,
        permission: Permission,
        ai_feature: bool,
    ) -> Result<(), ServiceError> {
        if !principal.role.allows(permission) {
            return Err(ServiceError::forbidden(format!(
                "the `{}` role does not have the `{}` permission this operation needs",
                principal.role.as_str(),
                permission.as_str()
            )));
        }
        if let Some(plan) = principal.plan
            && ai_feature
            && !self.inner.directory.plans().limits(plan).ai_features
        {
            return Err(ServiceError::forbidden(format!(
                "this is an AI feature, which the {} plan does not include",
                plan.as_str()
            )));
        }
        Ok(())
    }

    fn take_token(&self, principal: &Principal) -> Result<(), ServiceError> {
        let Some(actor) = principal.actor() else { return Ok(()) };
        let bucket = format!("{}\u{0}{}\u{0}{actor}", principal.tenant, principal.credential.method());
        self.inner.limiter.take(&bucket, Instant::now()).map_err(|retry_after| ServiceError::RateLimited {
            message: format!("this credential's request rate is exceeded; retry in {} ms", retry_after.as_millis()),
            retry_after,
        })
    }
}

/// The token of an `Authorization: Bearer <token>` value.
fn bearer_token(value: &[u8]) -> Result<&str, ServiceError> {
    let malformed = || ServiceError::unauthenticated(MALFORMED);
    if value.len() > MAX_TOKEN_BYTES + 16 {
        return Err(malformed());
    }
    let text = std::str::from_utf8(value).map_err(|_| malformed())?;
    let (scheme, token) = text.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    let visible = !token.is_empty() && token.bytes().all(|b| b.is_ascii_graphic());
    if !scheme.eq_ignore_ascii_case("bearer") || !visible {
        return Err(malformed());
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_values_are_read_strictly() {
        assert_eq!(bearer_token(b"Bearer eiq_abc").unwrap(), "eiq_abc");
        assert_eq!(bearer_token(b"bearer  tok.en ").unwrap(), "tok.en");
        for bad in [&b"eiq_abc"[..], b"Basic dXNlcg==", b"Bearer ", b"Bearer a b", b"Bearer \xff", b""] {
            assert!(bearer_token(bad).is_err(), "{bad:?}");
        }
        assert!(bearer_token(&[b'a'; 20_000]).is_err());
    }
}
