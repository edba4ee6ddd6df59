//! The durable scheduler: the loop inside every `eiq serve` that delivers posts when they are due.
//!
//! A delivery is a row (`deliveries`) with `run_at`, a lease and an attempt count, so nothing lives
//! only in memory: a process that dies loses nothing, and replicas share the work.
//!
//! 1. **Claim.** One statement leases up to a batch of due rows to this replica
//!    (`lease_owner`, `lease_until`) and counts the attempt. On PostgreSQL the rows are picked
//!    `FOR UPDATE SKIP LOCKED`, so two replicas claiming at once take different rows without
//!    waiting for each other; SQLite has one writer, so the statement runs alone.
//! 2. **Deliver** each through its connector, concurrently.
//! 3. **Settle** each with an update fenced by owner and attempt: a replica whose lease ran out
//!    (and was taken over) cannot overwrite the new holder's outcome. Delivered rows are done and
//!    the post is published when all of its are; a retry waits `2^attempt` seconds with full
//!    jitter (capped), and the last attempt, or a receiver's refusal, makes a dead letter and a
//!    failed post, which `:retry` revives.
//!
//! A replica that dies between a receiver's answer and step 3 leaves a lease that expires; the
//! next claim delivers again with the same idempotency key. Delivery is at least once, and exactly
//! once for a receiver that keeps its keys.

use std::sync::Arc;
use std::time::Duration;

use futures::future::join_all;

use super::connectors::{Attempt, Delivery, WebhookTarget};
use super::{PostContent, PublishingService, sql};
use crate::audit::AuditEvent;
use crate::error::ServiceError;
use crate::tenancy::TenantId;

/// How the loop runs; `eiq serve` sets these from its flags.
#[derive(Debug, Clone)]
pub struct SchedulerSettings {
    /// How long a claim is held before another replica may take it over: longer than a delivery.
    pub lease: Duration,
    /// How often an idle scheduler looks for due rows (a post scheduled here wakes it at once).
    pub poll: Duration,
    /// Attempts before a delivery becomes a dead letter.
    pub max_attempts: u32,
    /// Most deliveries claimed, and in flight, at once.
    pub batch: usize,
}

impl Default for SchedulerSettings {
    fn default() -> Self {
        Self { lease: Duration::from_secs(60), poll: Duration::from_millis(250), max_attempts: 8, batch: 32 }
    }
}

/// A post is published when none of its deliveries is pending or dead.
const PUBLISHED: &str = "UPDATE posts SET state = 'published', updated_at = $1 WHERE tenant = $2 AND id = $3 \
    AND state IN ('scheduled', 'publishing') AND NOT EXISTS (SELECT 1 FROM deliveries \
    WHERE tenant = $2 AND post_id = $3 AND state IN ('pending', 'dead'))";
/// A post fails when one of its deliveries becomes a dead letter.
const FAILED: &str = "UPDATE posts SET state = 'failed', updated_at = $1, reasons = $4 WHERE tenant = $2 \
    AND id = $3 AND state IN ('scheduled', 'publishing')";

/// The first retry's wait, and the longest.
const BASE_BACKOFF_MS: i64 = 2_000;
const MAX_BACKOFF_MS: i64 = 15 * 60 * 1_000;

#[derive(Debug, Clone, sqlx::FromRow)]
struct Claimed {
    id: String,
    tenant: String,
    post_id: String,
    platform: String,
    connector: String,
    attempts: i64,
}

/// Who claims: this replica, named at random at start-up.
pub struct Scheduler {
    service: PublishingService,
    settings: SchedulerSettings,
    owner: String,
}

impl Scheduler {
    pub fn new(service: PublishingService, settings: SchedulerSettings) -> Result<Self, ServiceError> {
        let mut bytes = [0u8; 8];
        getrandom::getrandom(&mut bytes).map_err(|e| ServiceError::internal("scheduler id", e))?;
        Ok(Self { service, settings, owner: format!("replica-{}", hex::encode(bytes)) })
    }

    /// Runs the loop until the process ends.
    pub fn spawn(self) {
        let scheduler = Arc::new(self);
        tracing::info!(owner = %scheduler.owner, "publishing scheduler started");
        tokio::spawn(async move {
            loop {
                match scheduler.run_once().await {
                    Ok(0) => {
                        let wake = Arc::clone(&scheduler.service.store.wake);
                        let _ = tokio::time::timeout(scheduler.settings.poll, wake.notified()).await;
                    }
                    Ok(_) => {}
                    Err(error) => {
                        tracing::warn!(%error, "publishing scheduler: claiming failed; retrying");
                        tokio::time::sleep(scheduler.settings.poll).await;
                    }
                }
            }
        });
    }

