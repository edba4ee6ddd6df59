//! Who a call acts for: a [`Principal`], built once at each protocol's edge and passed as the first
//! argument of every tenant-scoped service method.
//!
//! A [`TenantId`] is validated in one place ([`TenantId::parse`]), so a service holding one never
//! checks it again and a name that could escape the data directory never reaches the store.
//! The [`crate::auth::Authenticator`] derives it from the request's `Authorization: Bearer`
//! credential (an API key or an SSO token); in development mode (no tenants, loopback only) from
//! the `x-tenant-id` header, as the admin of the tenant it names.

use std::fmt;

use crate::error::ServiceError;
use crate::limits::excerpt;
use crate::tenants::Plan;

/// Requests name their tenant in this header (REST) or metadata entry (gRPC).
pub const TENANT_HEADER: &str = "x-tenant-id";
/// The tenant of a request that names none.
pub const DEFAULT_TENANT: &str = "default";

/// A tenant name: 1–64 of `A–Z a–z 0–9 - _` (it names a directory).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TenantId(String);

impl TenantId {
    pub fn parse(name: &str) -> Result<Self, ServiceError> {
        eiq_features::store::checked_tenant(name).map(|plain| Self(plain.to_string())).map_err(|_| {
            ServiceError::invalid(
                TENANT_HEADER,
                format!("tenant `{}` must be 1–64 of A–Z, a–z, 0–9, `-`, `_`", excerpt(name)),
            )
        })
    }

    pub fn default_tenant() -> Self {
        Self(DEFAULT_TENANT.to_string())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TenantId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the caller may do within its tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Everything, including imports and keys. Every caller of a server without tenants.
    Admin,
    /// Writes and submits posts, imports history, uses the AI features.
    Editor,
    /// Approves or rejects submitted posts, and reads.
    Approver,
    /// Reads.
    Viewer,
    /// Another service calling this one: the capabilities, without managing the tenant.
    Service,
}

impl Role {
    pub const NAMES: &'static str = "admin, editor, approver, viewer, service";

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Editor => "editor",
            Role::Approver => "approver",
            Role::Viewer => "viewer",
            Role::Service => "service",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        [Role::Admin, Role::Editor, Role::Approver, Role::Viewer, Role::Service]
            .into_iter()
            .find(|r| r.as_str() == name)
    }
}

/// How the caller proved who it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Credential {
    /// Development mode: it named its tenant in `x-tenant-id` (or named none, and is `default`'s).
    TenantHeader,
    /// The operator at the machine, running a CLI command over the data directory.
    Local,
    /// An API key, known by its prefix.
    ApiKey { prefix: String },
    /// A JWT signed by a key of the configured JWKS, for `subject`.
    Sso { subject: String },
}

impl Credential {
    /// How audit records and logs name the method.
    pub fn method(&self) -> &'static str {
        match self {
            Credential::TenantHeader => "development",
            Credential::Local => "local",
            Credential::ApiKey { .. } => "api_key",
            Credential::Sso { .. } => "sso",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    pub tenant: TenantId,
    pub role: Role,
    pub credential: Credential,
    /// The tenant's plan; `None` for the operator and development mode, which no plan limits.
    pub plan: Option<Plan>,
}

impl Principal {
    /// The operator running a CLI command for `tenant`.
    pub fn local(tenant: TenantId) -> Self {
        Self { tenant, role: Role::Admin, credential: Credential::Local, plan: None }
    }

    /// Who this principal is within its tenant: the key's prefix, the token's subject.
    pub fn actor(&self) -> Option<&str> {
        match &self.credential {
            Credential::ApiKey { prefix } => Some(prefix),
            Credential::Sso { subject } => Some(subject),
            Credential::TenantHeader | Credential::Local => None,
        }
    }

    /// The development-mode principal of a request whose `x-tenant-id` holds `header` (`None`
    /// when absent).
    pub fn from_tenant_header(header: Option<&[u8]>) -> Result<Self, ServiceError> {
        let tenant = match header {
            None => TenantId::default_tenant(),
            Some(value) => {
                let visible = value.iter().all(|&b| b == b'\t' || (b' '..=b'~').contains(&b));
                let text = std::str::from_utf8(value).ok().filter(|_| visible).ok_or_else(|| {
                    ServiceError::invalid(TENANT_HEADER, format!("`{TENANT_HEADER}` is not visible ASCII"))
                })?;
                TenantId::parse(text.trim())?
            }
        };
        Ok(Self { tenant, role: Role::Admin, credential: Credential::TenantHeader, plan: None })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tenant_ids_are_plain_names_and_errors_quote_a_prefix() {
        assert_eq!(TenantId::parse("acme_1-x").unwrap().as_str(), "acme_1-x");
        for bad in ["", "../x", "a b", "é", &"a".repeat(65)] {
            assert!(TenantId::parse(bad).is_err(), "{bad}");
        }
        let err = TenantId::parse(&"/".repeat(8_000)).unwrap_err();
        assert!(err.to_string().len() < 200, "{err}");
        assert_eq!(err.param(), Some(TENANT_HEADER));
    }

    #[test]
    fn a_request_naming_no_tenant_is_the_default_tenants() {
        assert_eq!(Principal::from_tenant_header(None).unwrap().tenant.as_str(), DEFAULT_TENANT);
        assert_eq!(Principal::from_tenant_header(Some(b" acme ")).unwrap().tenant.as_str(), "acme");
        let err = Principal::from_tenant_header(Some("ä".as_bytes())).unwrap_err();
        assert!(err.to_string().contains("visible ASCII"), "{err}");
    }
}
