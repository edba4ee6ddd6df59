//! The audit log: who did what to which tenant, when, from where, and how it ended.
//!
//! Rows are appended, never updated, and chained per tenant: each carries the previous row's
//! hash and its own (`chain.rs`), and `audit_heads` holds each chain's last row. An append locks
//! its tenant's head row, so one tenant's chain has one writer at a time on PostgreSQL as on
//! SQLite, across replicas. [`AuditLog::verify`] walks a chain and names the first row that was
//! changed, removed or reordered. What the chain cannot show is a rewrite of every row from some
//! point on, head included: for that, keep the head hash `verify` prints somewhere else.
//!
//! The server writes a row for every state-changing request, every authentication failure and
//! every refused permission; the CLI for every tenant and key it manages. Fields are bounded, and
//! no row holds a request body or a credential.

mod chain;

use crate::error::ServiceError;
use crate::tenancy::{Principal, TenantId};
use crate::tenants::Database;

/// Longest text field kept (user agents, resources); longer ones are cut.
const MAX_FIELD_CHARS: usize = 256;
/// Longest details JSON kept.
const MAX_DETAILS_BYTES: usize = 2_048;
/// Most rows in one page.
pub const MAX_PAGE: usize = 1_000;
const DEFAULT_PAGE: usize = 100;
/// Rows read at once while verifying.
const VERIFY_BATCH: i64 = 1_000;

/// What happened, as the edges report it.
#[derive(Debug, Clone, Default)]
pub struct AuditEvent {
    /// The tenant whose chain it goes in; `None` when no tenant can be named (an unknown key).
    pub tenant: Option<TenantId>,
    pub actor: String,
    pub auth_method: String,
    pub role: String,
    /// `keys.create`, `auth.failed`, …
    pub event: String,
    pub resource: String,
    pub action: String,
    pub outcome: String,
    pub source_ip: String,
    pub user_agent: String,
    pub details: serde_json::Value,
}

impl AuditEvent {
    /// `event` on `resource`, done by `principal` (a service's own step, beside the request's row).
    pub fn by(principal: &Principal, event: &str, resource: &str, details: serde_json::Value) -> Self {
        Self {
            tenant: Some(principal.tenant.clone()),
            actor: principal.actor().unwrap_or(principal.credential.method()).to_string(),
            auth_method: principal.credential.method().to_string(),
            role: principal.role.as_str().to_string(),
            event: event.to_string(),
            resource: resource.to_string(),
            action: event.rsplit('.').next().unwrap_or(event).to_string(),
            outcome: "succeeded".to_string(),
            details,
            ..Self::default()
        }
    }
}

/// One row of the log, as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, sqlx::FromRow)]
pub struct AuditRecord {
    pub tenant: String,
    pub seq: i64,
    pub at_ms: i64,
    pub actor: String,
    pub auth_method: String,
    pub role: String,
    pub event: String,
    pub resource: String,
    pub action: String,
    pub outcome: String,
    pub source_ip: String,
    pub user_agent: String,
    /// JSON.
    pub details: String,
    pub prev_hash: String,
    pub hash: String,
}

/// Which rows to list: filters, and the page (rows after `after_seq`, oldest first).
#[derive(Debug, Clone, Default)]
pub struct AuditQuery {
    /// Unix seconds, inclusive: the whole second `until` names is in.
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub event: Option<String>,
    pub actor: Option<String>,
    pub after_seq: Option<i64>,
    pub limit: Option<usize>,
}

/// One page; `next_after` continues it.
#[derive(Debug, Clone)]
pub struct AuditPage {
    pub records: Vec<AuditRecord>,
    pub next_after: Option<i64>,
}

/// What walking a chain found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verification {
    /// Every row is where it was written, unchanged; `head` is the last row's hash.
    Intact { rows: i64, head: String },
    /// Row `seq` is the first that was changed, removed or moved.
    Broken { seq: i64, problem: String },
}

const COLUMNS: &str = "tenant, seq, at_ms, actor, auth_method, role, event, resource, action, outcome, \
                       source_ip, user_agent, details, prev_hash, hash";

/// The audit log over the tenant database; cheap to clone.
#[derive(Clone)]
pub struct AuditLog {
    database: Database,
}

impl AuditLog {
    pub fn new(database: Database) -> Self {
        Self { database }
    }

    /// Appends `event` at `at_ms` (Unix milliseconds) to its tenant's chain.
    pub async fn append(&self, event: AuditEvent, at_ms: i64) -> Result<AuditRecord, ServiceError> {
        let tenant = event.tenant.as_ref().map_or("", TenantId::as_str).to_string();
        let mut details = event.details.to_string();
        if details.len() > MAX_DETAILS_BYTES {
            details = serde_json::json!({"truncated": true, "bytes": details.len()}).to_string();
        }
        let mut record = AuditRecord {
            tenant,
            seq: 0,
            at_ms,
            actor: bounded(&event.actor),
            auth_method: bounded(&event.auth_method),
            role: bounded(&event.role),
            event: bounded(&event.event),
            resource: bounded(&event.resource),
            action: bounded(&event.action),
            outcome: bounded(&event.outcome),
            source_ip: bounded(&event.source_ip),
            user_agent: bounded(&event.user_agent),
            details,
            prev_hash: String::new(),
            hash: String::new(),
        };
        let mut transaction = self.database.pool.begin().await.map_err(sql)?;
        sqlx::query("INSERT INTO audit_heads (tenant, seq, hash) VALUES ($1, 0, '') ON CONFLICT (tenant) DO NOTHING")
            .bind(&record.tenant)
            .execute(&mut *transaction)
            .await
            .map_err(sql)?;
        // Taking the head's row lock first: appends to one chain queue here, across replicas.
        let (seq, prev_hash): (i64, String) =
            sqlx::query_as("UPDATE audit_heads SET seq = seq + 1 WHERE tenant = $1 RETURNING seq, hash")
                .bind(&record.tenant)
                .fetch_one(&mut *transaction)
                .await
                .map_err(sql)?;
        record.seq = seq;
        record.prev_hash = prev_hash;
        record.hash = chain::hash(&record);
        sqlx::query(&format!(
            "INSERT INTO audit_log ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
        ))
        .bind(&record.tenant)
        .bind(record.seq)
        .bind(record.at_ms)
        .bind(&record.actor)
        .bind(&record.auth_method)
        .bind(&record.role)
        .bind(&record.event)
        .bind(&record.resource)
        .bind(&record.action)
        .bind(&record.outcome)
        .bind(&record.source_ip)
        .bind(&record.user_agent)
        .bind(&record.details)
        .bind(&record.prev_hash)
        .bind(&record.hash)
        .execute(&mut *transaction)
        .await
        .map_err(sql)?;
        sqlx::query("UPDATE audit_heads SET hash = $1 WHERE tenant = $2")
            .bind(&record.hash)
            .bind(&record.tenant)
            .execute(&mut *transaction)
            .await
            .map_err(sql)?;
        transaction.commit().await.map_err(sql)?;
        Ok(record)
    }

