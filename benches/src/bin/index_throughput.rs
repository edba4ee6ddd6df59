//! Indexing against the encoder: embed N posts through the batcher alone (chunks of 256, four
//! in flight: the encoder's batched throughput), then index N other posts of the same lengths
//! (history → features → embed → upsert into the embedded store → persist) and compare rates.
//! Indexing is embedding-bound, so the ratio shows what the rest of the path costs.
//!
//! `cargo run --release -p eiq-benches --bin index_throughput -- --posts 100000`

use std::time::{Duration, Instant};

use clap::Parser;
use eiq_benches::{models_ready, services, tweets};
use eiq_datasets::{MediaType, Post};
use eiq_features::HistoryStore;
use eiq_inference::Admission;
use eiq_service::index::EMBED_CHUNK;
use eiq_service::tenancy::TenantId;
use futures::StreamExt;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    posts: usize,
    #[arg(long, default_value = "minilm-l6-v2")]
    model: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let dir = tempfile::tempdir()?;
    // The runtime (and the indexing worker holding the store) ends before the folder is deleted.
    tokio::runtime::Runtime::new()?.block_on(run(args, dir.path().join("data")))
}

async fn run(args: Args, data: std::path::PathBuf) -> anyhow::Result<()> {
    let services = services(&data, &[args.model.as_str()])?;
    models_ready(&services).await?;
    let base = tweets(args.posts);
    // Distinct texts per phase, so neither reads the vector cache.
    let texts = |phase: &str| base.iter().enumerate().map(|(i, t)| format!("{t} [{phase}{i}]")).collect::<Vec<_>>();

    let encoder_texts = texts("a");
    let started = Instant::now();
    let chunks: Vec<Vec<String>> = encoder_texts.chunks(EMBED_CHUNK).map(<[String]>::to_vec).collect();
    let mut embedded = futures::stream::iter(chunks)
        .map(|chunk| services.embeddings.embed(Some(&args.model), chunk, None, Admission::Wait))
        .buffer_unordered(4);
    let mut vectors = 0;
    while let Some(result) = embedded.next().await {
        vectors += result?.vectors.len();
    }
    let encoder = started.elapsed();
    let encoder_rate = vectors as f64 / encoder.as_secs_f64();
    println!("encoder alone: {vectors} texts in {:.1} s ({encoder_rate:.0} texts/s)", encoder.as_secs_f64());

    let tenant = TenantId::parse("bench").map_err(|e| anyhow::anyhow!("{e}"))?;
    let posts: Vec<Post> = texts("b")
        .into_iter()
        .enumerate()
        .map(|(i, text)| Post {
            post_id: i.to_string(),
            account_id: format!("account-{}", i % 100),
            platform: "x".into(),
            created_at: 1_700_000_000 + i as i64 * 60,
            timezone: None,
            text,
            media: MediaType::None,
            likes: Some((i % 50) as u64),
            comments: Some((i % 7) as u64),
            shares: Some(1),
            impressions: None,
            followers: Some(1_000),
        })
        .collect();
    HistoryStore::new(&data).merge(tenant.as_str(), posts)?;
    let started = Instant::now();
    services.index.queue().push(&tenant);
    while !services.index.is_indexed(&tenant)? || services.index.queue().pending() > 0 {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let indexing = started.elapsed();
    let index_rate = args.posts as f64 / indexing.as_secs_f64();
    println!(
        "indexing: {} posts in {:.1} s ({index_rate:.0} posts/s) = {:.1} % of the encoder's rate",
        args.posts,
        indexing.as_secs_f64(),
        100.0 * index_rate / encoder_rate
    );
    Ok(())
}
