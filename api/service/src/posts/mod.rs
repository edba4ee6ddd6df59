//! Posts against platform rules: `POST /v1/posts:check` and the rules in effect for a tenant.
//!
//! The rules are data (`rules.rs`, `platforms.toml`); checking is a pure function (`check.rs`);
//! this service adds what depends on the caller: input limits, the tenant's overrides (kept in
//! `<data dir>/platforms/<tenant>.json`, replaced atomically) and running big texts off the
//! async workers.

mod check;
mod rules;

use std::path::PathBuf;
use std::sync::Arc;

pub use check::{Length, MediaItem, PostCheck, Violation, evaluate, evaluate_text, measure};
pub use rules::{
    LengthUnit, MAX_RULE_VALUE, MediaKind, MediaKindRules, MediaRules, PlatformRules, RuleOverride, TenantOverrides,
    builtin, find,
};

use crate::error::ServiceError;
use crate::tenancy::Principal;

/// Longest post text accepted, in bytes: Facebook's 63,206 characters at 4 bytes each fit.
pub const MAX_POST_BYTES: usize = 256 * 1024;
/// Longest title, in bytes.
pub const MAX_TITLE_BYTES: usize = 4 * 1024;
/// Most media items described in one check.
pub const MAX_MEDIA_ITEMS: usize = 64;
/// Largest width or height, in pixels.
pub const MAX_MEDIA_PIXELS_SIDE: u32 = 100_000;
/// Longest media duration, in seconds (a week).
pub const MAX_MEDIA_DURATION_S: f64 = 604_800.0;
/// Texts longer than this are checked on a blocking thread.
const INLINE_CHECK_BYTES: usize = 16 * 1024;

/// A post to check, as the caller sent it.
#[derive(Debug, Clone)]
pub struct PostCheckRequest {
    pub text: String,
    pub platform: String,
    pub title: Option<String>,
    pub media: Vec<MediaDescription>,
}

/// A media item in the caller's words (`kind`: photo, video or gif), checked by the service.
#[derive(Debug, Clone, Default)]
pub struct MediaDescription {
    pub kind: String,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_s: Option<f64>,
    pub bytes: Option<u64>,
}

/// One platform's rules as a tenant sees them.
#[derive(Debug, Clone, PartialEq)]
pub struct EffectiveRules {
    pub rules: PlatformRules,
    /// The tenant's override (empty when it has none).
    pub overrides: RuleOverride,
}

#[derive(Clone)]
pub struct PostRulesService {
    inner: Arc<Inner>,
}

struct Inner {
    overrides_dir: PathBuf,
    /// Serialises writers of one file (readers see the old or the new file, never half).
    write: tokio::sync::Mutex<()>,
}

impl PostRulesService {
    pub fn new(data_dir: &std::path::Path) -> Self {
        std::thread::spawn(eiq_datasets::twitter_text::warm_up);
        Self {
            inner: Arc::new(Inner { overrides_dir: data_dir.join("platforms"), write: tokio::sync::Mutex::new(()) }),
        }
    }

    /// Checks a post against the rules in effect for the caller's tenant.
    pub async fn check(&self, principal: &Principal, request: PostCheckRequest) -> Result<PostCheck, ServiceError> {
        let media = validate(&request)?;
        let rules = self.rules_for(principal, &request.platform).await?.rules;
        let PostCheckRequest { text, title, .. } = request;
        if text.len() <= INLINE_CHECK_BYTES {
            return Ok(evaluate(&rules, &text, title.as_deref(), &media));
        }
        tokio::task::spawn_blocking(move || evaluate(&rules, &text, title.as_deref(), &media))
            .await
            .map_err(|err| ServiceError::internal("post check", err))
    }