    /// Claims one batch of due deliveries and settles each; how many there were.
    pub async fn run_once(&self) -> Result<usize, ServiceError> {
        let now = eiq_datasets::now_ms();
        let claimed = self.claim(now).await?;
        let count = claimed.len();
        join_all(claimed.into_iter().map(|job| self.deliver(job))).await;
        Ok(count)
    }

    async fn claim(&self, now: i64) -> Result<Vec<Claimed>, ServiceError> {
        let lock = if self.service.store.database.postgres { " FOR UPDATE SKIP LOCKED" } else { "" };
        let lease_until = now.saturating_add(self.settings.lease.as_millis() as i64);
        sqlx::query_as(&format!(
            "UPDATE deliveries SET lease_owner = $1, lease_until = $2, attempts = attempts + 1 \
             WHERE id IN (SELECT id FROM deliveries WHERE state = 'pending' AND run_at <= $3 \
             AND (lease_until IS NULL OR lease_until < $3) ORDER BY run_at LIMIT $4{lock}) \
             RETURNING id, tenant, post_id, platform, connector, attempts"
        ))
        .bind(&self.owner)
        .bind(lease_until)
        .bind(now)
        .bind(self.settings.batch as i64)
        .fetch_all(&self.service.store.database.pool)
        .await
        .map_err(sql)
    }

    async fn deliver(&self, job: Claimed) {
        let outcome = self.attempt(&job).await.unwrap_or_else(Attempt::from);
        if let Err(error) = self.settle(&job, outcome).await {
            // The lease runs out and another claim delivers again, with the same key.
            tracing::warn!(%error, delivery = %job.id, "publishing scheduler: recording an outcome failed");
        }
    }

    async fn attempt(&self, job: &Claimed) -> Result<Attempt, ServiceError> {
        let tenant = TenantId::parse(&job.tenant)?;
        let service = &self.service;
        let (content, scheduled_at): (String, Option<i64>) =
            sqlx::query_as("SELECT content, scheduled_at FROM posts WHERE tenant = $1 AND id = $2")
                .bind(&job.tenant)
                .bind(&job.post_id)
                .fetch_one(&service.store.database.pool)
                .await
                .map_err(sql)?;
        let content: PostContent =
            serde_json::from_str(&content).map_err(|e| ServiceError::internal("post content", e))?;
        let moved = sqlx::query(
            "UPDATE posts SET state = 'publishing', updated_at = $1 WHERE tenant = $2 AND id = $3 \
             AND state = 'scheduled'",
        )
        .bind(eiq_datasets::now_ms())
        .bind(&job.tenant)
        .bind(&job.post_id)
        .execute(&service.store.database.pool)
        .await
        .map_err(sql)?;
        if moved.rows_affected() > 0 {
            self.record(&tenant, "post.publishing", &job.post_id, serde_json::json!({})).await?;
        }
        let delivery = Delivery {
            idempotency_key: format!("{}:{}", job.post_id, job.platform),
            tenant: job.tenant.clone(),
            post_id: job.post_id.clone(),
            text: content.texts.get(&job.platform).cloned().unwrap_or_default(),
            platform: job.platform.clone(),
            accounts: content.accounts,
            media: content.media,
            scheduled_at: scheduled_at.map(|at| eiq_datasets::format_time(at / 1_000)),
            attempt: job.attempts.clamp(1, i64::from(u32::MAX)) as u32,
        };
        match job.connector.as_str() {
            "webhook" => match self.webhook_target(&tenant).await? {
                Some(target) => Ok(service.webhooks.send(&target, &delivery, eiq_datasets::now_ms() / 1_000).await),
                None => Ok(Attempt::Final("the tenant's webhook was removed".into())),
            },
            "outbox" => Ok(service.outbox.append(&delivery).await),
            other => Ok(Attempt::Final(format!("unknown connector `{other}`"))),
        }
    }

    async fn webhook_target(&self, tenant: &TenantId) -> Result<Option<WebhookTarget>, ServiceError> {
        let Some(row) = self.service.store.settings_row(tenant).await? else { return Ok(None) };
        let (Some(url), Some(sealed)) = (row.webhook_url, row.webhook_secret) else { return Ok(None) };
        let secret = self.service.secrets.open(tenant.as_str(), &sealed)?;
        Ok(Some(WebhookTarget { url, secret }))
    }

