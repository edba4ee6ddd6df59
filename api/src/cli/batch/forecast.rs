//! `eiq batch forecast`: drafts CSV → expected engagement per draft with its 80 % interval.

use anyhow::{Context, bail};
use eiq_datasets::MediaType;
use eiq_datasets::{format_time, now, parse_time};
use eiq_training::engagement::{AccountState, Draft, EngagementModel, draft_rows};

use super::{load_history, step};
use crate::config::BatchForecastArgs;

pub fn run(args: &BatchForecastArgs) -> anyhow::Result<String> {
    let json = std::fs::read_to_string(&args.model).with_context(|| format!("reading {}", args.model.display()))?;
    let model = EngagementModel::from_json(&json)?;
    let imported = load_history(&args.history)?;
    let features = step("features", || Ok(eiq_features::features(eiq_features::posts_to_frame(&imported.posts)?)?))?;
    let states = AccountState::all_from_features(&features)?;
    let mut reader =
        csv::Reader::from_path(&args.drafts).with_context(|| format!("reading {}", args.drafts.display()))?;
    let headers = reader.headers()?.clone();
    let column = |name: &str| headers.iter().position(|h| h.trim().eq_ignore_ascii_case(name));
    let (Some(account_column), Some(text_column)) = (column("account_id"), column("text")) else {
        bail!("{}: the drafts CSV needs `account_id` and `text` columns", args.drafts.display());
    };
    let (platform_column, media_column, at_column) = (column("platform"), column("media"), column("at"));
    let mut out = csv::Writer::from_writer(Vec::new());
    out.write_record(["account_id", "at", "engagement", "low", "high", "log_engagement"])?;
    let default_at = (now() / 3600 + 1) * 3600;
    // A bad draft is reported with its row and skipped; the others are still forecast.
    let mut bad = 0;
    for (index, record) in reader.records().enumerate() {
        let row = index + 1;
        let draft = record.map_err(|e| e.to_string()).and_then(|record| {
            let field = |c: Option<usize>| c.and_then(|c| record.get(c)).map(str::trim).filter(|v| !v.is_empty());
            let account = field(Some(account_column)).unwrap_or_default().to_string();
            let state = states.get(&account).ok_or_else(|| format!("no history for account `{account}`"))?;
            let at = field(at_column).map_or(Ok(default_at), parse_time)?;
            let media = field(media_column).map_or(Ok(MediaType::None), MediaType::parse)?;
            let draft = Draft {
                text: record.get(text_column).unwrap_or_default().to_string(),
                platform: field(platform_column).map_or_else(|| state.platform.clone(), str::to_string),
                media,
                at,
            };
            Ok((account, state, draft))
        });
        let (account, state, draft) = match draft {
            Ok(draft) => draft,
            Err(reason) => {
                eprintln!("drafts row {row}: {reason}");
                bad += 1;
                continue;
            }
        };
        let at = draft.at;
        let forecast = model.forecast(&draft_rows(state, &[draft])?[0]);
        out.write_record([
            account,
            format_time(at),
            format!("{:.1}", forecast.engagement),
            format!("{:.1}", forecast.low),
            format!("{:.1}", forecast.high),
            format!("{:.4}", forecast.log_engagement),
        ])?;
    }
    if bad > 0 {
        eprintln!("{bad} drafts skipped");
    }
    let csv = String::from_utf8(out.into_inner()?)?;
    match &args.output {
        Some(path) => {
            std::fs::write(path, &csv).with_context(|| format!("writing {}", path.display()))?;
            Ok(format!("wrote {}\n", path.display()))
        }
        None => Ok(csv),
    }
}
