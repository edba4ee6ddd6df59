//! Tenants and their API keys, in the tenant layer's database (`database.rs`).
//!
//! A tenant has a plan; creating one makes its first `admin` key in the same transaction, so no
//! tenant exists that nobody can administer. Keys (`keys.rs`) are shown once, stored as hashes,
//! may expire and may be revoked; [`TenantDirectory::authenticate`] turns a presented key into the
//! tenant and role it acts for, or refuses it.

mod database;
mod keys;
mod plans;

use std::sync::Arc;

use crate::error::{Resource, ServiceError};
use crate::limits::excerpt;
use crate::tenancy::{Principal, Role, TenantId};

pub use database::{Database, DatabaseError};
pub use keys::prefix_of;
pub use plans::{PlanBook, PlanLimits};

/// Longest key name.
pub const MAX_KEY_NAME_BYTES: usize = 100;
/// Longest a key may live, in days (ten years).
pub const MAX_KEY_DAYS: u32 = 3_650;

/// What a tenant pays for: the plan's limits are the quota layer's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Plan {
    Starter,
    Professional,
    Enterprise,
}

impl Plan {
    pub const NAMES: &'static str = "starter, professional, enterprise";

    pub fn as_str(self) -> &'static str {
        match self {
            Plan::Starter => "starter",
            Plan::Professional => "professional",
            Plan::Enterprise => "enterprise",
        }
    }

    pub fn parse(field: &str, name: &str) -> Result<Self, ServiceError> {
        [Plan::Starter, Plan::Professional, Plan::Enterprise].into_iter().find(|p| p.as_str() == name).ok_or_else(
            || ServiceError::invalid(field, format!("unknown plan `{}`; plans: {}", excerpt(name), Self::NAMES)),
        )
    }
}

/// A key as listings show it: never the key itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyInfo {
    pub prefix: String,
    pub tenant: String,
    pub role: Role,
    pub name: String,
    /// Unix seconds.
    pub created_at: i64,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A key just made: the key, shown this once, and its record.
#[derive(Debug, Clone)]
pub struct NewKey {
    pub key: String,
    pub info: KeyInfo,
}

/// Who a valid key acts for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyIdentity {
    pub tenant: TenantId,
    pub role: Role,
    pub prefix: String,
    pub plan: Plan,
}

/// A key as the API asks for one.
#[derive(Debug, Clone, Default)]
pub struct KeyRequest {
    /// admin, editor, approver, viewer or service.
    pub role: String,
    pub name: String,
    pub expires_in_days: Option<u32>,
}

/// Tenants and keys over a [`Database`]; cheap to clone.
#[derive(Clone)]
pub struct TenantDirectory {
    database: Database,
    plans: Arc<PlanBook>,
}

type KeyRow = (String, String, String, String, i64, Option<i64>, Option<i64>);
/// tenant, role, hash, expires_at, revoked_at, plan.
type CredentialRow = (String, String, String, Option<i64>, Option<i64>, String);

impl TenantDirectory {
    /// Over `database`, with the built-in plans.
    pub fn new(database: Database) -> Self {
        Self { database, plans: Arc::new(PlanBook::builtin()) }
    }

    /// With an operator's plans instead of the built-in ones.
    pub fn with_plans(self, plans: PlanBook) -> Self {
        Self { plans: Arc::new(plans), ..self }
    }

    pub fn plans(&self) -> &PlanBook {
        &self.plans
    }

    pub fn database(&self) -> &Database {
        &self.database
    }

    /// Creates `tenant` on `plan` with its first admin key.
    pub async fn create_tenant(&self, tenant: &TenantId, plan: Plan, now: i64) -> Result<NewKey, ServiceError> {
        let mut transaction = self.database.pool.begin().await.map_err(sql)?;
        let exists: Option<(String,)> = sqlx::query_as("SELECT name FROM tenants WHERE name = $1")
            .bind(tenant.as_str())
            .fetch_optional(&mut *transaction)
            .await
            .map_err(sql)?;
        if exists.is_some() {
            return Err(ServiceError::FailedPrecondition { message: format!("tenant `{tenant}` exists already") });
        }
        sqlx::query("INSERT INTO tenants (name, plan, created_at) VALUES ($1, $2, $3)")
            .bind(tenant.as_str())
            .bind(plan.as_str())
            .bind(now)
            .execute(&mut *transaction)
            .await
            .map_err(sql)?;
        let key = insert_key(&mut transaction, tenant, Role::Admin, "first admin key", now, None).await?;
        transaction.commit().await.map_err(sql)?;
        Ok(key)
    }