    /// Every platform's rules for the caller's tenant, in the table's order.
    pub async fn platforms(&self, principal: &Principal) -> Result<Vec<EffectiveRules>, ServiceError> {
        let overrides = self.overrides(principal).await?;
        Ok(builtin()
            .iter()
            .map(|rules| {
                let own = overrides.get(&rules.id).cloned().unwrap_or_default();
                EffectiveRules { rules: own.apply(rules), overrides: own }
            })
            .collect())
    }

    /// One platform's rules for the caller's tenant; an unknown platform is a 422 listing the known.
    pub async fn rules_for(&self, principal: &Principal, platform: &str) -> Result<EffectiveRules, ServiceError> {
        let builtin = find("platform", platform)?;
        let own = self.overrides(principal).await?.remove(&builtin.id).unwrap_or_default();
        Ok(EffectiveRules { rules: own.apply(builtin), overrides: own })
    }

    /// Replaces the tenant's override of one platform (an empty one restores the table's rules).
    pub async fn set_override(
        &self,
        principal: &Principal,
        platform: &str,
        change: RuleOverride,
    ) -> Result<EffectiveRules, ServiceError> {
        let builtin = find("platform", platform)?;
        change.validate()?;
        let _writer = self.inner.write.lock().await;
        let mut overrides = self.overrides(principal).await?;
        if change == RuleOverride::default() {
            overrides.remove(&builtin.id);
        } else {
            overrides.insert(builtin.id.clone(), change.clone());
        }
        let path = self.path(principal);
        let body =
            serde_json::to_vec_pretty(&overrides).map_err(|err| ServiceError::internal("platform overrides", err))?;
        let write = async {
            tokio::fs::create_dir_all(&self.inner.overrides_dir).await?;
            let staged = path.with_extension("json.tmp");
            tokio::fs::write(&staged, &body).await?;
            tokio::fs::rename(&staged, &path).await
        };
        write.await.map_err(|err| ServiceError::internal("platform overrides", err))?;
        Ok(EffectiveRules { rules: change.apply(builtin), overrides: change })
    }

    fn path(&self, principal: &Principal) -> PathBuf {
        // A TenantId is 1–64 of [A-Za-z0-9_-] (tenancy.rs), so it is a safe file name.
        self.inner.overrides_dir.join(format!("{}.json", principal.tenant.as_str()))
    }

