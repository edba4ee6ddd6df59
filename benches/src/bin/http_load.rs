//! Latency of single-text requests (one post each) at fixed concurrency against a running
//! `eiq serve`: p50, p99 and throughput, for embeddings, analysis, moderation or the gate. Each
//! worker sends its next request when the previous answers (closed loop), over keep-alive
//! connections.
//!
//! `cargo run --release -p eiq-benches --bin http_load -- --url http://127.0.0.1:8080 --endpoint gate`

use std::time::{Duration, Instant};

use clap::Parser;
use eiq_benches::{percentile, tweets};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// `embeddings` (with `--model`), `analyze`, `moderations`, `gate`, or `forecast` / `best-times`
    /// (for `--account`, whose tenant history the server must hold: `eiq batch import --tenant default`).
    #[arg(long, default_value = "embeddings")]
    endpoint: String,
    /// Account for the forecast and best-times endpoints.
    #[arg(long, default_value = "acct-00003")]
    account: String,
    /// Model for the embeddings endpoint.
    #[arg(long, default_value = "minilm-l6-v2-int8")]
    model: String,
    #[arg(long, value_delimiter = ',', default_value = "1,32")]
    concurrency: Vec<usize>,
    /// Measured requests per concurrency level (after a warm-up of the same size / 10).
    #[arg(long, default_value_t = 2000)]
    requests: usize,
    /// The text every request sends (about 30 tokens by default).
    #[arg(
        long,
        default_value = "Our new spring collection drops this Friday at 9am! Which colour are you picking first? #fashion #springdrop @eiq"
    )]
    text: String,
    /// Send a different real tweet with each request instead of `--text`.
    #[arg(long)]
    distinct: bool,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder().pool_max_idle_per_host(256).build()?;
    let forecast_path = format!("/v1/accounts/{}/forecast", args.account);
    let best_times_path = format!("/v1/accounts/{}/best-times", args.account);
    let (path, body): (&str, fn(&str, &str) -> serde_json::Value) = match args.endpoint.as_str() {
        "embeddings" => ("/v1/embeddings", |text, model| serde_json::json!({"input": text, "model": model})),
        "analyze" => ("/v1/analyze", |text, _| serde_json::json!({"inputs": [text]})),
        "moderations" => ("/v1/moderations", |text, _| serde_json::json!({"input": text})),
        "gate" => ("/v1/moderation/gate", |text, _| serde_json::json!({"text": text, "platform": "x"})),
        // One draft at one time (2026-01-05 08:00 UTC).
        "forecast" => (&forecast_path, |text, _| serde_json::json!({"text": text, "candidate_times": [1_767_600_000]})),
        "best-times" => (&best_times_path, |_, _| serde_json::json!({})),
        other => {
            anyhow::bail!("unknown endpoint `{other}`: embeddings, analyze, moderations, gate, forecast or best-times")
        }
    };
    let url = format!("{}{path}", args.url.trim_end_matches('/'));
    let texts = if args.distinct { tweets(args.requests) } else { vec![args.text.clone()] };
    let bodies: Vec<serde_json::Value> = texts.iter().map(|t| body(t, &args.model)).collect();
    let workload = if args.distinct { "a different tweet per request" } else { "the same text every request" };
    let target = if path == "/v1/embeddings" { format!("{path} model {}", args.model) } else { path.to_string() };
    println!("{target}, {} requests per level, {workload}", args.requests);
    println!("{:>11} {:>9} {:>9} {:>9} {:>10}", "concurrency", "p50 ms", "p99 ms", "max ms", "req/s");
    for &concurrency in &args.concurrency {
        run(&client, &url, &bodies, concurrency, args.requests / 10).await?;
        let started = Instant::now();
        let mut latencies = run(&client, &url, &bodies, concurrency, args.requests).await?;
        let elapsed = started.elapsed();
        latencies.sort();
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        let (p50, p99, max) = (percentile(&latencies, 0.50), percentile(&latencies, 0.99), percentile(&latencies, 1.0));
        let rate = latencies.len() as f64 / elapsed.as_secs_f64();
        println!("{concurrency:>11} {:>9.2} {:>9.2} {:>9.2} {rate:>10.1}", ms(p50), ms(p99), ms(max));
        println!(
            "JSON {{\"concurrency\":{concurrency},\"p50_ms\":{:.3},\"p99_ms\":{:.3},\"requests_per_s\":{rate:.1}}}",
            ms(p50),
            ms(p99)
        );
    }
    Ok(())
}

/// `total` requests spread over `concurrency` closed-loop workers; every answer must be 200.
async fn run(
    client: &reqwest::Client,
    url: &str,
    bodies: &[serde_json::Value],
    concurrency: usize,
    total: usize,
) -> anyhow::Result<Vec<Duration>> {
    let workers = (0..concurrency).map(|worker| {
        let (client, url, bodies) = (client.clone(), url.to_string(), bodies.to_vec());
        let share = total / concurrency + usize::from(worker < total % concurrency);
        tokio::spawn(async move {
            let mut latencies = Vec::with_capacity(share);
            for request in 0..share {
                let body = &bodies[(request * concurrency + worker) % bodies.len()];
                let started = Instant::now();
                let response = client.post(&url).json(body).send().await?;
                anyhow::ensure!(response.status() == 200, "HTTP {}", response.status());
                response.bytes().await?;
                latencies.push(started.elapsed());
            }
            Ok(latencies)
        })
    });
    let mut all = Vec::with_capacity(total);
    for worker in futures::future::join_all(workers).await {
        all.extend(worker??);
    }
    Ok(all)
}
