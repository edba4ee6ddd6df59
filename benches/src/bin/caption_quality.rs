//! The caption card: a running server's `POST /v1/captions:generate` on 200 TweetEval
//! validation tweets and 30 product-announcement drafts (`benches/data/announcement_drafts.txt`),
//! one platform each in turn. Reports the hard rules (valid, links and mentions kept, checked
//! here again with the same extraction), mean similarity to the draft, how many variants differ
//! from the draft, the gate's decisions, latency per caption, and a sample table.
//!
//! `eiq serve &` then `cargo run --release -p eiq-benches --bin caption_quality -- --card card.md`

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use clap::Parser;
use eiq_benches::{percentile, tweets};
use eiq_datasets::twitter_text::{extract_mentions, extract_urls};
use serde_json::{Value, json};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    #[arg(long, default_value_t = 200)]
    tweets: usize,
    /// Platforms the drafts take in turn.
    #[arg(long, value_delimiter = ',', default_value = "x,instagram,linkedin,bluesky,threads")]
    platforms: Vec<String>,
    #[arg(long, default_value_t = 2027)]
    seed: u64,
    /// Also write the card here.
    #[arg(long)]
    card: Option<std::path::PathBuf>,
}

fn entities(text: &str) -> (Vec<String>, Vec<String>) {
    let urls = extract_urls(text).into_iter().map(|e| e.value).collect();
    let mentions = extract_mentions(text).into_iter().map(|e| e.value.to_lowercase()).collect();
    (urls, mentions)
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let drafts: Vec<(&str, String)> = tweets(args.tweets)
        .into_iter()
        .map(|t| ("tweet", t))
        .chain(include_str!("../../data/announcement_drafts.txt").lines().map(|l| ("announcement", l.to_string())))
        .collect();
    let client = reqwest::Client::new();
    let (mut valid, mut kept, mut differ, mut generated, mut trimmed) = (0, 0, 0, 0, 0);
    let (mut similarities, mut latencies, mut decisions) = (Vec::new(), Vec::new(), std::collections::BTreeMap::new());
    let mut samples = Vec::new();
    for (index, (kind, draft)) in drafts.iter().enumerate() {
        let platform = &args.platforms[index % args.platforms.len()];
        let body = json!({"text": draft, "platforms": [platform], "seed": args.seed + index as u64});
        let started = Instant::now();
        let answer: Value =
            client.post(format!("{}/v1/captions:generate", args.url)).json(&body).send().await?.json().await?;
        latencies.push(started.elapsed());
        let variant = answer["variants"].get(0).ok_or_else(|| anyhow::anyhow!("no variant for {draft:?}: {answer}"))?;
        let text = variant["text"].as_str().unwrap_or_default();
        valid += usize::from(variant["valid"] == true);
        let ((draft_urls, draft_mentions), (urls, mentions)) = (entities(draft), entities(text));
        let keeps = draft_urls.iter().all(|u| urls.contains(u))
            && draft_mentions.iter().all(|m| mentions.contains(m))
            && urls.iter().all(|u| draft_urls.contains(u))
            && mentions.iter().all(|m| draft_mentions.contains(m));
        kept += usize::from(keeps);
        differ += usize::from(text.trim() != draft.trim());
        generated += usize::from(variant["origin"] == "generated");
        trimmed += usize::from(variant["trimmed"] == true);
        if let Some(similarity) = variant["similarity"].as_f64() {
            similarities.push(similarity);
        }
        *decisions.entry(variant["gate"]["decision"].as_str().unwrap_or("?").to_string()).or_insert(0) += 1;
        if index % 23 == 0 || (*kind == "announcement" && index % 5 == 0) {
            samples.push((platform.clone(), draft.clone(), text.to_string(), variant["similarity"].as_f64()));
        }
    }
    latencies.sort();
    let n = drafts.len();
    let share = |count: usize| 100.0 * count as f64 / n as f64;
    let mut card = String::new();
    writeln!(card, "| measure | value |\n|---|---:|")?;
    writeln!(card, "| drafts (TweetEval validation tweets + announcements) | {} + {} |", args.tweets, n - args.tweets)?;
    writeln!(card, "| valid for the platform | {:.1} % |", share(valid))?;
    writeln!(card, "| links and mentions kept verbatim, none added | {:.1} % |", share(kept))?;
    let mean = similarities.iter().sum::<f64>() / similarities.len().max(1) as f64;
    writeln!(card, "| mean similarity to the draft (cosine, minilm-l6-v2) | {mean:.3} |")?;
    writeln!(card, "| differ from the draft | {:.1} % |", share(differ))?;
    writeln!(card, "| written by the model (else the fitted draft) | {:.1} % |", share(generated))?;
    writeln!(card, "| cut to fit | {:.1} % |", share(trimmed))?;
    for (decision, count) in &decisions {
        writeln!(card, "| gate: {decision} | {:.1} % |", share(*count))?;
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    writeln!(
        card,
        "| latency per caption, p50 / p90 / max | {:.0} / {:.0} / {:.0} ms |",
        ms(percentile(&latencies, 0.5)),
        ms(percentile(&latencies, 0.9)),
        ms(*latencies.last().unwrap_or(&Duration::ZERO))
    )?;
    writeln!(card, "\n| platform | draft | caption | similarity |\n|---|---|---|---:|")?;
    let cell = |text: &str| text.replace('|', "\\|").replace('\n', " ");
    for (platform, draft, text, similarity) in samples {
        writeln!(card, "| {platform} | {} | {} | {:.2} |", cell(&draft), cell(&text), similarity.unwrap_or(f64::NAN))?;
    }
    print!("{card}");
    if let Some(path) = args.card {
        std::fs::write(path, card)?;
    }
    Ok(())
}
