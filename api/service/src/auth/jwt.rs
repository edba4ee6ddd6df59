//! SSO: a JWT signed by one of the keys of a JWKS file the operator configures.
//!
//! Only RS256 and ES256 are accepted, and a token's algorithm must be its key's, so a token cannot
//! pick a weaker check (`none`, or HS256 keyed with a public key). The audience and the expiry are
//! always required; the issuer when one is configured. Which claims name the tenant and the role
//! is configurable, since identity providers differ (`tenant`/`role` by default). The keys are read
//! once at start-up from a file: this machine, like many deployments, cannot fetch them.

use std::path::PathBuf;

use jsonwebtoken::jwk::{Jwk, JwkSet};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};

use crate::tenancy::{Role, TenantId};

/// Longest token read; a longer one is refused before it is parsed.
pub const MAX_TOKEN_BYTES: usize = 8 * 1024;
/// Clock skew tolerated on `exp` and `nbf`, in seconds.
const LEEWAY_SECS: u64 = 30;
/// Longest subject kept (for audit and rate limits).
const MAX_SUBJECT_CHARS: usize = 128;

/// How tokens are checked (`eiq serve --jwks-file …`).
#[derive(Debug, Clone)]
pub struct JwtSettings {
    pub jwks_file: PathBuf,
    /// The `aud` a token must carry.
    pub audience: String,
    /// The `iss` a token must carry, if any is configured.
    pub issuer: Option<String>,
    /// The claim naming the tenant.
    pub tenant_claim: String,
    /// The claim naming the role.
    pub role_claim: String,
}

/// Who a valid token acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SsoIdentity {
    pub tenant: TenantId,
    pub role: Role,
    /// The token's `sub` (empty when it has none).
    pub subject: String,
}

pub struct JwtVerifier {
    keys: Vec<(Jwk, DecodingKey, Algorithm)>,
    settings: JwtSettings,
}

impl JwtVerifier {
    /// Reads the JWKS file; every key must be a usable RS256 or ES256 key.
    pub fn from_file(settings: JwtSettings) -> Result<Self, String> {
        let text = std::fs::read_to_string(&settings.jwks_file).map_err(|e| format!("reading the JWKS file: {e}"))?;
        let set: JwkSet = serde_json::from_str(&text).map_err(|e| format!("the JWKS file is not a JWK set: {e}"))?;
        if set.keys.is_empty() {
            return Err("the JWKS file has no keys".into());
        }
        let keys = set
            .keys
            .into_iter()
            .map(|jwk| {
                let algorithm = algorithm_of(&jwk)?;
                let key = DecodingKey::from_jwk(&jwk).map_err(|e| format!("a JWKS key is unusable: {e}"))?;
                Ok((jwk, key, algorithm))
            })
            .collect::<Result<_, String>>()?;
        Ok(Self { keys, settings })
    }

    /// The identity in `token`, or why it is refused (for the log; the caller only hears 401).
    pub fn verify(&self, token: &str) -> Result<SsoIdentity, String> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err("token too long".into());
        }
        let header = jsonwebtoken::decode_header(token).map_err(|e| format!("malformed token: {e}"))?;
        let (_, key, algorithm) = self
            .keys
            .iter()
            .find(|(jwk, _, _)| match &header.kid {
                Some(kid) => jwk.common.key_id.as_deref() == Some(kid.as_str()),
                None => self.keys.len() == 1,
            })
            .ok_or("no configured key matches the token's `kid`")?;
        if header.alg != *algorithm {
            return Err(format!("the token's algorithm {:?} is not its key's", header.alg));
        }
        let mut validation = Validation::new(*algorithm);
        validation.set_audience(&[&self.settings.audience]);
        validation.set_required_spec_claims(&["exp", "aud"]);
        validation.leeway = LEEWAY_SECS;
        validation.validate_nbf = true;
        if let Some(issuer) = &self.settings.issuer {
            validation.set_issuer(&[issuer]);
        }
        let claims = jsonwebtoken::decode::<serde_json::Map<String, serde_json::Value>>(token, key, &validation)
            .map_err(|e| format!("token refused: {e}"))?
            .claims;
        let text = |claim: &str| claims.get(claim).and_then(serde_json::Value::as_str);
        let tenant = text(&self.settings.tenant_claim)
            .and_then(|name| TenantId::parse(name).ok())
            .ok_or_else(|| format!("the `{}` claim is missing or not a tenant name", self.settings.tenant_claim))?;
        let role = text(&self.settings.role_claim)
            .and_then(Role::parse)
            .ok_or_else(|| format!("the `{}` claim is missing or not a role", self.settings.role_claim))?;
        let subject = text("sub").unwrap_or_default().chars().take(MAX_SUBJECT_CHARS).collect();
        Ok(SsoIdentity { tenant, role, subject })
    }
}

/// The one algorithm a key verifies: RS256 for RSA keys, ES256 for P-256 keys.
fn algorithm_of(jwk: &Jwk) -> Result<Algorithm, String> {
    use jsonwebtoken::jwk::{AlgorithmParameters, EllipticCurve};
    let algorithm = match &jwk.algorithm {
        AlgorithmParameters::RSA(_) => Algorithm::RS256,
        AlgorithmParameters::EllipticCurve(ec) if ec.curve == EllipticCurve::P256 => Algorithm::ES256,
        _ => return Err("JWKS keys must be RSA (RS256) or P-256 (ES256)".into()),
    };
    match jwk.common.key_algorithm.map(|declared| format!("{declared:?}")) {
        Some(declared) if declared != format!("{algorithm:?}") => {
            Err(format!("a JWKS key declares `{declared}`; only RS256 and ES256 are accepted"))
        }
        _ => Ok(algorithm),
    }
}
