//! What callers do to posts. Each step is one conditional update in the store (see [`super::states`])
//! and one audit row; the moderation gate runs on `submit`, and scheduling takes a post from the
//! plan's monthly quota and writes its deliveries in the same transaction as its state.

use sha2::Digest as _;
use sqlx::AnyConnection;

use super::states::{PostState, Transition, sql_list};
use super::{
    DeliveryStatus, MAX_IDEMPOTENCY_KEY_BYTES, MAX_MEDIA_REFS, MAX_NOTE_BYTES, MAX_POST_ACCOUNTS, MAX_POST_PLATFORMS,
    MAX_REF_BYTES, MAX_SCHEDULE_AHEAD_MS, Post, PostContent, PostStore, PublishingService, sql,
};
use crate::audit::AuditEvent;
use crate::engagement::BestTimesQuery;
use crate::error::{Resource, ServiceError};
use crate::limits::{MAX_ACCOUNT_ID_BYTES, excerpt};
use crate::posts::{MediaDescription, PostCheckRequest};
use crate::tenancy::{Principal, TenantId};
use crate::text::{Decision, GateRequest, PolicyChoice};
use crate::usage::Metric;

/// A draft as a caller sends it.
#[derive(Debug, Clone)]
pub struct NewPost {
    pub content: PostContent,
    /// An RFC 3339 time or Unix seconds, `best` (the first account's next best slot), or `None`
    /// (as soon as it is approved).
    pub scheduled_at: Option<String>,
}

/// Which posts to list: newest first, `after` continues a page.
#[derive(Debug, Clone, Default)]
pub struct ListQuery {
    pub state: Option<String>,
    pub limit: Option<usize>,
    pub after: Option<String>,
}

#[derive(Debug, Clone)]
pub struct PostPage {
    pub posts: Vec<Post>,
    pub next_after: Option<String>,
}

/// A post after a transition, with the quota warning its scheduling raised, if any.
#[derive(Debug, Clone)]
pub struct Transitioned {
    pub post: Post,
    /// From 80 % of the plan's posts per month: `used/limit`.
    pub quota_warning: Option<String>,
}

/// What a transition carries beside the post's id.
#[derive(Debug, Clone, Default)]
pub struct PostAction {
    /// A rejection's note.
    pub note: Option<String>,
    /// A reschedule's new time.
    pub scheduled_at: Option<String>,
}

/// Most posts in one page.
pub const MAX_PAGE: usize = 100;
const DEFAULT_PAGE: usize = 50;
/// A `scheduled_at` this far in the past is taken as "now" (clocks differ); further is refused.
const PAST_GRACE_MS: i64 = 60_000;

#[derive(sqlx::FromRow)]
struct PostRow {
    id: String,
    state: String,
    content: String,
    scheduled_at: Option<i64>,
    schedule: String,
    reasons: String,
    created_by: String,
    created_at: i64,
    updated_at: i64,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    platform: String,
    connector: String,
    state: String,
    attempts: i64,
    last_error: String,
    run_at: i64,
    delivered_at: Option<i64>,
}

const POST_COLUMNS: &str = "id, state, content, scheduled_at, schedule, reasons, created_by, created_at, updated_at";

impl PublishingService {
    /// Makes a draft. With an `idempotency_key`, a repeat of the same request answers the post
    /// the first one made (`false`: not made now), and the key with another body is refused.
    pub async fn create(
        &self,
        principal: &Principal,
        draft: NewPost,
        idempotency_key: Option<&str>,
        now_ms: i64,
    ) -> Result<(Post, bool), ServiceError> {
        let tenant = &principal.tenant;
        let request_hash = hex::encode(sha2::Sha256::digest(
            serde_json::json!({"content": draft.content, "scheduled_at": draft.scheduled_at}).to_string(),
        ));
        if let Some(key) = idempotency_key {
            check_idempotency_key(key)?;
            if let Some(post) = self.replay(tenant, key, &request_hash).await? {
                return Ok((post, false));
            }
        }
        self.check_content(principal, &draft.content).await?;
        let (scheduled_at, schedule) = self.resolve_schedule(principal, &draft, now_ms).await?;
        let id = new_post_id()?;
        let actor = principal.actor().unwrap_or(principal.credential.method()).to_string();
        let content = serde_json::to_string(&draft.content).map_err(|e| ServiceError::internal("post", e))?;
        let mut transaction = self.store.database.pool.begin().await.map_err(sql)?;
        if let Some(key) = idempotency_key {
            let inserted = sqlx::query(
                "INSERT INTO post_idempotency (tenant, idempotency_key, request_hash, post_id, created_at) \
                 VALUES ($1, $2, $3, $4, $5) ON CONFLICT (tenant, idempotency_key) DO NOTHING",
            )
            .bind(tenant.as_str())
            .bind(key)
            .bind(&request_hash)
            .bind(&id)
            .bind(now_ms)
            .execute(&mut *transaction)
            .await
            .map_err(sql)?;
            if inserted.rows_affected() == 0 {
                // Another request with this key won the race: answer as its repeat.
                drop(transaction);
                let post = self.replay(tenant, key, &request_hash).await?;
                return post.map(|p| (p, false)).ok_or_else(|| ServiceError::internal("idempotency", "key vanished"));
            }
        }
        sqlx::query(
            "INSERT INTO posts (tenant, id, state, content, scheduled_at, schedule, reasons, created_by, created_at, \
             updated_at) VALUES ($1, $2, 'draft', $3, $4, $5, '[]', $6, $7, $7)",
        )
        .bind(tenant.as_str())
        .bind(&id)
        .bind(&content)
        .bind(scheduled_at)
        .bind(schedule)
        .bind(&actor)
        .bind(now_ms)
        .execute(&mut *transaction)
        .await
        .map_err(sql)?;
        transaction.commit().await.map_err(sql)?;
        self.store
            .record(principal, "post.created", &id, serde_json::json!({"platforms": draft.content.texts.len()}), now_ms)
            .await?;
        Ok((self.store.get(principal, &id).await?, true))
    }

