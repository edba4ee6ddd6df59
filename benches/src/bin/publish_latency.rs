//! Publishing, end to end against real `eiq serve` processes and a webhook receiver on loopback:
//!
//! - **submit → gate → scheduled**: the latency of `POST /v1/posts/{id}:submit` for a tenant that
//!   needs no approval (the gate on the post's text, the quota, the deliveries written), p50/p99;
//! - **lateness**: `--posts` posts due in the same second, on SQLite (one replica) and, with
//!   `--database-url`, on PostgreSQL (two replicas): how long after their time the receiver got
//!   them (p50, p99, last);
//! - **sustained throughput**: deliveries per second over that burst.
//!
//! `cargo run --release -p eiq-benches --bin publish_latency -- [--database-url postgres://…]`
//! (build `eiq` first: `cargo build --release`).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use clap::Parser;
use eiq_benches::{Server, eiq_binary, percentile, ready};
use eiq_service::tenancy::{Role, TenantId};
use eiq_service::tenants::{Database, Plan, TenantDirectory};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

#[derive(Parser)]
struct Args {
    /// Posts due in the same second.
    #[arg(long, default_value_t = 1_000)]
    posts: usize,
    /// Submissions timed for the submit latency.
    #[arg(long, default_value_t = 200)]
    submits: usize,
    /// Also run two replicas on this PostgreSQL database [default: EIQ_TEST_DATABASE_URL, if set].
    #[arg(long, env = "EIQ_TEST_DATABASE_URL")]
    database_url: Option<String>,
    /// The `eiq` binary [default: beside this one].
    #[arg(long)]
    eiq: Option<PathBuf>,
}

const MODELS: &str = "tweet-minilm-l6-v1-int8,minilm-l6-v2";

/// Arrival times (Unix ms) of the deliveries a receiver got.
type Arrivals = Arc<Mutex<Vec<i64>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let eiq = eiq_binary(args.eiq.clone())?;
    let (hook, arrivals) = receiver().await?;
    let dir = tempfile::tempdir()?;
    let data = [dir.path().join("a"), dir.path().join("b")];

    // SQLite: one replica.
    let directory = TenantDirectory::new(Database::embedded(&data[0]).await?);
    let (_, admin, editor) = tenant(&directory).await?;
    let replicas = [spawn(&eiq, &data[0], &[])?];
    let bases = [replicas[0].base.clone()];
    ready(&replicas).await?;
    configure(&bases[0], &admin, &hook).await?;
    submit_latency(&bases[0], &editor, args.submits).await?;
    burst("sqlite, 1 replica", &bases, &editor, args.posts, &arrivals).await?;
    drop(replicas);

    if let Some(url) = &args.database_url {
        let directory = TenantDirectory::new(Database::open(url).await?);
        let (_, admin, editor) = tenant(&directory).await?;
        let key = "cd".repeat(32);
        let flags = ["--database-url", url.as_str(), "--secret-key", key.as_str()];
        let replicas = [spawn(&eiq, &data[0], &flags)?, spawn(&eiq, &data[1], &flags)?];
        let bases: Vec<String> = replicas.iter().map(|replica| replica.base.clone()).collect();
        ready(&replicas).await?;
        configure(&bases[0], &admin, &hook).await?;
        arrivals.lock().unwrap().clear();
        burst("postgres, 2 replicas", &bases, &editor, args.posts, &arrivals).await?;
    }
    Ok(())
}

async fn tenant(directory: &TenantDirectory) -> anyhow::Result<(TenantId, String, String)> {
    let tenant = TenantId::parse(&format!("bench-{}-{}", std::process::id(), eiq_datasets::now()))?;
    let admin = directory.create_tenant(&tenant, Plan::Enterprise, eiq_datasets::now()).await?.key;
    let editor = directory.create_key(&tenant, Role::Editor, "bench", None, eiq_datasets::now()).await?.key;
    Ok((tenant, admin, editor))
}

/// A replica on SQLite in `data`, or on the database `extra` names.
fn spawn(eiq: &std::path::Path, data: &std::path::Path, extra: &[&str]) -> anyhow::Result<Server> {
    let flags =
        ["--models", MODELS, "--allow-private-webhooks", "--rate-limit-per-second", "0", "--publish-poll-ms", "100"];
    Server::spawn(eiq, data, &[&flags[..], extra].concat())
}

async fn configure(base: &str, admin: &str, hook: &str) -> anyhow::Result<()> {
    let body = serde_json::json!({"approval_required": false, "outbox": false,
        "webhook": {"url": hook, "secret": "bench-secret-0123456789"}});
    let response = reqwest::Client::new()
        .put(format!("{base}/v1/publishing/settings"))
        .bearer_auth(admin)
        .json(&body)
        .send()
        .await?;
    anyhow::ensure!(response.status() == 200, "settings: {}", response.text().await?);
    Ok(())
}