    async fn overrides(&self, principal: &Principal) -> Result<TenantOverrides, ServiceError> {
        match tokio::fs::read(self.path(principal)).await {
            Ok(bytes) => {
                serde_json::from_slice(&bytes).map_err(|err| ServiceError::internal("platform overrides", err))
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(TenantOverrides::new()),
            Err(err) => Err(ServiceError::internal("platform overrides", err)),
        }
    }
}

/// Every size and number a caller sends, before any work; the media items, parsed.
fn validate(request: &PostCheckRequest) -> Result<Vec<MediaItem>, ServiceError> {
    if request.text.len() > MAX_POST_BYTES {
        return Err(ServiceError::invalid(
            "text",
            format!("text is {} bytes; at most {MAX_POST_BYTES} are checked", request.text.len()),
        ));
    }
    if let Some(title) = &request.title
        && title.len() > MAX_TITLE_BYTES
    {
        return Err(ServiceError::invalid(
            "title",
            format!("title is {} bytes; at most {MAX_TITLE_BYTES}", title.len()),
        ));
    }
    if request.media.len() > MAX_MEDIA_ITEMS {
        return Err(ServiceError::invalid(
            "media",
            format!("{} media items; at most {MAX_MEDIA_ITEMS} are checked", request.media.len()),
        ));
    }
    let mut media = Vec::with_capacity(request.media.len());
    for (index, item) in request.media.iter().enumerate() {
        let kind = MediaKind::parse(&format!("media[{index}].type"), &item.kind)?;
        for (name, side) in [("width", item.width), ("height", item.height)] {
            if let Some(side) = side
                && !(1..=MAX_MEDIA_PIXELS_SIDE).contains(&side)
            {
                let field = format!("media[{index}].{name}");
                return Err(ServiceError::invalid(
                    field.clone(),
                    format!("{field} is {side}; it must be 1–{MAX_MEDIA_PIXELS_SIDE} pixels"),
                ));
            }
        }
        if let Some(duration) = item.duration_s
            && !(duration.is_finite() && (0.0..=MAX_MEDIA_DURATION_S).contains(&duration))
        {
            let field = format!("media[{index}].duration_s");
            return Err(ServiceError::invalid(
                field.clone(),
                format!("{field} must be 0–{MAX_MEDIA_DURATION_S} seconds"),
            ));
        }
        let MediaDescription { width, height, duration_s, bytes, .. } = *item;
        media.push(MediaItem { kind, width, height, duration_s, bytes });
    }
    Ok(media)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tenancy::TenantId;

    fn principal(tenant: &str) -> Principal {
        let mut principal = Principal::from_tenant_header(None).unwrap();
        principal.tenant = TenantId::parse(tenant).unwrap();
        principal
    }

    fn request(text: &str, platform: &str) -> PostCheckRequest {
        PostCheckRequest { text: text.into(), platform: platform.into(), title: None, media: Vec::new() }
    }

    #[tokio::test]
    async fn a_tenants_override_applies_to_it_alone_and_survives_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let service = PostRulesService::new(dir.path());
        let (acme, other) = (principal("acme"), principal("other"));
        let long = "a".repeat(600);
        assert!(!service.check(&acme, request(&long, "mastodon")).await.unwrap().valid);
        let change = RuleOverride { limit: Some(5_000), ..Default::default() };
        service.set_override(&acme, "Mastodon", change.clone()).await.unwrap();
        let reopened = PostRulesService::new(dir.path());
        assert!(reopened.check(&acme, request(&long, "mastodon")).await.unwrap().valid);
        assert!(!reopened.check(&other, request(&long, "mastodon")).await.unwrap().valid);
        let listed = reopened.platforms(&acme).await.unwrap();
        let mastodon = listed.iter().find(|p| p.rules.id == "mastodon").unwrap();
        assert_eq!((mastodon.rules.limit, mastodon.overrides.overridden()), (5_000, vec!["limit"]));
        reopened.set_override(&acme, "mastodon", RuleOverride::default()).await.unwrap();
        assert!(!reopened.check(&acme, request(&long, "mastodon")).await.unwrap().valid);
    }

    #[tokio::test]
    async fn bad_input_is_refused_with_the_field_named() {
        let service = PostRulesService::new(tempfile::tempdir().unwrap().path());
        let caller = principal("acme");
        let err = service.check(&caller, request("hi", "friendster")).await.unwrap_err();
        assert_eq!(err.param(), Some("platform"));
        let err = service.check(&caller, request(&"a".repeat(MAX_POST_BYTES + 1), "x")).await.unwrap_err();
        assert_eq!(err.param(), Some("text"));
        let mut zero = request("hi", "x");
        zero.media.push(MediaDescription {
            kind: "photo".into(),
            width: Some(0),
            height: Some(0),
            ..Default::default()
        });
        assert_eq!(service.check(&caller, zero).await.unwrap_err().param(), Some("media[0].width"));
        let mut nan = request("hi", "x");
        nan.media.push(MediaDescription { kind: "video".into(), duration_s: Some(f64::NAN), ..Default::default() });
        assert_eq!(service.check(&caller, nan).await.unwrap_err().param(), Some("media[0].duration_s"));
        let mut pdf = request("hi", "x");
        pdf.media.push(MediaDescription { kind: "pdf".into(), ..Default::default() });
        assert_eq!(service.check(&caller, pdf).await.unwrap_err().param(), Some("media[0].type"));
        // The largest accepted text is checked, off the async workers.
        let big = service.check(&caller, request(&"日".repeat(MAX_POST_BYTES / 3), "facebook")).await.unwrap();
        assert_eq!(big.length.used, MAX_POST_BYTES / 3);
    }
}