    /// The post an earlier request with `key` made, if the key was used with the same request.
    async fn replay(&self, tenant: &TenantId, key: &str, request_hash: &str) -> Result<Option<Post>, ServiceError> {
        let earlier: Option<(String, String)> = sqlx::query_as(
            "SELECT request_hash, post_id FROM post_idempotency WHERE tenant = $1 AND idempotency_key = $2",
        )
        .bind(tenant.as_str())
        .bind(key)
        .fetch_optional(&self.store.database.pool)
        .await
        .map_err(sql)?;
        match earlier {
            None => Ok(None),
            Some((hash, _)) if hash != request_hash => Err(ServiceError::invalid(
                "Idempotency-Key",
                "this Idempotency-Key was used with a different request; use a new key for a new post",
            )),
            Some((_, post_id)) => Ok(Some(self.store.load(tenant, &post_id).await?)),
        }
    }

    /// Every text against its platform's rules, the accounts and the media references.
    async fn check_content(&self, principal: &Principal, content: &PostContent) -> Result<(), ServiceError> {
        if content.texts.is_empty() || content.texts.len() > MAX_POST_PLATFORMS {
            return Err(ServiceError::invalid(
                "texts",
                format!("texts must name 1–{MAX_POST_PLATFORMS} platforms, got {}", content.texts.len()),
            ));
        }
        if content.accounts.is_empty() || content.accounts.len() > MAX_POST_ACCOUNTS {
            return Err(ServiceError::invalid(
                "accounts",
                format!("accounts must list 1–{MAX_POST_ACCOUNTS} accounts, got {}", content.accounts.len()),
            ));
        }
        for (index, account) in content.accounts.iter().enumerate() {
            if account.is_empty() || account.len() > MAX_ACCOUNT_ID_BYTES || account.chars().any(char::is_control) {
                return Err(ServiceError::invalid(
                    format!("accounts[{index}]"),
                    format!("accounts[{index}] must be 1–{MAX_ACCOUNT_ID_BYTES} bytes without control characters"),
                ));
            }
        }
        if content.media.len() > MAX_MEDIA_REFS {
            return Err(ServiceError::invalid("media", format!("at most {MAX_MEDIA_REFS} media references")));
        }
        for (index, media) in content.media.iter().enumerate() {
            let reference = &media.reference;
            if reference.is_empty() || reference.len() > MAX_REF_BYTES || reference.chars().any(char::is_control) {
                return Err(ServiceError::invalid(
                    format!("media[{index}].ref"),
                    format!("media[{index}].ref must be 1–{MAX_REF_BYTES} bytes without control characters"),
                ));
            }
        }
        let media: Vec<MediaDescription> =
            content.media.iter().map(|m| MediaDescription { kind: m.kind.clone(), ..Default::default() }).collect();
        for (platform, text) in &content.texts {
            let field = format!("texts.{}", excerpt(platform));
            let request =
                PostCheckRequest { text: text.clone(), platform: platform.clone(), title: None, media: media.clone() };
            let check = self.rules.check(principal, request).await.map_err(|error| match error {
                ServiceError::InvalidInput { param: Some(param), message } if param.starts_with("media") => {
                    ServiceError::InvalidInput { param: Some(param), message }
                }
                ServiceError::InvalidInput { message, .. } => ServiceError::invalid(field.clone(), message),
                other => other,
            })?;
            if !check.valid {
                let broken: Vec<String> = check.violations.iter().map(|v| v.message.clone()).collect();
                return Err(ServiceError::invalid(
                    field.clone(),
                    format!("{field} breaks {}'s rules: {}", excerpt(platform), broken.join("; ")),
                ));
            }
        }
        Ok(())
    }

