//! The embedded vector store at scale: load N synthetic posts (random unit vectors in the
//! default model's 384 dimensions, one tenant, `--accounts` accounts), then time k = 10 searches
//! with an account filter, the memory the points take, and the cold start of reopening the store
//! and answering the first search.
//!
//! `cargo run --release -p eiq-benches --bin vector_search -- --points 1000000`

use std::time::{Duration, Instant};

use clap::Parser;
use eiq_benches::percentile;
use eiq_datasets::SplitMix64;
use eiq_service::tenancy::TenantId;
use eiq_service::vectors::{EdgeStore, PointFilter, PostPayload, PostPoint, VectorStore, point_id};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 1_000_000)]
    points: usize,
    #[arg(long, default_value_t = 1_000)]
    accounts: usize,
    #[arg(long, default_value_t = 384)]
    dimensions: usize,
    /// Timed searches.
    #[arg(long, default_value_t = 2_000)]
    queries: usize,
    /// Build the HNSW index (qdrant-edge's `optimize`) before searching.
    #[arg(long)]
    optimize: bool,
}

fn unit_vector(rng: &mut SplitMix64, dimensions: usize) -> Vec<f32> {
    let v: Vec<f32> = (0..dimensions).map(|_| (rng.next_u64() as f64 / u64::MAX as f64 - 0.5) as f32).collect();
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

fn resident_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let kib = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse::<f64>().ok());
    kib.unwrap_or(0.0) / 1024.0
}

async fn search_times(store: &EdgeStore, args: &Args, tenant: &TenantId, seed: u64) -> anyhow::Result<Vec<Duration>> {
    let mut rng = SplitMix64::new(seed);
    let mut times = Vec::with_capacity(args.queries);
    for _ in 0..args.queries {
        let account = format!("account-{}", rng.next_u64() as usize % args.accounts);
        let filter = PointFilter { account: Some(account), ..PointFilter::default() };
        let query = unit_vector(&mut rng, args.dimensions);
        let started = Instant::now();
        let hits = store.search(tenant, query, filter, 10).await?;
        times.push(started.elapsed());
        anyhow::ensure!(hits.len() == 10.min(args.points / args.accounts), "{} hits", hits.len());
    }
    times.sort_unstable();
    Ok(times)
}

fn report(name: &str, times: &[Duration]) {
    println!(
        "{name}: p50 {:.2} ms, p99 {:.2} ms, max {:.2} ms ({} searches)",
        percentile(times, 0.5).as_secs_f64() * 1e3,
        percentile(times, 0.99).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        times.len()
    );
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("shard");
    let tenant = TenantId::parse("bench").map_err(|e| anyhow::anyhow!("{e}"))?;
    let optimize_over = args.optimize.then_some(0);
    let before = resident_mib();
    let store = EdgeStore::open_with(&path, args.dimensions, optimize_over)?;
    let mut rng = SplitMix64::new(7);
    let started = Instant::now();
    for start in (0..args.points).step_by(2_000) {
        let points = (start..(start + 2_000).min(args.points))
            .map(|i| {
                let account = format!("account-{}", i % args.accounts);
                let post_id = i.to_string();
                PostPoint {
                    id: point_id("bench", &account, &post_id),
                    vector: unit_vector(&mut rng, args.dimensions),
                    post: PostPayload {
                        tenant: "bench".into(),
                        account,
                        post_id,
                        platform: "x".into(),
                        created_at: 1_700_000_000 + i as i64,
                        hashtags: vec!["bench".into()],
                        engagement: (i % 100) as f64,
                        relative_engagement: Some(0.0),
                        text: format!("post {i}"),
                        text_hash: i as u64,
                        fingerprint: i as u64,
                    },
                }
            })
            .collect();
        store.upsert(points).await?;
    }
    let loaded = started.elapsed();
    let persisted = Instant::now();
    store.persist().await?;
    let persisted = persisted.elapsed();
    let loaded_rss = resident_mib() - before;
    println!(
        "loaded {} points ({} accounts, {} dimensions) in {:.1} s ({:.0} points/s); persist{} {:.1} s; resident +{:.0} MiB ({:.0} MiB per million)",
        args.points,
        args.accounts,
        args.dimensions,
        loaded.as_secs_f64(),
        args.points as f64 / loaded.as_secs_f64(),
        if args.optimize { " with HNSW build" } else { "" },
        persisted.as_secs_f64(),
        loaded_rss,
        loaded_rss * 1e6 / args.points as f64
    );
    report("warm search, k = 10, account filter", &search_times(&store, &args, &tenant, 11).await?);
    drop(store);

    let before = resident_mib();
    let started = Instant::now();
    let store = EdgeStore::open_with(&path, args.dimensions, optimize_over)?;
    let opened = started.elapsed();
    let first = Instant::now();
    let query = unit_vector(&mut SplitMix64::new(3), args.dimensions);
    store.search(&tenant, query, PointFilter { account: Some("account-0".into()), ..Default::default() }, 10).await?;
    println!(
        "cold start: open {:.2} s, first search {:.1} ms; resident after open +{:.0} MiB",
        opened.as_secs_f64(),
        first.elapsed().as_secs_f64() * 1e3,
        resident_mib() - before
    );
    report("after reopening", &search_times(&store, &args, &tenant, 13).await?);
    Ok(())
}
