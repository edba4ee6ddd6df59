//! Publishing with approval: drafts pass the moderation gate, wait for an approver when they must,
//! and are delivered once, at their time, to the tenant's webhook or outbox.
//!
//! - [`states`]: the lifecycle, and the rule that every transition is one conditional update.
//! - [`lifecycle`]: what callers do to posts (create, submit, approve, reject, cancel, reschedule,
//!   retry), each audited as a publishing step.
//! - [`scheduler`]: the durable job loop inside `eiq serve`. Deliveries are rows with `run_at`, a
//!   lease and attempts, so they survive restarts and are shared by replicas.
//! - [`connectors`]: the webhook (signed, SSRF-checked through [`address`]) and the outbox.
//! - [`secrets`]: webhook secrets sealed at rest.
//!
//! A post counts against its plan's posts per month when it is scheduled; a cancel gives it back.

pub mod address;
pub mod connectors;
mod lifecycle;
pub mod scheduler;
pub mod secrets;
pub mod states;

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::audit::AuditLog;
use crate::engagement::ForecastService;
use crate::error::ServiceError;
use crate::posts::PostRulesService;
use crate::tenancy::{Principal, TenantId};
use crate::tenants::{Database, PlanBook};
use crate::text::GateService;
use crate::usage::UsageMeter;

pub use connectors::{Attempt, Delivery, Outbox, WebhookSender};
pub use lifecycle::{ListQuery, NewPost, PostAction, PostPage, Transitioned};
pub use secrets::SecretBox;
pub use states::{PostState, Transition};

/// Most platforms, accounts and media references in one post.
pub const MAX_POST_PLATFORMS: usize = 10;
pub const MAX_POST_ACCOUNTS: usize = 20;
pub const MAX_MEDIA_REFS: usize = 10;
/// Longest media reference and `Idempotency-Key`.
pub const MAX_REF_BYTES: usize = 2_048;
pub const MAX_IDEMPOTENCY_KEY_BYTES: usize = 255;
/// Webhook secrets: long enough to resist guessing, short enough to bound.
pub const MIN_SECRET_BYTES: usize = 16;
pub const MAX_SECRET_BYTES: usize = 256;
/// Longest rejection reason an approver may give.
pub const MAX_NOTE_BYTES: usize = 1_000;
/// Furthest ahead a post may be scheduled.
pub const MAX_SCHEDULE_AHEAD_MS: i64 = 2 * 365 * 24 * 3_600 * 1_000;

/// A media item a post refers to (it is not uploaded here): where it is, and what kind it is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    #[serde(rename = "ref")]
    pub reference: String,
    /// photo, video or gif.
    pub kind: String,
}

/// What a post says, and where.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostContent {
    /// Platform → text, in the platform's rules.
    pub texts: BTreeMap<String, String>,
    pub accounts: Vec<String>,
    pub media: Vec<MediaRef>,
}

/// One delivery of a post, as the post reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryStatus {
    pub platform: String,
    pub connector: String,
    /// pending, delivered, dead or cancelled.
    pub state: String,
    pub attempts: u32,
    pub last_error: String,
    /// Unix milliseconds.
    pub run_at: i64,
    pub delivered_at: Option<i64>,
}

/// A post as stored.
#[derive(Debug, Clone)]
pub struct Post {
    pub id: String,
    pub state: PostState,
    pub content: PostContent,
    /// Unix milliseconds; `None`: as soon as it is approved.
    pub scheduled_at: Option<i64>,
    /// `time`, `best` or `now`.
    pub schedule: String,
    /// The gate's reasons for a rejection (or an approver's note), or why publishing failed.
    pub reasons: serde_json::Value,
    pub created_by: String,
    pub created_at: i64,
    pub updated_at: i64,
    pub deliveries: Vec<DeliveryStatus>,
}

/// How a tenant publishes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishingSettings {
    /// An `allow` from the gate still waits for an approver.
    pub approval_required: bool,
    /// Deliveries are appended to the tenant's JSON Lines outbox.
    pub outbox: bool,
    pub webhook_url: Option<String>,
    /// Whether a webhook secret is stored (it is never shown again).
    pub webhook_secret_set: bool,
}

impl Default for PublishingSettings {
    fn default() -> Self {
        Self { approval_required: true, outbox: true, webhook_url: None, webhook_secret_set: false }
    }
}

/// The settings a caller sets, whole.
#[derive(Debug, Clone)]
pub struct SettingsUpdate {
    pub approval_required: bool,
    pub outbox: bool,
    /// URL and secret; `None` removes the webhook.
    pub webhook: Option<(String, String)>,
}

/// The posts and settings in the tenant database: what reading, approving and retrying need (the
/// CLI uses it alone), shared by the [`PublishingService`] and its scheduler.
#[derive(Clone)]
pub struct PostStore {
    database: Database,
    audit: AuditLog,
    usage: UsageMeter,
    plans: PlanBook,
    /// Wakes this process's scheduler when a post is scheduled.
    wake: Arc<tokio::sync::Notify>,
}

