//! `eiq batch …`: the same pipelines the server runs, over files, for analytics jobs.
//!
//! Every command reads a history the same way ([`load_history`]): a file in any supported
//! format, a folder of rtweet's recorded API responses, a tenant's stored history (what the
//! server imported), or a seeded synthetic history.

mod analyze;
mod best_times;
mod features;
mod forecast;
mod import;
mod index;
mod report;
mod svg;
mod train;

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use eiq_datasets::{Imported, SyntheticConfig};
use eiq_features::{HistoryFormat, HistoryStore, ImportOptions};

pub use analyze::run as analyze;
pub use best_times::run as best_times;
pub use features::run as features;
pub use forecast::run as forecast;
pub use import::run as import;
pub use index::run as index;
pub use report::run as report;
pub use train::run as train;

use crate::config::HistoryInput;

/// Reads a history source; bad rows are reported on stderr (the first ten) and skipped.
pub fn load_history(input: &HistoryInput) -> anyhow::Result<Imported> {
    let options = ImportOptions {
        strict: input.strict,
        account_id: input.account_id.clone(),
        timezone: input.timezone.clone(),
        ..ImportOptions::default()
    };
    let imported = load_source(&input.input, input.format.as_deref(), &options, &input.data.dir())?;
    report_row_errors(&imported);
    Ok(imported)
}

fn load_source(
    source: &str,
    format: Option<&str>,
    options: &ImportOptions,
    data_dir: &Path,
) -> anyhow::Result<Imported> {
    if let Some(spec) = source.strip_prefix("synthetic") {
        return Ok(Imported { posts: synthetic(spec)?.posts, ..Imported::default() });
    }
    if let Some(tenant) = source.strip_prefix("tenant:") {
        let stored = HistoryStore::new(data_dir).load_tenant(tenant)?;
        let posts = eiq_features::stored_posts(&stored)?;
        if posts.is_empty() {
            bail!("tenant `{tenant}` has no stored history in {}", data_dir.display());
        }
        return Ok(Imported { posts, ..Imported::default() });
    }
    let path = Path::new(source);
    if path.is_dir() {
        let mut imported = eiq_datasets::load_rtweet_fixtures(path)?;
        if let Some(zone) = &options.timezone {
            imported.posts.iter_mut().filter(|p| p.timezone.is_none()).for_each(|p| p.timezone = Some(zone.clone()));
        }
        return Ok(imported);
    }
    let format = match format {
        Some(name) => name.parse::<HistoryFormat>().map_err(anyhow::Error::msg)?,
        None => HistoryFormat::from_path(path)
            .with_context(|| format!("cannot tell the format of {source}; give --format ({})", HistoryFormat::NAMES))?,
    };
    let bar = spinner(&format!("reading {source}"));
    let bytes = std::fs::read(path).with_context(|| format!("reading {source}"))?;
    let imported = eiq_features::import_bytes(&bytes, format, options)?;
    bar.finish_and_clear();
    Ok(imported)
}

/// `synthetic[:ACCOUNTSxPOSTS[:SEED]]`, e.g. `synthetic:200x300:7`.
fn synthetic(spec: &str) -> anyhow::Result<eiq_datasets::Synthetic> {
    let mut config = SyntheticConfig::default();
    let mut parts = spec.trim_start_matches(':').split(':').filter(|p| !p.is_empty());
    if let Some(size) = parts.next() {
        let (accounts, posts) = size.split_once('x').context("synthetic size is ACCOUNTSxPOSTS, e.g. 200x300")?;
        config.accounts = accounts.parse().context("synthetic accounts")?;
        config.posts_per_account = posts.parse().context("synthetic posts per account")?;
    }
    if let Some(seed) = parts.next() {
        config.seed = seed.parse().context("synthetic seed")?;
    }
    if config.accounts == 0 || config.posts_per_account == 0 {
        bail!("a synthetic history needs at least one account and one post");
    }
    Ok(eiq_datasets::generate(&config))
}

fn report_row_errors(imported: &Imported) {
    for error in imported.errors.iter().take(10) {
        eprintln!("row {}: {}", error.row, error.reason);
    }
    if imported.error_count > 10 {
        eprintln!("… and {} more bad rows", imported.error_count - 10);
    }
}

/// A spinner with elapsed time on stderr, for work without a known length.
pub(crate) fn spinner(message: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new_spinner();
    bar.set_style(indicatif::ProgressStyle::with_template("{spinner} {msg} ({elapsed})").expect("a valid template"));
    bar.set_message(message.to_string());
    bar.enable_steady_tick(Duration::from_millis(120));
    bar
}

/// Runs one step under a spinner and says how long it took.
pub(crate) fn step<T>(message: &str, work: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<T> {
    let bar = spinner(message);
    let started = Instant::now();
    let result = work();
    bar.finish_and_clear();
    if result.is_ok() {
        eprintln!("{message}: {:.2} s", started.elapsed().as_secs_f64());
    }
    result
}

/// `+25 % (+10 … +41)`: a slot's lift and its 90 % band.
pub(crate) fn lift(slot: &eiq_features::best_times::Slot) -> String {
    format!("{:+.0} % ({:+.0} … {:+.0})", 100.0 * slot.lift, 100.0 * slot.lift_low, 100.0 * slot.lift_high)
}

/// Writes a frame as Parquet or CSV by the path's extension.
pub(crate) fn write_frame(frame: &mut polars::prelude::DataFrame, path: &Path) -> anyhow::Result<()> {
    match path.extension().and_then(|e| e.to_str()) {
        Some("parquet") => eiq_features::io::write_parquet(frame, path)?,
        Some("csv") => eiq_features::io::write_csv(frame, path)?,
        _ => bail!("{}: write .parquet or .csv", path.display()),
    }
    Ok(())
}