    /// The tenant's plan; a tenant that does not exist is not found.
    pub async fn plan(&self, tenant: &TenantId) -> Result<Plan, ServiceError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT plan FROM tenants WHERE name = $1")
            .bind(tenant.as_str())
            .fetch_optional(&self.database.pool)
            .await
            .map_err(sql)?;
        let (plan,) = row.ok_or_else(|| not_found_tenant(tenant))?;
        stored_plan(&plan)
    }

    /// Every tenant with its plan, by name.
    pub async fn tenants(&self) -> Result<Vec<(TenantId, Plan)>, ServiceError> {
        let rows: Vec<(String, String)> = sqlx::query_as("SELECT name, plan FROM tenants ORDER BY name")
            .fetch_all(&self.database.pool)
            .await
            .map_err(sql)?;
        rows.into_iter()
            .map(|(name, plan)| {
                let tenant =
                    TenantId::parse(&name).map_err(|_| ServiceError::internal("tenant", "stored tenant name"))?;
                Ok((tenant, stored_plan(&plan)?))
            })
            .collect()
    }

    /// Whether any tenant exists (a server without tenants runs in development mode).
    pub async fn has_tenants(&self) -> Result<bool, ServiceError> {
        let row: Option<(String,)> = sqlx::query_as("SELECT name FROM tenants LIMIT 1")
            .fetch_optional(&self.database.pool)
            .await
            .map_err(sql)?;
        Ok(row.is_some())
    }

    /// A new key for an existing tenant; `days` until it expires (none: never).
    pub async fn create_key(
        &self,
        tenant: &TenantId,
        role: Role,
        name: &str,
        days: Option<u32>,
        now: i64,
    ) -> Result<NewKey, ServiceError> {
        if name.len() > MAX_KEY_NAME_BYTES || name.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                "name",
                format!("name must be at most {MAX_KEY_NAME_BYTES} bytes, without control characters"),
            ));
        }
        if let Some(days) = days
            && !(1..=MAX_KEY_DAYS).contains(&days)
        {
            return Err(ServiceError::invalid("expires_in_days", format!("expires_in_days must be 1–{MAX_KEY_DAYS}")));
        }
        let plan = self.plan(tenant).await?;
        let mut transaction = self.database.pool.begin().await.map_err(sql)?;
        let expires_at = days.map(|d| now + i64::from(d) * 86_400);
        let key = insert_key(&mut transaction, tenant, role, name, now, expires_at).await?;
        // Counted with the new key in, so the check and the insert are one transaction.
        if let (true, Some(users)) = (role != Role::Service, self.plans.limits(plan).users) {
            let (people,): (i64,) = sqlx::query_as(
                "SELECT COUNT(*) FROM api_keys WHERE tenant = $1 AND role <> 'service' \
                 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
            )
            .bind(tenant.as_str())
            .bind(now)
            .fetch_one(&mut *transaction)
            .await
            .map_err(sql)?;
            if people as u64 > users {
                return Err(ServiceError::forbidden(format!(
                    "the {} plan allows {users} user key{} (keys with a person's role); revoke one, or use a \
                     `service` key for a service",
                    plan.as_str(),
                    if users == 1 { "" } else { "s" }
                )));
            }
        }
        transaction.commit().await.map_err(sql)?;
        Ok(key)
    }

    /// A new key in the caller's tenant, as the API and the CLI ask for one.
    pub async fn issue_key(
        &self,
        principal: &Principal,
        request: KeyRequest,
        now: i64,
    ) -> Result<NewKey, ServiceError> {
        let role = Role::parse(&request.role).ok_or_else(|| {
            ServiceError::invalid(
                "role",
                format!("role must be one of {}, not `{}`", Role::NAMES, excerpt(&request.role)),
            )
        })?;
        self.create_key(&principal.tenant, role, &request.name, request.expires_in_days, now).await
    }

    /// The tenant's keys, newest first.
    pub async fn list_keys(&self, tenant: &TenantId) -> Result<Vec<KeyInfo>, ServiceError> {
        self.plan(tenant).await?;
        let rows: Vec<KeyRow> = sqlx::query_as(
            "SELECT prefix, tenant, role, name, created_at, expires_at, revoked_at FROM api_keys \
             WHERE tenant = $1 ORDER BY created_at DESC, prefix",
        )
        .bind(tenant.as_str())
        .fetch_all(&self.database.pool)
        .await
        .map_err(sql)?;
        rows.into_iter().map(key_info).collect()
    }

    /// Revokes the tenant's key `prefix`; another tenant's key, or none, is not found.
    pub async fn revoke_key(&self, tenant: &TenantId, prefix: &str, now: i64) -> Result<(), ServiceError> {
        let done =
            sqlx::query("UPDATE api_keys SET revoked_at = $1 WHERE tenant = $2 AND prefix = $3 AND revoked_at IS NULL")
                .bind(now)
                .bind(tenant.as_str())
                .bind(prefix)
                .execute(&self.database.pool)
                .await
                .map_err(sql)?;
        match done.rows_affected() {
            0 => Err(ServiceError::NotFound {
                resource: Resource::Key(prefix.chars().take(16).collect()),
                message: format!("no active key `{}` in tenant `{tenant}`", excerpt(prefix)),
                hint: None,
            }),
            _ => Ok(()),
        }
    }

    /// Who `key` acts for, or `None` when it is malformed, unknown, revoked or expired (the
    /// caller answers all of them alike: 401).
    pub async fn authenticate(&self, key: &str, now: i64) -> Result<Option<KeyIdentity>, ServiceError> {
        let Some(prefix) = prefix_of(key) else { return Ok(None) };
        let row: Option<CredentialRow> = sqlx::query_as(
            "SELECT k.tenant, k.role, k.hash, k.expires_at, k.revoked_at, t.plan FROM api_keys k \
                 JOIN tenants t ON t.name = k.tenant WHERE k.prefix = $1",
        )
        .bind(prefix)
        .fetch_optional(&self.database.pool)
        .await
        .map_err(sql)?;
        let Some((tenant, role, hash, expires_at, revoked_at, plan)) = row else { return Ok(None) };
        let live = revoked_at.is_none() && expires_at.is_none_or(|at| now < at);
        if !live || !keys::matches(key, &hash) {
            return Ok(None);
        }
        let tenant =
            TenantId::parse(&tenant).map_err(|_| ServiceError::internal("key tenant", "stored tenant name"))?;
        let role =
            Role::parse(&role).ok_or_else(|| ServiceError::internal("key role", format!("stored role `{role}`")))?;
        let plan = stored_plan(&plan)?;
        Ok(Some(KeyIdentity { tenant, role, prefix: prefix.to_string(), plan }))
    }
}