    /// When the draft is to be published (Unix ms, or `None` for "on approval") and how it was said.
    async fn resolve_schedule(
        &self,
        principal: &Principal,
        draft: &NewPost,
        now_ms: i64,
    ) -> Result<(Option<i64>, &'static str), ServiceError> {
        match draft.scheduled_at.as_deref().map(str::trim) {
            None | Some("") => Ok((None, "now")),
            Some("best") => {
                if let Some(plan) = principal.plan.filter(|p| !self.store.plans.limits(*p).ai_features) {
                    return Err(ServiceError::forbidden(format!(
                        "scheduled_at `best` uses best times, an AI feature the {} plan does not include",
                        plan.as_str()
                    )));
                }
                let account = &draft.content.accounts[0];
                let platform = draft.content.texts.keys().next().cloned();
                let query = BestTimesQuery { platform, top_k: Some(1), ..BestTimesQuery::default() };
                let best = self.forecast.best_times(principal, account, query).await?;
                let slot = best.top.first().ok_or_else(|| {
                    ServiceError::invalid("scheduled_at", "no best slot is known for the first account")
                })?;
                Ok((Some(slot.next_at.saturating_mul(1_000).max(now_ms)), "best"))
            }
            Some(text) => Ok((Some(parse_schedule(text, now_ms)?), "time")),
        }
    }

    /// `transition` on post `id`: what both protocols call.
    pub async fn act(
        &self,
        principal: &Principal,
        transition: Transition,
        id: &str,
        action: PostAction,
        now_ms: i64,
    ) -> Result<Transitioned, ServiceError> {
        match transition {
            Transition::Submit => self.submit(principal, id, now_ms).await,
            Transition::Approve => self.store.approve(principal, id, now_ms).await,
            Transition::Reject => self.store.reject(principal, id, action.note.as_deref(), now_ms).await,
            Transition::Cancel => self.store.cancel(principal, id, now_ms).await,
            Transition::Reschedule => self.reschedule(principal, id, action.scheduled_at.as_deref(), now_ms).await,
            Transition::Retry => self.store.retry(principal, id, now_ms).await,
        }
    }

    /// `draft → submitted →` the gate `→ rejected | pending_approval | scheduled`.
    pub async fn submit(&self, principal: &Principal, id: &str, now_ms: i64) -> Result<Transitioned, ServiceError> {
        let post = self.store.load(&principal.tenant, id).await?;
        self.store.move_state(&principal.tenant, id, Transition::Submit, PostState::Submitted, None, now_ms).await?;
        self.store.record(principal, "post.submitted", id, serde_json::json!({}), now_ms).await?;
        let (decision, reasons) = match self.gate_post(principal, &post.content).await {
            Ok(verdict) => verdict,
            Err(error) => {
                // Fail closed, and leave the draft as it was.
                let back = [PostState::Submitted];
                self.store.set_state(&principal.tenant, id, &back, PostState::Draft, None, now_ms).await?;
                return Err(error);
            }
        };
        let details = serde_json::json!({"decision": decision.as_str(), "reasons": reasons});
        self.store.record(principal, "post.gated", id, details, now_ms).await?;
        let from = [PostState::Submitted];
        if decision == Decision::Block {
            self.store.set_state(&principal.tenant, id, &from, PostState::Rejected, Some(&reasons), now_ms).await?;
            self.store.record(principal, "post.rejected", id, serde_json::json!({"by": "gate"}), now_ms).await?;
            return self.store.answer(&principal.tenant, id, None).await;
        }
        let settings = self.store.settings(principal).await?;
        if decision == Decision::Review || settings.approval_required {
            self.store
                .set_state(&principal.tenant, id, &from, PostState::PendingApproval, Some(&reasons), now_ms)
                .await?;
            return self.store.answer(&principal.tenant, id, None).await;
        }
        let warning = self.store.schedule(principal, &post, &from, now_ms).await?;
        self.store.answer(&principal.tenant, id, warning).await
    }