/// A draft due at `at` (Unix seconds); its id. Every draft has the same text (one without digits,
/// which the profanity list reads as leetspeak).
async fn create(client: &reqwest::Client, base: &str, key: &str, at: i64) -> anyhow::Result<String> {
    let body = serde_json::json!({"texts": {"twitter": "Our spring range lands on Friday"},
        "accounts": ["brand"], "scheduled_at": at.to_string()});
    let post: serde_json::Value =
        client.post(format!("{base}/v1/posts")).bearer_auth(key).json(&body).send().await?.json().await?;
    post["id"].as_str().map(str::to_string).ok_or_else(|| anyhow::anyhow!("no post made: {post}"))
}

async fn submit(client: &reqwest::Client, base: &str, key: &str, id: &str) -> anyhow::Result<()> {
    let response = client.post(format!("{base}/v1/posts/{id}:submit")).bearer_auth(key).send().await?;
    let status = response.status();
    let answer: serde_json::Value = response.json().await?;
    anyhow::ensure!(status == 200 && answer["post"]["state"] == "scheduled", "submit: {status} {answer}");
    Ok(())
}

async fn submit_latency(base: &str, key: &str, count: usize) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    let later = eiq_datasets::now() + 7 * 86_400;
    let mut times = Vec::with_capacity(count);
    for n in 0..count + count / 10 {
        let id = create(&client, base, key, later).await?;
        let started = Instant::now();
        submit(&client, base, key, &id).await?;
        if n >= count / 10 {
            times.push(started.elapsed());
        }
    }
    times.sort();
    println!(
        "submit → gate → scheduled (sqlite, {count} posts): p50 {:.1} ms, p99 {:.1} ms",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        percentile(&times, 0.99).as_secs_f64() * 1e3
    );
    Ok(())
}

/// `posts` posts due in one second, made through the replicas in turn; the receiver's lateness.
async fn burst(label: &str, bases: &[String], key: &str, posts: usize, arrivals: &Arrivals) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    // Time enough to make them all (at about 100 a second), then every one is due at once.
    let due = eiq_datasets::now() + 20 + (posts / 50) as i64;
    let started = Instant::now();
    for chunk in (0..posts).collect::<Vec<_>>().chunks(16) {
        futures::future::try_join_all(chunk.iter().map(|&n| {
            let (client, base) = (&client, &bases[n % bases.len()]);
            async move {
                let id = create(client, base, key, due).await?;
                submit(client, base, key, &id).await
            }
        }))
        .await?;
    }
    let made = started.elapsed();
    anyhow::ensure!(eiq_datasets::now() < due, "making {posts} posts took {made:?}, past their time; use fewer");
    let waited = Instant::now();
    while arrivals.lock().unwrap().len() < posts {
        anyhow::ensure!(
            waited.elapsed() < Duration::from_secs(600),
            "only {} delivered",
            arrivals.lock().unwrap().len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut late: Vec<Duration> =
        arrivals.lock().unwrap().iter().map(|&at| Duration::from_millis((at - due * 1_000).max(0) as u64)).collect();
    late.sort();
    let first = *arrivals.lock().unwrap().iter().min().unwrap_or(&0);
    let last = *arrivals.lock().unwrap().iter().max().unwrap_or(&0);
    let rate = posts as f64 / ((last - first).max(1) as f64 / 1e3);
    println!(
        "{label}: {posts} posts due at once: lateness p50 {} ms, p99 {} ms, last {} ms; {rate:.0} deliveries/s",
        percentile(&late, 0.5).as_millis(),
        percentile(&late, 0.99).as_millis(),
        late.last().copied().unwrap_or_default().as_millis()
    );
    Ok(())
}

/// A minimal HTTP/1.1 webhook receiver: records each request's arrival and answers 200.
async fn receiver() -> anyhow::Result<(String, Arrivals)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address: SocketAddr = listener.local_addr()?;
    let arrivals: Arrivals = Arc::default();
    let recorded = Arc::clone(&arrivals);
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let recorded = Arc::clone(&recorded);
            tokio::spawn(async move {
                let mut stream = BufReader::new(stream);
                loop {
                    let mut length = 0usize;
                    let mut line = String::new();
                    // The request line and headers, up to the blank line.
                    loop {
                        line.clear();
                        if stream.read_line(&mut line).await.unwrap_or(0) == 0 {
                            return;
                        }
                        if let Some(value) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                            length = value.trim().parse().unwrap_or(0);
                        }
                        if line == "\r\n" {
                            break;
                        }
                    }
                    let mut body = vec![0u8; length.min(1 << 20)];
                    if stream.read_exact(&mut body).await.is_err() {
                        return;
                    }
                    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
                    recorded.lock().unwrap().push(now);
                    let answer = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n";
                    if stream.get_mut().write_all(answer).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    Ok((format!("http://{address}/hook"), arrivals))
}