async fn insert_key(
    transaction: &mut sqlx::Transaction<'_, sqlx::Any>,
    tenant: &TenantId,
    role: Role,
    name: &str,
    now: i64,
    expires_at: Option<i64>,
) -> Result<NewKey, ServiceError> {
    let generated = keys::generate().map_err(|e| ServiceError::internal("key generation", e))?;
    sqlx::query(
        "INSERT INTO api_keys (prefix, tenant, hash, role, name, created_at, expires_at, revoked_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, NULL)",
    )
    .bind(&generated.prefix)
    .bind(tenant.as_str())
    .bind(&generated.hash)
    .bind(role.as_str())
    .bind(name)
    .bind(now)
    .bind(expires_at)
    .execute(&mut **transaction)
    .await
    .map_err(sql)?;
    let info = KeyInfo {
        prefix: generated.prefix,
        tenant: tenant.as_str().to_string(),
        role,
        name: name.to_string(),
        created_at: now,
        expires_at,
        revoked_at: None,
    };
    Ok(NewKey { key: generated.key, info })
}

fn key_info((prefix, tenant, role, name, created_at, expires_at, revoked_at): KeyRow) -> Result<KeyInfo, ServiceError> {
    let role = Role::parse(&role).ok_or_else(|| ServiceError::internal("key role", format!("stored role `{role}`")))?;
    Ok(KeyInfo { prefix, tenant, role, name, created_at, expires_at, revoked_at })
}

fn stored_plan(plan: &str) -> Result<Plan, ServiceError> {
    Plan::parse("plan", plan).map_err(|_| ServiceError::internal("tenant plan", format!("stored plan `{plan}`")))
}

fn not_found_tenant(tenant: &TenantId) -> ServiceError {
    ServiceError::NotFound {
        resource: Resource::Tenant(tenant.clone()),
        message: format!("no tenant `{tenant}`"),
        hint: None,
    }
}

fn sql(error: sqlx::Error) -> ServiceError {
    ServiceError::internal("tenant database", error)
}