    /// A new time for a post that has not begun publishing.
    pub async fn reschedule(
        &self,
        principal: &Principal,
        id: &str,
        scheduled_at: Option<&str>,
        now_ms: i64,
    ) -> Result<Transitioned, ServiceError> {
        let post = self.store.load(&principal.tenant, id).await?;
        let draft = NewPost { content: post.content, scheduled_at: scheduled_at.map(str::to_string) };
        let (at, schedule) = self.resolve_schedule(principal, &draft, now_ms).await?;
        let mut transaction = self.store.database.pool.begin().await.map_err(sql)?;
        let from = sql_list(Transition::Reschedule.from_states());
        let moved = sqlx::query(&format!(
            "UPDATE posts SET scheduled_at = $1, schedule = $2, updated_at = $3 WHERE tenant = $4 AND id = $5 \
             AND state IN ({from})"
        ))
        .bind(at)
        .bind(schedule)
        .bind(now_ms)
        .bind(principal.tenant.as_str())
        .bind(id)
        .execute(&mut *transaction)
        .await
        .map_err(sql)?;
        if moved.rows_affected() == 0 {
            drop(transaction);
            return Err(Transition::Reschedule.conflict(self.store.load(&principal.tenant, id).await?.state));
        }
        sqlx::query(
            "UPDATE deliveries SET run_at = $1 WHERE tenant = $2 AND post_id = $3 AND state = 'pending' \
             AND (lease_until IS NULL OR lease_until < $4)",
        )
        .bind(at.unwrap_or(now_ms).max(now_ms))
        .bind(principal.tenant.as_str())
        .bind(id)
        .bind(now_ms)
        .execute(&mut *transaction)
        .await
        .map_err(sql)?;
        self.store.refuse_if_publishing(&mut transaction, &principal.tenant, id).await?;
        transaction.commit().await.map_err(sql)?;
        self.store.wake.notify_one();
        self.store.record(principal, "post.rescheduled", id, serde_json::json!({"scheduled_at": at}), now_ms).await?;
        self.store.answer(&principal.tenant, id, None).await
    }

    /// The gate's worst decision over the post's texts, and every reason, per platform.
    async fn gate_post(
        &self,
        principal: &Principal,
        content: &PostContent,
    ) -> Result<(Decision, serde_json::Value), ServiceError> {
        let mut decision = Decision::Allow;
        let mut reasons = Vec::new();
        for (platform, text) in &content.texts {
            let request = GateRequest {
                text: text.clone(),
                platform: Some(platform.clone()),
                account_id: content.accounts.first().cloned(),
                policy: PolicyChoice::default(),
            };
            let verdict = self.gate.check(principal, request).await?;
            decision = decision.max(verdict.decision);
            reasons.extend(verdict.reasons.into_iter().map(|r| {
                serde_json::json!({
                    "source": "gate", "platform": platform, "category": r.category, "score": r.score,
                    "decision": r.decision.as_str(), "threshold": r.threshold, "model": r.source,
                    "detail": r.detail,
                })
            }));
        }
        Ok((decision, serde_json::Value::Array(reasons)))
    }
}

impl PostStore {
    /// The caller's tenant's post `id` (404 for another tenant's, as for none).
    pub async fn get(&self, principal: &Principal, id: &str) -> Result<Post, ServiceError> {
        self.load(&principal.tenant, id).await
    }

    pub(super) async fn load(&self, tenant: &TenantId, id: &str) -> Result<Post, ServiceError> {
        let row: Option<PostRow> =
            sqlx::query_as(&format!("SELECT {POST_COLUMNS} FROM posts WHERE tenant = $1 AND id = $2"))
                .bind(tenant.as_str())
                .bind(id)
                .fetch_optional(&self.database.pool)
                .await
                .map_err(sql)?;
        let row = row.ok_or_else(|| not_found(id))?;
        let deliveries: Vec<DeliveryRow> = sqlx::query_as(
            "SELECT platform, connector, state, attempts, last_error, run_at, delivered_at FROM deliveries \
             WHERE tenant = $1 AND post_id = $2 ORDER BY platform, connector",
        )
        .bind(tenant.as_str())
        .bind(id)
        .fetch_all(&self.database.pool)
        .await
        .map_err(sql)?;
        post_of(row, deliveries)
    }