    /// A page of `tenant`'s rows matching `query`, oldest first.
    pub async fn list(&self, tenant: &TenantId, query: &AuditQuery) -> Result<AuditPage, ServiceError> {
        let limit = query.limit.unwrap_or(DEFAULT_PAGE);
        if !(1..=MAX_PAGE).contains(&limit) {
            return Err(ServiceError::invalid("limit", format!("limit must be 1–{MAX_PAGE}")));
        }
        // Placeholders are numbered as the filters present are added.
        let mut conditions = vec!["tenant = $1".to_string()];
        let mut numbers: Vec<i64> = Vec::new();
        let mut texts: Vec<&str> = Vec::new();
        for (column, op, value) in [
            ("at_ms", ">=", query.since.map(|s| s.saturating_mul(1_000))),
            ("at_ms", "<=", query.until.map(|s| s.saturating_mul(1_000).saturating_add(999))),
            ("seq", ">", query.after_seq),
        ] {
            if let Some(value) = value {
                numbers.push(value);
                conditions.push(format!("{column} {op} ${}", 1 + numbers.len()));
            }
        }
        for (column, value) in [("event", &query.event), ("actor", &query.actor)] {
            if let Some(value) = value {
                texts.push(value);
                conditions.push(format!("{column} = ${}", 1 + numbers.len() + texts.len()));
            }
        }
        let statement = format!(
            "SELECT {COLUMNS} FROM audit_log WHERE {} ORDER BY seq LIMIT {}",
            conditions.join(" AND "),
            limit + 1
        );
        let mut select = sqlx::query_as::<_, AuditRecord>(&statement).bind(tenant.as_str());
        for number in numbers {
            select = select.bind(number);
        }
        for text in texts {
            select = select.bind(text);
        }
        let mut records = select.fetch_all(&self.database.pool).await.map_err(sql)?;
        let next_after = (records.len() > limit).then(|| records[limit - 1].seq);
        records.truncate(limit);
        Ok(AuditPage { records, next_after })
    }

    /// Walks `tenant`'s chain (`None`: the chain of events without a tenant) from its first row.
    pub async fn verify(&self, tenant: Option<&TenantId>) -> Result<Verification, ServiceError> {
        let tenant = tenant.map_or("", TenantId::as_str);
        let (mut expected, mut previous) = (1_i64, String::new());
        loop {
            let rows: Vec<AuditRecord> = sqlx::query_as(&format!(
                "SELECT {COLUMNS} FROM audit_log WHERE tenant = $1 AND seq >= $2 ORDER BY seq LIMIT {VERIFY_BATCH}"
            ))
            .bind(tenant)
            .bind(expected)
            .fetch_all(&self.database.pool)
            .await
            .map_err(sql)?;
            let done = (rows.len() as i64) < VERIFY_BATCH;
            for row in rows {
                if row.seq != expected {
                    let problem = format!("row {expected} is missing: the chain jumps to row {}", row.seq);
                    return Ok(Verification::Broken { seq: expected, problem });
                }
                if chain::hash(&row) != row.hash {
                    let problem = format!("row {} was changed or moved: its hash does not match its fields", row.seq);
                    return Ok(Verification::Broken { seq: row.seq, problem });
                }
                if row.prev_hash != previous {
                    let problem =
                        format!("row {} was changed: row {} recorded another hash for it", row.seq - 1, row.seq);
                    return Ok(Verification::Broken { seq: row.seq - 1, problem });
                }
                previous = row.hash;
                expected += 1;
            }
            if done {
                break;
            }
        }
        let head: Option<(i64, String)> = sqlx::query_as("SELECT seq, hash FROM audit_heads WHERE tenant = $1")
            .bind(tenant)
            .fetch_optional(&self.database.pool)
            .await
            .map_err(sql)?;
        let (head_seq, head_hash) = head.unwrap_or((0, String::new()));
        let last = expected - 1;
        if head_seq != last || head_hash != previous {
            let problem = format!("the chain ends at row {last}, but row {head_seq} was written last");
            return Ok(Verification::Broken { seq: last + 1, problem });
        }
        Ok(Verification::Intact { rows: last, head: previous })
    }
}

fn bounded(text: &str) -> String {
    text.chars().take(MAX_FIELD_CHARS).collect()
}

fn sql(error: sqlx::Error) -> ServiceError {
    ServiceError::internal("audit log", error)
}
