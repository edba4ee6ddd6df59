//! `eiq batch report`: an account at a glance: top posts, when its audience responds (a
//! heatmap), and where engagement is heading (a trend), as Markdown with two SVG charts.

use std::collections::BTreeMap;

use anyhow::Context;
use eiq_datasets::{format_time, now};
use eiq_features::best_times::{BestTimesOptions, TenantSlots};
use eiq_features::local_time::{offset_at, zone};

use super::{lift, load_history, step, svg};
use crate::config::BatchReportArgs;

pub fn run(args: &BatchReportArgs) -> anyhow::Result<String> {
    let imported = load_history(&args.history)?;
    // Every account in the input informs the priors the account's week is shrunk toward.
    let features = step("features", || Ok(eiq_features::features(eiq_features::posts_to_frame(&imported.posts)?)?))?;
    let mut posts: Vec<_> = imported.posts.into_iter().filter(|p| p.account_id == args.account).collect();
    if posts.is_empty() {
        anyhow::bail!("no posts for account `{}` in {}", args.account, args.history.input);
    }
    posts.sort_by_key(|p| p.created_at);
    let engagement = |p: &eiq_datasets::Post| p.likes.unwrap_or(0) + p.comments.unwrap_or(0) + p.shares.unwrap_or(0);
    let slots = TenantSlots::new(&features)?;
    let hourly = BestTimesOptions { resolution_minutes: Some(60), now: now(), ..BestTimesOptions::default() };
    let best = slots.best_times(&args.account, &hourly)?;
    let tz = zone(best.timezone.as_deref());
    std::fs::create_dir_all(&args.out_dir).with_context(|| format!("creating {}", args.out_dir.display()))?;

    let lifts: Vec<f64> = best.grid.iter().map(|s| s.lift).collect();
    let counts: Vec<usize> = best.grid.iter().map(|s| s.posts).collect();
    let title = format!(
        "{}: expected engagement by local hour of week ({})",
        args.account,
        best.timezone.as_deref().unwrap_or("UTC")
    );
    std::fs::write(args.out_dir.join("heatmap.svg"), svg::heatmap(&title, &lifts, &counts))?;

    // Weekly median engagement, and its 4-week moving average.
    let mut weeks: BTreeMap<i64, Vec<u64>> = BTreeMap::new();
    for post in &posts {
        weeks.entry(post.created_at.div_euclid(7 * 86_400)).or_default().push(engagement(post));
    }
    let weekly: Vec<(i64, f64)> = weeks
        .iter()
        .map(|(week, values)| {
            let mut values = values.clone();
            values.sort_unstable();
            (week * 7 * 86_400, values[values.len() / 2] as f64)
        })
        .collect();
    let smooth: Vec<(i64, f64)> = (0..weekly.len())
        .map(|i| {
            let window = &weekly[i.saturating_sub(3)..=i];
            (weekly[i].0, window.iter().map(|(_, v)| v).sum::<f64>() / window.len() as f64)
        })
        .collect();
    let series = [
        svg::Series { name: "weekly median", colour: "#9bb", points: weekly },
        svg::Series { name: "4-week average", colour: "#1a6", points: smooth },
    ];
    std::fs::write(
        args.out_dir.join("trend.svg"),
        svg::lines(&format!("{}: engagement per post, by week", args.account), "likes + comments + shares", &series),
    )?;

    let mut by_engagement: Vec<&eiq_datasets::Post> = posts.iter().collect();
    by_engagement.sort_by_key(|p| std::cmp::Reverse(engagement(p)));
    let total: u64 = posts.iter().map(engagement).sum();
    let mut report = format!(
        "# {}\n\n{} on {}, timezone {}. {} posts from {} to {}; {:.1} engagements per post on average.\n\n\
         ## When the audience responds\n\n![hour-of-week heatmap](heatmap.svg)\n\nBest slots (at least 3 hours apart):\n\n\
         | slot | next | expected | lift (90 % band) | own posts |\n|---|---|---:|---|---:|\n",
        args.account,
        args.account,
        best.platform,
        best.timezone.as_deref().unwrap_or("UTC"),
        posts.len(),
        format_time(posts[0].created_at),
        format_time(posts[posts.len() - 1].created_at),
        total as f64 / posts.len() as f64
    );
    for slot in &best.top {
        report.push_str(&format!(
            "| {} | {} | {:.1} | {} | {} |\n",
            slot.label,
            format_time(slot.next_at),
            slot.expected_engagement,
            lift(slot),
            slot.posts
        ));
    }
    report.push_str("\n## Trend\n\n![engagement trend](trend.svg)\n\n## Top posts\n\n| posted (local) | engagement | likes | shares | text |\n|---|---:|---:|---:|---|\n");
    for post in by_engagement.iter().take(args.top) {
        let local = post.created_at + offset_at(tz.as_ref(), post.created_at) as i64;
        let when = chrono::DateTime::from_timestamp(local, 0)
            .map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M").to_string());
        let text: String = post.text.chars().take(80).collect::<String>().replace(['\n', '|'], " ");
        report.push_str(&format!(
            "| {when} | {} | {} | {} | {text} |\n",
            engagement(post),
            post.likes.unwrap_or(0),
            post.shares.unwrap_or(0)
        ));
    }
    let path = args.out_dir.join("report.md");
    std::fs::write(&path, &report).with_context(|| format!("writing {}", path.display()))?;
    Ok(format!("wrote {} with heatmap.svg and trend.svg\n", path.display()))
}