    /// The caller's tenant's posts, newest first.
    pub async fn list(&self, principal: &Principal, query: ListQuery) -> Result<PostPage, ServiceError> {
        let limit = query.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ServiceError::invalid("limit", format!("limit must be 1–{MAX_PAGE}")));
        }
        let state = match query.state.as_deref() {
            None | Some("") => None,
            Some(name) => Some(PostState::parse(name).ok_or_else(|| {
                ServiceError::invalid("state", format!("state `{}` is not a post state", excerpt(name)))
            })?),
        };
        let (after_at, after_id) = match query.after.as_deref() {
            None | Some("") => (i64::MAX, String::new()),
            Some(cursor) => cursor
                .split_once('_')
                .and_then(|(at, id)| Some((at.parse::<i64>().ok()?, id.to_string())))
                .ok_or_else(|| ServiceError::invalid("after", "after must be a cursor from an earlier page"))?,
        };
        let state_filter = state.map_or(String::new(), |s| format!(" AND state = '{}'", s.as_str()));
        let rows: Vec<PostRow> = sqlx::query_as(&format!(
            "SELECT {POST_COLUMNS} FROM posts WHERE tenant = $1{state_filter} \
             AND (created_at < $2 OR (created_at = $2 AND id < $3)) ORDER BY created_at DESC, id DESC LIMIT $4"
        ))
        .bind(principal.tenant.as_str())
        .bind(after_at)
        .bind(after_id)
        .bind(limit as i64)
        .fetch_all(&self.database.pool)
        .await
        .map_err(sql)?;
        let next_after = (rows.len() == limit).then(|| rows.last().map(|r| format!("{}_{}", r.created_at, r.id)));
        let posts = rows.into_iter().map(|row| post_of(row, Vec::new())).collect::<Result<Vec<_>, _>>()?;
        Ok(PostPage { posts, next_after: next_after.flatten() })
    }

    /// `pending_approval → approved → scheduled`, by an approver.
    pub async fn approve(&self, principal: &Principal, id: &str, now_ms: i64) -> Result<Transitioned, ServiceError> {
        let post = self.load(&principal.tenant, id).await?;
        if !Transition::Approve.from_states().contains(&post.state) {
            return Err(Transition::Approve.conflict(post.state));
        }
        let warning = self.schedule(principal, &post, Transition::Approve.from_states(), now_ms).await?;
        self.answer(&principal.tenant, id, warning).await
    }

    /// `pending_approval → rejected`, with the approver's note.
    pub async fn reject(
        &self,
        principal: &Principal,
        id: &str,
        note: Option<&str>,
        now_ms: i64,
    ) -> Result<Transitioned, ServiceError> {
        let note = note.unwrap_or_default();
        if note.len() > MAX_NOTE_BYTES {
            return Err(ServiceError::invalid("note", format!("note must be at most {MAX_NOTE_BYTES} bytes")));
        }
        let post = self.load(&principal.tenant, id).await?;
        let mut reasons = post.reasons.as_array().cloned().unwrap_or_default();
        let actor = principal.actor().unwrap_or(principal.credential.method());
        reasons.push(serde_json::json!({"source": "approver", "actor": actor, "note": note}));
        let reasons = serde_json::Value::Array(reasons);
        self.move_state(&principal.tenant, id, Transition::Reject, PostState::Rejected, Some(&reasons), now_ms).await?;
        self.record(principal, "post.rejected", id, serde_json::json!({"by": "approver"}), now_ms).await?;
        self.answer(&principal.tenant, id, None).await
    }

    /// Stops a post that has not begun publishing; a scheduled post gives back its quota.
    pub async fn cancel(&self, principal: &Principal, id: &str, now_ms: i64) -> Result<Transitioned, ServiceError> {
        let post = self.load(&principal.tenant, id).await?;
        let mut transaction = self.database.pool.begin().await.map_err(sql)?;
        self.move_state_in(&mut transaction, &principal.tenant, id, Transition::Cancel, PostState::Cancelled, now_ms)
            .await?;
        sqlx::query(
            "UPDATE deliveries SET state = 'cancelled' WHERE tenant = $1 AND post_id = $2 AND state = 'pending' \
             AND (lease_until IS NULL OR lease_until < $3)",
        )
        .bind(principal.tenant.as_str())
        .bind(id)
        .bind(now_ms)
        .execute(&mut *transaction)
        .await
        .map_err(sql)?;
        self.refuse_if_publishing(&mut transaction, &principal.tenant, id).await?;
        transaction.commit().await.map_err(sql)?;
        if post.state == PostState::Scheduled {
            self.usage.release(&principal.tenant, Metric::PublishedPosts, 1, now_ms).await?;
        }
        self.record(principal, "post.cancelled", id, serde_json::json!({"was": post.state.as_str()}), now_ms).await?;
        self.answer(&principal.tenant, id, None).await
    }

    /// Sends a failed post's dead letters again, from their first attempt.
    pub async fn retry(&self, principal: &Principal, id: &str, now_ms: i64) -> Result<Transitioned, ServiceError> {
        let mut transaction = self.database.pool.begin().await.map_err(sql)?;
        let moved = sqlx::query(
            "UPDATE posts SET state = 'publishing', updated_at = $1 WHERE tenant = $2 AND id = $3 AND state = 'failed'",
        )
        .bind(now_ms)
        .bind(principal.tenant.as_str())
        .bind(id)
        .execute(&mut *transaction)
        .await
        .map_err(sql)?;
        if moved.rows_affected() == 0 {
            drop(transaction);
            return Err(Transition::Retry.conflict(self.load(&principal.tenant, id).await?.state));
        }
        let revived = sqlx::query(
            "UPDATE deliveries SET state = 'pending', attempts = 0, run_at = $1, lease_owner = NULL, \
             lease_until = NULL WHERE tenant = $2 AND post_id = $3 AND state = 'dead'",
        )
        .bind(now_ms)
        .bind(principal.tenant.as_str())
        .bind(id)
        .execute(&mut *transaction)
        .await
        .map_err(sql)?;
        transaction.commit().await.map_err(sql)?;
        self.wake.notify_one();
        let details = serde_json::json!({"deliveries": revived.rows_affected()});
        self.record(principal, "post.retried", id, details, now_ms).await?;
        self.answer(&principal.tenant, id, None).await
    }

    /// `from → approved → scheduled` in one transaction with the post's deliveries, after taking
    /// it from the plan's posts per month. Returns the quota warning, if one is due.
    async fn schedule(
        &self,
        principal: &Principal,
        post: &Post,
        from: &[PostState],
        now_ms: i64,
    ) -> Result<Option<String>, ServiceError> {
        let tenant = &principal.tenant;
        let connectors = self.connectors(tenant).await?;
        if connectors.is_empty() {
            return Err(ServiceError::FailedPrecondition {
                message: "no connector to publish through: set a webhook or turn the outbox on in the \
                          publishing settings"
                    .into(),
            });
        }
        let warning = self.take_quota(principal, now_ms).await?;
        let run_at = post.scheduled_at.unwrap_or(now_ms).max(now_ms);
        let scheduled = async {
            let mut transaction = self.database.pool.begin().await.map_err(sql)?;
            self.set_state_in(&mut transaction, tenant, &post.id, from, PostState::Scheduled, None, now_ms).await?;
            for platform in post.content.texts.keys() {
                for connector in &connectors {
                    sqlx::query(
                        "INSERT INTO deliveries (id, tenant, post_id, platform, connector, state, run_at, attempts, \
                         last_error) VALUES ($1, $2, $3, $4, $5, 'pending', $6, 0, '')",
                    )
                    .bind(format!("{tenant}/{}/{platform}/{connector}", post.id))
                    .bind(tenant.as_str())
                    .bind(&post.id)
                    .bind(platform)
                    .bind(*connector)
                    .bind(run_at)
                    .execute(&mut *transaction)
                    .await
                    .map_err(sql)?;
                }
            }
            transaction.commit().await.map_err(sql)
        }
        .await;
        if let Err(error) = scheduled {
            self.usage.release(tenant, Metric::PublishedPosts, 1, now_ms).await?;
            return Err(match error {
                ServiceError::Conflict { .. } => Transition::Approve.conflict(self.load(tenant, &post.id).await?.state),
                other => other,
            });
        }
        self.wake.notify_one();
        self.record(principal, "post.approved", &post.id, serde_json::json!({"was": post.state.as_str()}), now_ms)
            .await?;
        let details = serde_json::json!({"run_at": run_at, "connectors": connectors});
        self.record(principal, "post.scheduled", &post.id, details, now_ms).await?;
        Ok(warning)
    }

    /// One post from the month's quota (atomically, across replicas); the warning from 80 % on,
    /// audited when this post crossed it.
    async fn take_quota(&self, principal: &Principal, now_ms: i64) -> Result<Option<String>, ServiceError> {
        let tenant = &principal.tenant;
        let Some(plan) = principal.plan else {
            self.usage.count(tenant, Metric::PublishedPosts, 1, now_ms);
            return Ok(None);
        };
        let limit = self.plans.limits(plan).posts_per_month;
        let taken = self.usage.consume(tenant, Metric::PublishedPosts, 1, limit, plan, now_ms).await?;
        if taken.crossed_warning {
            let details = serde_json::json!({"metric": "posts_per_month", "used": taken.used, "limit": taken.limit});
            self.record_on(principal, "quota.warning", "usage", details, now_ms).await?;
        }
        Ok(taken.warning.then(|| format!("posts_per_month {}/{}", taken.used, taken.limit.unwrap_or_default())))
    }

    /// The connectors a new delivery goes through, from the tenant's settings.
    async fn connectors(&self, tenant: &TenantId) -> Result<Vec<&'static str>, ServiceError> {
        let settings = self.settings_row(tenant).await?.map(super::settings_of).unwrap_or_default();
        let mut connectors = Vec::new();
        if settings.webhook_url.is_some() {
            connectors.push("webhook");
        }
        if settings.outbox {
            connectors.push("outbox");
        }
        Ok(connectors)
    }

    /// `transition` to `to`, or a 409 naming the state the post is in.
    async fn move_state(
        &self,
        tenant: &TenantId,
        id: &str,
        transition: Transition,
        to: PostState,
        reasons: Option<&serde_json::Value>,
        now_ms: i64,
    ) -> Result<(), ServiceError> {
        match self.set_state(tenant, id, transition.from_states(), to, reasons, now_ms).await {
            Err(ServiceError::Conflict { .. }) => Err(transition.conflict(self.load(tenant, id).await?.state)),
            other => other,
        }
    }

    async fn move_state_in(
        &self,
        connection: &mut AnyConnection,
        tenant: &TenantId,
        id: &str,
        transition: Transition,
        to: PostState,
        now_ms: i64,
    ) -> Result<(), ServiceError> {
        let from = transition.from_states();
        match self.set_state_in(connection, tenant, id, from, to, None, now_ms).await {
            Err(ServiceError::Conflict { .. }) => {
                let (state,): (String,) = sqlx::query_as("SELECT state FROM posts WHERE tenant = $1 AND id = $2")
                    .bind(tenant.as_str())
                    .bind(id)
                    .fetch_optional(&mut *connection)
                    .await
                    .map_err(sql)?
                    .ok_or_else(|| not_found(id))?;
                Err(transition.conflict(PostState::parse(&state).unwrap_or(PostState::Draft)))
            }
            other => other,
        }
    }

    async fn set_state(
        &self,
        tenant: &TenantId,
        id: &str,
        from: &[PostState],
        to: PostState,
        reasons: Option<&serde_json::Value>,
        now_ms: i64,
    ) -> Result<(), ServiceError> {
        let mut connection = self.database.pool.acquire().await.map_err(sql)?;
        self.set_state_in(&mut connection, tenant, id, from, to, reasons, now_ms).await
    }

    /// One conditional update: `from → to`, or [`ServiceError::Conflict`] when the post was in
    /// none of `from` (or does not exist: the caller reloads it to tell).
    #[allow(clippy::too_many_arguments)]
    async fn set_state_in(
        &self,
        connection: &mut AnyConnection,
        tenant: &TenantId,
        id: &str,
        from: &[PostState],
        to: PostState,
        reasons: Option<&serde_json::Value>,
        now_ms: i64,
    ) -> Result<(), ServiceError> {
        let moved = sqlx::query(&format!(
            "UPDATE posts SET state = $1, updated_at = $2, reasons = COALESCE($3, reasons) \
             WHERE tenant = $4 AND id = $5 AND state IN ({})",
            sql_list(from)
        ))
        .bind(to.as_str())
        .bind(now_ms)
        .bind(reasons.map(|r| r.to_string()))
        .bind(tenant.as_str())
        .bind(id)
        .execute(&mut *connection)
        .await
        .map_err(sql)?;
        if moved.rows_affected() == 0 {
            return Err(ServiceError::Conflict { state: String::new(), message: String::new() });
        }
        Ok(())
    }

    /// A 409 when one of the post's deliveries is leased or done: it has begun publishing.
    async fn refuse_if_publishing(
        &self,
        connection: &mut AnyConnection,
        tenant: &TenantId,
        id: &str,
    ) -> Result<(), ServiceError> {
        let (started,): (i64,) = sqlx::query_as(
            "SELECT COUNT(*) FROM deliveries WHERE tenant = $1 AND post_id = $2 \
             AND (state IN ('delivered', 'dead') OR (state = 'pending' AND lease_until IS NOT NULL))",
        )
        .bind(tenant.as_str())
        .bind(id)
        .fetch_one(&mut *connection)
        .await
        .map_err(sql)?;
        if started > 0 {
            return Err(ServiceError::Conflict {
                state: PostState::Publishing.as_str().into(),
                message: "the post is publishing: it can no longer be changed".into(),
            });
        }
        Ok(())
    }

    async fn answer(
        &self,
        tenant: &TenantId,
        id: &str,
        quota_warning: Option<String>,
    ) -> Result<Transitioned, ServiceError> {
        Ok(Transitioned { post: self.load(tenant, id).await?, quota_warning })
    }

    /// A publishing step in the tenant's audit log.
    async fn record(
        &self,
        principal: &Principal,
        event: &str,
        post_id: &str,
        details: serde_json::Value,
        now_ms: i64,
    ) -> Result<(), ServiceError> {
        self.record_on(principal, event, &format!("posts/{post_id}"), details, now_ms).await
    }

    /// A publishing step on `resource` in the tenant's audit log.
    pub(super) async fn record_on(
        &self,
        principal: &Principal,
        event: &str,
        resource: &str,
        details: serde_json::Value,
        now_ms: i64,
    ) -> Result<(), ServiceError> {
        let event = AuditEvent::by(principal, event, resource, details);
        self.audit.append(event, now_ms).await.map(drop)
    }
}

