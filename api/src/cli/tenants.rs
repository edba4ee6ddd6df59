//! `eiq tenants create` and `eiq keys create|list|revoke`: the tenant layer's database from the
//! command line (SQLite under the data folder, or `--database-url`).

use anyhow::Context;
use eiq_service::tenancy::{Role, TenantId};
use eiq_service::tenants::{Database, KeyInfo, Plan, TenantDirectory};

use crate::config::{DatabaseArgs, KeysCommand, TenantsCommand};

pub fn tenants(command: TenantsCommand) -> anyhow::Result<String> {
    match command {
        TenantsCommand::Create(args) => run(&args.database, |directory, now| async move {
            let tenant = TenantId::parse(&args.name)?;
            let plan = Plan::parse("plan", &args.plan)?;
            let key = directory.create_tenant(&tenant, plan, now).await?;
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
        KeysCommand::Create(args) => run(&args.database, |directory, now| async move {
            let tenant = TenantId::parse(&args.tenant)?;
            let role = Role::parse(&args.role)
                .ok_or_else(|| anyhow::anyhow!("--role: one of {}, not `{}`", Role::NAMES, args.role))?;
            let key = directory.create_key(&tenant, role, &args.name, args.expires_in_days, now).await?;
            Ok(format!(
                "{} key {} for {tenant} (shown once; store it now): {}\n",
                role.as_str(),
                key.info.prefix,
                key.key
            ))
        }),
        KeysCommand::List(args) => run(&args.database, |directory, _| async move {
            let tenant = TenantId::parse(&args.tenant)?;
            let keys = directory.list_keys(&tenant).await?;
            let mut out = String::from(
                "prefix        role      created               expires               revoked               name\n",
            );
            for key in keys {
                out.push_str(&row(&key));
            }
            Ok(out)
        }),
        KeysCommand::Revoke(args) => run(&args.database, |directory, now| async move {
            let tenant = TenantId::parse(&args.tenant)?;
            directory.revoke_key(&tenant, &args.prefix, now).await?;
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

/// Opens the database and runs `work` with the directory and the current time.
fn run<F, Fut>(database: &DatabaseArgs, work: F) -> anyhow::Result<String>
where
    F: FnOnce(TenantDirectory, i64) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<String>>,
{
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let database = match &database.database_url {
            Some(url) => Database::open(url).await?,
            None => Database::embedded(&database.data.dir()).await?,
        };
        work(TenantDirectory::new(database), chrono::Utc::now().timestamp()).await
    })
}
