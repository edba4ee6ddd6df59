//! `eiq tenants create` and `eiq keys create|list|revoke`: the tenant layer's database from the
//! command line (SQLite under the data folder, or `--database-url`). Every change is recorded in
//! the tenant's audit log, as the operator's (`local`).

use anyhow::Context;
use eiq_service::audit::{AuditEvent, AuditLog};
use eiq_service::tenancy::{Principal, TenantId};
use eiq_service::tenants::{KeyInfo, KeyRequest, Plan, TenantDirectory};
use eiq_service::usage::UsageMeter;

use crate::config::{DatabaseArgs, KeysCommand, TenantsCommand};

pub fn tenants(command: TenantsCommand) -> anyhow::Result<String> {
    match command {
        TenantsCommand::Create(args) => run(&args.database, |store, now| async move {
            let tenant = TenantId::parse(&args.name)?;
            let plan = Plan::parse("plan", &args.plan)?;
            let key = store.directory.create_tenant(&tenant, plan, now).await?;
            let details = serde_json::json!({"plan": plan.as_str(), "key": key.info.prefix});
            store.record(&tenant, "tenants.create", tenant.as_str(), details, now).await?;
            Ok(format!(
                "tenant {tenant} created on the {} plan\nadmin key (shown once; store it now): {}\n",
                plan.as_str(),
                key.key
            ))
        }),
    }
}

pub fn keys(command: KeysCommand) -> anyhow::Result<String> {
    match command {
        KeysCommand::Create(args) => run(&args.database, |store, now| async move {
            let tenant = TenantId::parse(&args.tenant)?;
            let request = KeyRequest { role: args.role, name: args.name, expires_in_days: args.expires_in_days };
            let key = store.directory.issue_key(&Principal::local(tenant.clone()), request, now).await?;
            let details = serde_json::json!({"role": key.info.role.as_str()});
            store.record(&tenant, "keys.create", &key.info.prefix, details, now).await?;
            Ok(format!(
                "{} key {} for {tenant} (shown once; store it now): {}\n",
                key.info.role.as_str(),
                key.info.prefix,
                key.key
            ))
        }),
        KeysCommand::List(args) => run(&args.database, |store, _| async move {
            let tenant = TenantId::parse(&args.tenant)?;
            let keys = store.directory.list_keys(&tenant).await?;
            let mut out = String::from(
                "prefix        role      created               expires               revoked               name\n",
            );
            for key in keys {
                out.push_str(&row(&key));
            }
            Ok(out)
        }),
        KeysCommand::Revoke(args) => run(&args.database, |store, now| async move {
            let tenant = TenantId::parse(&args.tenant)?;
            store.directory.revoke_key(&tenant, &args.prefix, now).await?;
            store.record(&tenant, "keys.revoke", &args.prefix, serde_json::Value::Null, now).await?;
            Ok(format!("revoked key {} of {tenant}\n", args.prefix))
        }),
    }
}

fn row(key: &KeyInfo) -> String {
    let time = |at: Option<i64>| at.map_or_else(|| "-".to_string(), eiq_datasets::format_time);
    format!(
        "{:<13} {:<9} {:<21} {:<21} {:<21} {}\n",
        key.prefix,
        key.role.as_str(),
        eiq_datasets::format_time(key.created_at),
        time(key.expires_at),
        time(key.revoked_at),
        key.name
    )
}

/// The tenant layer's database as the operator's commands use it.
pub struct Store {
    pub directory: TenantDirectory,
    pub audit: AuditLog,
    pub usage: UsageMeter,
}

impl Store {
    /// Records a change the operator made from the command line in `tenant`'s audit log.
    async fn record(
        &self,
        tenant: &TenantId,
        event: &str,
        resource: &str,
        details: serde_json::Value,
        now: i64,
    ) -> anyhow::Result<()> {
        let local = Principal::local(tenant.clone());
        let event = AuditEvent {
            tenant: Some(tenant.clone()),
            actor: local.credential.method().to_string(),
            auth_method: local.credential.method().to_string(),
            role: local.role.as_str().to_string(),
            event: event.to_string(),
            resource: resource.to_string(),
            action: format!("eiq {}", event.replace('.', " ")),
            outcome: "succeeded".to_string(),
            user_agent: format!("eiq {}", env!("CARGO_PKG_VERSION")),
            details,
            ..AuditEvent::default()
        };
        self.audit.append(event, now.saturating_mul(1_000)).await?;
        Ok(())
    }
}

/// Opens the database and runs `work` with it and the current time (Unix seconds).
pub fn run<F, Fut>(database: &DatabaseArgs, work: F) -> anyhow::Result<String>
where
    F: FnOnce(Store, i64) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<String>>,
{
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let database = database.open().await?;
        let store = Store {
            directory: TenantDirectory::new(database.clone()),
            audit: AuditLog::new(database.clone()),
            usage: UsageMeter::new(database),
        };
        work(store, chrono::Utc::now().timestamp()).await
    })
}