/// `text` as a publishing time (RFC 3339 or Unix seconds), not in the past nor too far ahead.
fn parse_schedule(text: &str, now_ms: i64) -> Result<i64, ServiceError> {
    let seconds = eiq_datasets::parse_time(text).map_err(|_| {
        ServiceError::invalid(
            "scheduled_at",
            format!("scheduled_at `{}` must be an RFC 3339 time, Unix seconds, or `best`", excerpt(text)),
        )
    })?;
    let at = seconds.saturating_mul(1_000);
    if at < now_ms - PAST_GRACE_MS {
        return Err(ServiceError::invalid("scheduled_at", "scheduled_at is in the past"));
    }
    if at > now_ms.saturating_add(MAX_SCHEDULE_AHEAD_MS) {
        return Err(ServiceError::invalid("scheduled_at", "scheduled_at is more than two years ahead"));
    }
    Ok(at.max(now_ms))
}

fn check_idempotency_key(key: &str) -> Result<(), ServiceError> {
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY_BYTES || !key.bytes().all(|b| (b'!'..=b'~').contains(&b)) {
        return Err(ServiceError::invalid(
            "Idempotency-Key",
            format!("Idempotency-Key must be 1–{MAX_IDEMPOTENCY_KEY_BYTES} visible ASCII characters"),
        ));
    }
    Ok(())
}

