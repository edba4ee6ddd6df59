//! What the attack review's hostile requests cost a running `eiq serve` (issue #14): the time
//! each once-stalling request takes to answer, the server's peak memory under concurrent
//! uploads at the import limit, its resident growth after requests for unknown tenants, and how
//! long it keeps a silent connection open. The server's memory is read from `/proc/<pid>/status`
//! (`--pid`), so run this on the server's machine, as its user or root.
//!
//! ```sh
//! ./target/release/eiq serve --data-dir /tmp/eiq-bench & pid=$!
//! ./target/release/hostile_load --url http://127.0.0.1:8080 --pid $pid
//! ```

use std::io::Read;
use std::time::{Duration, Instant};

use clap::Parser;
use futures::StreamExt;
use serde_json::json;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// The server's process id, for its memory figures.
    #[arg(long)]
    pid: u32,
    /// Concurrent uploads, each of `--upload-bytes`.
    #[arg(long, default_value_t = 8)]
    uploads: usize,
    /// Size of each upload: the server's --max-import-bytes.
    #[arg(long, default_value_t = 256 << 20)]
    upload_bytes: usize,
    /// Requests with distinct unknown tenant ids.
    #[arg(long, default_value_t = 10_000)]
    tenants: usize,
}

const HEADER: &str =
    "post_id,account_id,platform,created_at,timezone,text,media,likes,comments,shares,impressions,followers\n";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let client = reqwest::Client::builder().pool_max_idle_per_host(64).build()?;
    let url = |path: &str| format!("{}{path}", args.url);

    println!("| request | answer | time (median of 3) |\n|---|---:|---:|");
    let words: Vec<String> = (0..1_000).map(|i| format!("w{i}")).collect();
    let text = words.join(" ");
    let dense_huge = "fuck shit ".repeat(200_000);
    let dense_max = "fuck shit ".repeat(6_500);
    let wide_csv =
        format!("{}\n1,a,x,1736121600\n", (0..1_000_000).map(|i| format!("c{i}")).collect::<Vec<_>>().join(","));
    let cases: Vec<(&str, reqwest::RequestBuilder)> = vec![
        (
            "gate, 1,000-word blocklist entry, 1,000-word text",
            client.post(url("/v1/moderation/gate")).json(&json!({"text": text, "policy": {"blocklist": [text]}})),
        ),
        ("analyze, 1.9 MiB profanity", client.post(url("/v1/analyze")).json(&json!({"inputs": [dense_huge]}))),
        ("gate, 1.9 MiB profanity", client.post(url("/v1/moderation/gate")).json(&json!({"text": dense_huge}))),
        (
            "analyze, 64 KiB profanity (the largest text)",
            client.post(url("/v1/analyze")).json(&json!({"inputs": [dense_max]})),
        ),
        ("gate, 64 KiB profanity", client.post(url("/v1/moderation/gate")).json(&json!({"text": dense_max}))),
        (
            "import, CSV header of 1,000,000 columns",
            client.post(url("/v1/history:import?format=csv")).header("x-tenant-id", "bench").body(wide_csv),
        ),
    ];
    for (name, request) in cases {
        let mut times = Vec::new();
        let mut status = 0;
        for _ in 0..3 {
            let request = request.try_clone().expect("buffered body");
            let started = Instant::now();
            let response = request.send().await?;
            status = response.status().as_u16();
            response.bytes().await?;
            times.push(started.elapsed());
        }
        times.sort();
        println!("| {name} | {status} | {:.1} ms |", times[1].as_secs_f64() * 1e3);
    }

    // Uploads at the limit, all at once.
    let mut csv = format!("{HEADER}ok-0,a,x,1736121600,UTC,hi,none,1,2,3,,,\n").into_bytes();
    let bad_row = b"x,a,x,soon,UTC,a post that is never stored,none,1,2,3,,,\n";
    while csv.len() + bad_row.len() <= args.upload_bytes {
        csv.extend_from_slice(bad_row);
    }
    let body = bytes::Bytes::from(csv);
    reset_peak(args.pid)?;
    let before = status_kib(args.pid, "VmHWM")?;
    let started = Instant::now();
    let uploads = (0..args.uploads).map(|i| {
        client
            .post(url("/v1/history:import?format=csv"))
            .header("x-tenant-id", format!("upload-{i}"))
            .body(body.clone())
            .send()
    });
    let statuses: Vec<u16> =
        futures::future::join_all(uploads).await.into_iter().map(|r| r.map_or(0, |r| r.status().as_u16())).collect();
    let peak = status_kib(args.pid, "VmHWM")?;
    println!(
        "\n{} concurrent uploads of {} MiB: statuses {statuses:?} in {:.1} s; server peak resident {} MiB (from {} MiB)",
        args.uploads,
        args.upload_bytes >> 20,
        started.elapsed().as_secs_f64(),
        peak / 1024,
        before / 1024
    );

    // Unknown tenants.
    let ask = |tenant: String| {
        let request = client.post(url("/v1/accounts/a/best-times")).header("x-tenant-id", tenant).json(&json!({}));
        async move { request.send().await.map(|r| r.status().as_u16()).unwrap_or(0) }
    };
    let _: Vec<u16> =
        futures::stream::iter((0..1_000).map(|i| ask(format!("warm-{i}")))).buffer_unordered(16).collect().await;
    let before = status_kib(args.pid, "VmRSS")?;
    let answers: Vec<u16> = futures::stream::iter((0..args.tenants).map(|i| ask(format!("tenant-{i}"))))
        .buffer_unordered(16)
        .collect()
        .await;
    let after = status_kib(args.pid, "VmRSS")?;
    println!(
        "{} requests with distinct unknown tenant ids (answers {:?}): resident {} KiB → {} KiB, {:+} KiB",
        args.tenants,
        distinct(&answers),
        before,
        after,
        after as i64 - before as i64
    );

    // A connection that never sends a byte.
    let address = args.url.trim_start_matches("http://").to_string();
    let started = Instant::now();
    let closed = tokio::task::spawn_blocking(move || -> anyhow::Result<Duration> {
        let mut stream = std::net::TcpStream::connect(address)?;
        stream.set_read_timeout(Some(Duration::from_secs(600)))?;
        let mut buffer = [0u8; 64];
        let _ = stream.read(&mut buffer);
        Ok(started.elapsed())
    })
    .await??;
    println!("a silent connection was closed by the server after {:.2} s", closed.as_secs_f64());
    Ok(())
}

fn distinct(statuses: &[u16]) -> Vec<u16> {
    let mut seen: Vec<u16> = statuses.to_vec();
    seen.sort_unstable();
    seen.dedup();
    seen
}

fn status_kib(pid: u32, field: &str) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find(|l| l.starts_with(field)).ok_or_else(|| anyhow::anyhow!("no {field}"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
}

/// Resets the server's peak resident size, so `VmHWM` afterwards is this run's peak.
fn reset_peak(pid: u32) -> anyhow::Result<()> {
    Ok(std::fs::write(format!("/proc/{pid}/clear_refs"), "5")?)
}
