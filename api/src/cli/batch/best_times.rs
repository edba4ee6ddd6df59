//! `eiq batch best-times`: an account's best slots, and optionally its whole week as CSV.

use anyhow::{Context, bail};
use eiq_datasets::{format_time, now};
use eiq_features::best_times::{BestTimes, BestTimesOptions, Blackout, TenantSlots};

use super::{lift, load_history, step};
use crate::config::{BatchBestTimesArgs, HistoryInput};

pub fn run(args: &BatchBestTimesArgs) -> anyhow::Result<String> {
    let blackouts = args.blackouts.iter().map(|b| blackout(b)).collect::<anyhow::Result<Vec<_>>>()?;
    let options = BestTimesOptions {
        top_k: args.top_k,
        min_spacing_hours: args.min_spacing_hours,
        blackouts,
        resolution_minutes: args.resolution_minutes,
        platform: None,
        now: now(),
    };
    let best = best_times(&args.history, &args.account, &options)?;
    if let Some(path) = &args.grid_csv {
        let mut out = csv::Writer::from_path(path).with_context(|| format!("writing {}", path.display()))?;
        out.write_record([
            "start",
            "start_minute",
            "expected_engagement",
            "lift",
            "lift_low",
            "lift_high",
            "posts",
            "history_weight",
            "blacked_out",
        ])?;
        for slot in &best.grid {
            out.write_record([
                slot.label.clone(),
                slot.start_minute.to_string(),
                format!("{:.2}", slot.expected_engagement),
                format!("{:.4}", slot.lift),
                format!("{:.4}", slot.lift_low),
                format!("{:.4}", slot.lift_high),
                slot.posts.to_string(),
                format!("{:.3}", slot.history_weight),
                slot.blacked_out.to_string(),
            ])?;
        }
        out.flush()?;
    }
    let mut table = format!(
        "{} ({}, {}): {} posts, {}-minute slots\n\n{:<10} {:>22} {:>10} {:>18} {:>6} {:>7}\n",
        best.account_id,
        best.platform,
        best.timezone.as_deref().unwrap_or("UTC"),
        best.account_posts,
        best.resolution_minutes,
        "slot",
        "next",
        "expected",
        "lift (90 % band)",
        "posts",
        "own"
    );
    for slot in &best.top {
        table.push_str(&format!(
            "{:<10} {:>22} {:>10.1} {:>20} {:>6} {:>6.0} %\n",
            slot.label,
            format_time(slot.next_at),
            slot.expected_engagement,
            lift(slot),
            slot.posts,
            100.0 * slot.history_weight
        ));
    }
    Ok(table)
}

/// The account's best times, from a history source.
pub(crate) fn best_times(
    history: &HistoryInput,
    account: &str,
    options: &BestTimesOptions,
) -> anyhow::Result<BestTimes> {
    let imported = load_history(history)?;
    let features = step("features", || Ok(eiq_features::features(eiq_features::posts_to_frame(&imported.posts)?)?))?;
    let slots = TenantSlots::new(&features)?;
    Ok(slots.best_times(account, options)?)
}

/// `sat 00:00-24:00`, or `22:00-06:00` for every day.
fn blackout(text: &str) -> anyhow::Result<Blackout> {
    let (day, window) = match text.trim().split_once(' ') {
        Some((day, window)) => (Some(day), window),
        None => (None, text.trim()),
    };
    let Some((start, end)) = window.split_once('-') else {
        bail!("blackout `{text}` is not like `sat 00:00-24:00` or `22:00-06:00`");
    };
    Ok(Blackout::parse(day, start, end)?)
}