    /// Records `outcome`, fenced by this replica's lease and attempt, and the post's state with it
    /// in one transaction (a crash between them would leave a delivered post `publishing`).
    async fn settle(&self, job: &Claimed, outcome: Attempt) -> Result<(), ServiceError> {
        let now = eiq_datasets::now_ms();
        let tenant = TenantId::parse(&job.tenant)?;
        let (error, dead) = match &outcome {
            Attempt::Delivered => (String::new(), false),
            Attempt::Retry(error) => (error.clone(), job.attempts >= i64::from(self.settings.max_attempts)),
            Attempt::Final(error) => (error.clone(), true),
        };
        let error: String = error.chars().take(500).collect();
        let released = "lease_owner = NULL, lease_until = NULL, last_error = $4";
        let reasons = serde_json::json!([{"source": "delivery", "platform": job.platform,
            "connector": job.connector, "error": error}]);
        // The delivery's new fields, and the post's update with its reasons, if it has one.
        let (set, post_update) = match (&outcome, dead) {
            (Attempt::Delivered, _) => {
                (format!("state = 'delivered', delivered_at = $5, {released}"), Some((PUBLISHED, None)))
            }
            (_, true) => (format!("state = 'dead', {released}"), Some((FAILED, Some(reasons.to_string())))),
            (_, false) => (format!("run_at = $5, {released}"), None),
        };
        let mut transaction = self.service.store.database.pool.begin().await.map_err(sql)?;
        let statement =
            format!("UPDATE deliveries SET {set} WHERE id = $1 AND lease_owner = $2 AND attempts = $3 RETURNING id");
        let mut query =
            sqlx::query_scalar::<_, String>(&statement).bind(&job.id).bind(&self.owner).bind(job.attempts).bind(&error);
        query = match (&outcome, dead) {
            (Attempt::Delivered, _) => query.bind(now),
            (_, false) => query.bind(now.saturating_add(backoff_ms(job.attempts))),
            (_, true) => query,
        };
        if query.fetch_optional(&mut *transaction).await.map_err(sql)?.is_none() {
            return Ok(()); // Another replica took the lease over; its outcome stands.
        }
        let post_moved = match post_update {
            None => false,
            Some((statement, reasons)) => {
                let mut update = sqlx::query(statement).bind(now).bind(&job.tenant).bind(&job.post_id);
                if let Some(reasons) = reasons {
                    update = update.bind(reasons);
                }
                update.execute(&mut *transaction).await.map_err(sql)?.rows_affected() > 0
            }
        };
        transaction.commit().await.map_err(sql)?;
        if !matches!(outcome, Attempt::Delivered) {
            let details = serde_json::json!({
                "platform": job.platform, "connector": job.connector, "attempt": job.attempts, "error": error,
                "dead_letter": dead,
            });
            self.record(&tenant, "post.delivery_failed", &job.post_id, details).await?;
        }
        if post_moved {
            let event = if dead { "post.failed" } else { "post.published" };
            self.record(&tenant, event, &job.post_id, serde_json::json!({})).await?;
        }
        Ok(())
    }

    async fn record(
        &self,
        tenant: &TenantId,
        event: &str,
        post_id: &str,
        details: serde_json::Value,
    ) -> Result<(), ServiceError> {
        let event = AuditEvent {
            tenant: Some(tenant.clone()),
            actor: "scheduler".into(),
            auth_method: "local".into(),
            event: event.into(),
            resource: format!("posts/{post_id}"),
            action: self.owner.clone(),
            outcome: "succeeded".into(),
            details,
            ..AuditEvent::default()
        };
        self.service.store.audit.append(event, eiq_datasets::now_ms()).await.map(drop)
    }
}

/// The wait before attempt `attempts + 1`: `2^(attempts-1)` × 2 s, capped, with full jitter
/// over its upper half so that replicas retrying together spread out.
fn backoff_ms(attempts: i64) -> i64 {
    let exponent = attempts.clamp(1, 20) - 1;
    let ceiling = BASE_BACKOFF_MS.saturating_mul(1 << exponent).min(MAX_BACKOFF_MS);
    let mut bytes = [0u8; 8];
    let random = getrandom::getrandom(&mut bytes).map_or(0, |()| u64::from_le_bytes(bytes));
    ceiling / 2 + (random % (ceiling as u64 / 2 + 1)) as i64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_with_jitter_and_is_capped() {
        for attempts in 1..=30 {
            let ceiling = (BASE_BACKOFF_MS << (attempts.min(20) - 1)).min(MAX_BACKOFF_MS);
            let wait = backoff_ms(attempts);
            assert!((ceiling / 2..=ceiling).contains(&wait), "attempt {attempts}: {wait}");
        }
    }
}
