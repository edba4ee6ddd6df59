//! `eiq audit verify|export`: check a tenant's hash chain, or write its events as JSON Lines.

use std::io::Write;

use anyhow::Context;
use eiq_service::audit::{AuditQuery, MAX_PAGE, Verification};
use eiq_service::tenancy::TenantId;

use super::tenants::run;
use crate::config::AuditCommand;

/// The name `--tenant` takes for the chain of events no tenant could be named for.
const NO_TENANT: &str = "-";

pub fn audit(command: AuditCommand) -> anyhow::Result<String> {
    match command {
        AuditCommand::Verify(args) => run(&args.database, |store, _| async move {
            let tenant = (args.tenant != NO_TENANT).then(|| TenantId::parse(&args.tenant)).transpose()?;
            match store.audit.verify(tenant.as_ref()).await? {
                Verification::Intact { rows, head } => {
                    Ok(format!("{}: {rows} rows, chain intact; head hash {head}\n", args.tenant))
                }
                Verification::Broken { seq, problem } => {
                    anyhow::bail!("{}: the chain is broken at row {seq}: {problem}", args.tenant)
                }
            }
        }),
        AuditCommand::Export(args) => run(&args.database, |store, _| async move {
            let tenant = TenantId::parse(&args.tenant)?;
            let seconds = |flag: &str, value: &Option<String>| {
                value
                    .as_deref()
                    .map(|text| eiq_datasets::parse_time(text.trim()).map_err(|e| anyhow::anyhow!("{flag}: {e}")))
                    .transpose()
            };
            let mut query = AuditQuery {
                since: seconds("--since", &args.since)?,
                until: seconds("--until", &args.until)?,
                limit: Some(MAX_PAGE),
                ..AuditQuery::default()
            };
            let mut out: Box<dyn Write> = match &args.output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
                )),
                None => Box::new(std::io::stdout().lock()),
            };
            let mut rows = 0_usize;
            loop {
                let page = store.audit.list(&tenant, &query).await?;
                for record in &page.records {
                    serde_json::to_writer(&mut out, record)?;
                    out.write_all(b"\n")?;
                }
                rows += page.records.len();
                match page.next_after {
                    Some(after) => query.after_seq = Some(after),
                    None => break,
                }
            }
            out.flush()?;
            Ok(match &args.output {
                Some(path) => format!("{rows} events of {tenant} written to {}\n", path.display()),
                None => String::new(),
            })
        }),
    }
}
