//! Latency of the engagement answers, in process: one draft forecast (its features through the
//! Polars pipeline, encoding, the model) and one account's best times (every slot, shrinkage,
//! top k). The model is trained first on a synthetic history, as a tenant's would be.
//!
//! `cargo run --release -p eiq-benches --bin engagement_latency`

use std::time::{Duration, Instant};

use clap::Parser;
use eiq_benches::{percentile, tweets};
use eiq_datasets::{MediaType, SyntheticConfig, generate};
use eiq_features::best_times::{BestTimesOptions, TenantSlots};
use eiq_training::engagement::{AccountState, Draft, GbdtParams, draft_rows, train_forecaster};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 200)]
    accounts: usize,
    #[arg(long, default_value_t = 300)]
    posts_per_account: usize,
    /// Timed calls of each kind.
    #[arg(long, default_value_t = 2_000)]
    requests: usize,
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort_unstable();
    println!(
        "{name}: p50 {:.3} ms, p99 {:.3} ms, max {:.3} ms ({} calls)",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        times.len()
    );
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let config =
        SyntheticConfig { accounts: args.accounts, posts_per_account: args.posts_per_account, ..Default::default() };
    let synthetic = generate(&config);
    let started = Instant::now();
    let features = eiq_features::features(eiq_features::posts_to_frame(&synthetic.posts)?)?;
    let model = train_forecaster(&features, "synthetic", &GbdtParams::default())?;
    let states = AccountState::all_from_features(&features)?;
    let slots = TenantSlots::new(&features)?;
    println!(
        "history: {} posts, {} accounts; features, training ({} served) and digest in {:.1} s",
        synthetic.posts.len(),
        args.accounts,
        model.evaluation.served,
        started.elapsed().as_secs_f64()
    );
    let texts = tweets(args.requests);
    let accounts: Vec<&AccountState> = states.values().collect();
    let mut forecast_times = Vec::with_capacity(args.requests);
    for (i, text) in texts.iter().enumerate() {
        let state = accounts[i % accounts.len()];
        let draft = Draft {
            text: text.clone(),
            platform: state.platform.clone(),
            media: MediaType::Photo,
            at: 1_767_600_000 + i as i64 * 3600,
        };
        let started = Instant::now();
        let row = draft_rows(state, &[draft])?;
        std::hint::black_box(model.forecast(&row[0]));
        forecast_times.push(started.elapsed());
    }
    report("forecast, one draft at one time", forecast_times);
    let mut week_times = Vec::with_capacity(args.requests / 10);
    for (i, text) in texts.iter().take(args.requests / 10).enumerate() {
        let state = accounts[i % accounts.len()];
        let drafts: Vec<Draft> = (0..168)
            .map(|h| Draft {
                text: text.clone(),
                platform: state.platform.clone(),
                media: MediaType::None,
                at: 1_767_600_000 + h * 3600,
            })
            .collect();
        let started = Instant::now();
        let rows = draft_rows(state, &drafts)?;
        std::hint::black_box(rows.iter().map(|r| model.forecast(r).engagement).sum::<f64>());
        week_times.push(started.elapsed());
    }
    report("forecast, one draft at all 168 hours of a week", week_times);
    let options = BestTimesOptions { now: 1_767_600_000, ..BestTimesOptions::default() };
    let mut best_times = Vec::with_capacity(args.requests);
    for i in 0..args.requests {
        let account = &synthetic.truth.accounts[i % synthetic.truth.accounts.len()].account_id;
        let started = Instant::now();
        std::hint::black_box(slots.best_times(account, &options)?);
        best_times.push(started.elapsed());
    }
    report("best times, one account (168 slots, top 5)", best_times);
    let started = Instant::now();
    std::hint::black_box(TenantSlots::new(&features)?);
    println!(
        "best-times digest of the whole tenant (once per import): {:.1} ms",
        started.elapsed().as_secs_f64() * 1e3
    );
    Ok(())
}