/// `pst_` and 16 random hex digits.
fn new_post_id() -> Result<String, ServiceError> {
    let mut bytes = [0u8; 8];
    getrandom::getrandom(&mut bytes).map_err(|e| ServiceError::internal("post id", e))?;
    Ok(format!("pst_{}", hex::encode(bytes)))
}

fn not_found(id: &str) -> ServiceError {
    ServiceError::NotFound {
        resource: Resource::Post(id.to_string()),
        message: format!("no post `{}`", excerpt(id)),
        hint: None,
    }
}

fn post_of(row: PostRow, deliveries: Vec<DeliveryRow>) -> Result<Post, ServiceError> {
    let corrupt = |what: &str| ServiceError::internal("post row", format!("{what} of {} is unreadable", row.id));
    let state = PostState::parse(&row.state).ok_or_else(|| corrupt("state"))?;
    let content: PostContent = serde_json::from_str(&row.content).map_err(|_| corrupt("content"))?;
    let reasons = serde_json::from_str(&row.reasons).map_err(|_| corrupt("reasons"))?;
    let deliveries = deliveries
        .into_iter()
        .map(|d| DeliveryStatus {
            platform: d.platform,
            connector: d.connector,
            state: d.state,
            attempts: d.attempts.clamp(0, i64::from(u32::MAX)) as u32,
            last_error: d.last_error,
            run_at: d.run_at,
            delivered_at: d.delivered_at,
        })
        .collect();
    Ok(Post {
        id: row.id,
        state,
        content,
        scheduled_at: row.scheduled_at,
        schedule: row.schedule,
        reasons,
        created_by: row.created_by,
        created_at: row.created_at,
        updated_at: row.updated_at,
        deliveries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_are_times_ahead() {
        let now = 1_800_000_000_000;
        assert_eq!(parse_schedule("1800000600", now).unwrap(), 1_800_000_600_000);
        assert_eq!(parse_schedule("2027-01-15T09:00:00Z", now).unwrap(), 1_800_003_600_000);
        assert_eq!(parse_schedule("1799999990", now).unwrap(), now, "a few seconds late is now");
        for bad in ["1700000000", "tomorrow", "2099-01-01T00:00:00Z"] {
            assert_eq!(parse_schedule(bad, now).unwrap_err().param(), Some("scheduled_at"), "{bad}");
        }
        assert!(check_idempotency_key("order-42").is_ok());
        for bad in ["", "has space", "é", &"k".repeat(256)] {
            assert!(check_idempotency_key(bad).is_err(), "{bad}");
        }
        assert!(new_post_id().unwrap().starts_with("pst_"));
    }
}