/// Publishing as the server runs it: the store, the checks a draft passes, and the connectors.
#[derive(Clone)]
pub struct PublishingService {
    pub store: PostStore,
    gate: GateService,
    rules: PostRulesService,
    forecast: ForecastService,
    secrets: Arc<SecretBox>,
    webhooks: WebhookSender,
    outbox: Outbox,
}

/// What the service is built from.
pub struct PublishingParts {
    pub store: PostStore,
    pub gate: GateService,
    pub rules: PostRulesService,
    pub forecast: ForecastService,
    pub secrets: SecretBox,
    pub webhooks: WebhookSender,
    pub outbox: Outbox,
}

#[derive(sqlx::FromRow)]
struct SettingsRow {
    approval_required: i64,
    outbox: i64,
    webhook_url: Option<String>,
    webhook_secret: Option<String>,
}

impl PostStore {
    pub fn new(database: Database, audit: AuditLog, usage: UsageMeter, plans: PlanBook) -> Self {
        Self { database, audit, usage, plans, wake: Arc::new(tokio::sync::Notify::new()) }
    }

    /// The caller's tenant's settings.
    pub async fn settings(&self, principal: &Principal) -> Result<PublishingSettings, ServiceError> {
        Ok(self.settings_row(&principal.tenant).await?.map(settings_of).unwrap_or_default())
    }

    async fn settings_row(&self, tenant: &TenantId) -> Result<Option<SettingsRow>, ServiceError> {
        sqlx::query_as(
            "SELECT approval_required, outbox, webhook_url, webhook_secret FROM publishing_settings WHERE tenant = $1",
        )
        .bind(tenant.as_str())
        .fetch_optional(&self.database.pool)
        .await
        .map_err(sql)
    }
}

impl PublishingService {
    pub fn new(parts: PublishingParts) -> Self {
        let PublishingParts { store, gate, rules, forecast, secrets, webhooks, outbox } = parts;
        Self { store, gate, rules, forecast, secrets: Arc::new(secrets), webhooks, outbox }
    }

    /// The outbox file of `tenant`.
    pub fn outbox_path(&self, tenant: &TenantId) -> std::path::PathBuf {
        self.outbox.path(tenant.as_str())
    }

    /// Replaces the caller's tenant's settings; a webhook URL is checked against SSRF and its
    /// secret sealed before it is stored.
    pub async fn set_settings(
        &self,
        principal: &Principal,
        update: SettingsUpdate,
        now_ms: i64,
    ) -> Result<PublishingSettings, ServiceError> {
        let tenant = principal.tenant.as_str();
        let webhook = match &update.webhook {
            None => None,
            Some((url, secret)) => {
                let url = address::check_url("webhook.url", url, self.webhooks.allow_private()).await?;
                if !(MIN_SECRET_BYTES..=MAX_SECRET_BYTES).contains(&secret.len()) {
                    return Err(ServiceError::invalid(
                        "webhook.secret",
                        format!("webhook.secret must be {MIN_SECRET_BYTES}–{MAX_SECRET_BYTES} bytes"),
                    ));
                }
                Some((url.to_string(), self.secrets.seal(tenant, secret)?))
            }
        };
        let (url, sealed) = webhook.unzip();
        sqlx::query(
            "INSERT INTO publishing_settings (tenant, approval_required, outbox, webhook_url, webhook_secret, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant) DO UPDATE SET \
             approval_required = excluded.approval_required, outbox = excluded.outbox, \
             webhook_url = excluded.webhook_url, webhook_secret = excluded.webhook_secret, \
             updated_at = excluded.updated_at",
        )
        .bind(tenant)
        .bind(i64::from(update.approval_required))
        .bind(i64::from(update.outbox))
        .bind(url.clone())
        .bind(sealed)
        .bind(now_ms)
        .execute(&self.store.database.pool)
        .await
        .map_err(sql)?;
        let details = serde_json::json!({"approval_required": update.approval_required, "outbox": update.outbox,
            "webhook": url.is_some()});
        self.store.record_on(principal, "publishing.settings", "publishing/settings", details, now_ms).await?;
        Ok(PublishingSettings {
            approval_required: update.approval_required,
            outbox: update.outbox,
            webhook_secret_set: url.is_some(),
            webhook_url: url,
        })
    }
}

fn settings_of(row: SettingsRow) -> PublishingSettings {
    PublishingSettings {
        approval_required: row.approval_required != 0,
        outbox: row.outbox != 0,
        webhook_secret_set: row.webhook_secret.is_some(),
        webhook_url: row.webhook_url,
    }
}

fn sql(error: sqlx::Error) -> ServiceError {
    ServiceError::internal("publishing", error)
}
