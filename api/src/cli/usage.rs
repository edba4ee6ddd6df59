//! `eiq usage export`: every tenant's monthly counts, for billing.

use std::io::Write;

use anyhow::Context;
use eiq_service::usage::{Metric, parse_period, period_of};

use super::tenants::run;
use crate::config::UsageCommand;

pub fn usage(command: UsageCommand) -> anyhow::Result<String> {
    match command {
        UsageCommand::Export(args) => run(&args.database, |store, now| async move {
            let from = match &args.from {
                Some(text) => parse_period("--from", text)?,
                None => period_of(now.saturating_mul(1_000)),
            };
            let to = match &args.to {
                Some(text) => parse_period("--to", text)?,
                None => from.clone(),
            };
            let csv = match args.format.as_str() {
                "jsonl" => false,
                "csv" => true,
                other => anyhow::bail!("--format: jsonl or csv, not `{other}`"),
            };
            let usages = store.usage.export(&from, &to).await?;
            let mut out: Box<dyn Write> = match &args.output {
                Some(path) => Box::new(std::io::BufWriter::new(
                    std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
                )),
                None => Box::new(std::io::stdout().lock()),
            };
            let metrics = Metric::ALL.map(Metric::as_str);
            if csv {
                writeln!(out, "tenant,period,{}", metrics.join(","))?;
            }
            for usage in &usages {
                let counts = Metric::ALL.map(|m| usage.count(m));
                if csv {
                    let counts: Vec<String> = counts.iter().map(u64::to_string).collect();
                    writeln!(out, "{},{},{}", usage.tenant, usage.period, counts.join(","))?;
                } else {
                    let mut row = serde_json::json!({"tenant": usage.tenant, "period": usage.period});
                    for (metric, count) in metrics.iter().zip(counts) {
                        row[*metric] = count.into();
                    }
                    writeln!(out, "{row}")?;
                }
            }
            out.flush()?;
            Ok(match &args.output {
                Some(path) => format!("{} tenant-months written to {}\n", usages.len(), path.display()),
                None => String::new(),
            })
        }),
    }
}
