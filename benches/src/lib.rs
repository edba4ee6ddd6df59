//! Shared by the benchmark binaries: the workload and the statistics.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The first `count` tweets of TweetEval's sentiment validation split: real tweet-length text.
pub fn tweets(count: usize) -> Vec<String> {
    let text = include_str!("../../datasets/tweeteval/sentiment/val_text.txt");
    text.lines().map(str::trim).filter(|l| !l.is_empty()).cycle().take(count).map(String::from).collect()
}

/// The value below which `fraction` of `sorted` falls (nearest rank).
pub fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((fraction * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// The server's services in this process, over `data_dir`, serving `models` (the first is the
/// default, whose space the post index is in), with the word lists from the model cache. Built
/// inside a runtime, so the indexing worker runs.
pub fn services(data_dir: &std::path::Path, models: &[&str]) -> anyhow::Result<eiq_service::Services> {
    use eiq_inference::{BatcherConfig, Lexicon, LoadOptions, ModelRegistry, WordSegmenter};
    use eiq_models::{Catalogue, ModelCache};
    let catalogue = Catalogue::builtin()?;
    let cache = ModelCache::new(ModelCache::default_root());
    let ids: Vec<String> = models.iter().map(|m| m.to_string()).collect();
    let registry = ModelRegistry::new(&catalogue, &ids, &ids[0])?;
    let profanity = Lexicon::load_profanity(&catalogue, &cache);
    let segmenter = WordSegmenter::load(&catalogue, &cache);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let batcher = BatcherConfig {
        max_batch_tokens: 16_384,
        max_batch_size: 256,
        max_wait: Duration::from_millis(1),
        max_queue: 8_192,
    };
    let options = LoadOptions { threads: cores, batcher, cache_entries: 16_384, generation_queue: 1, ocr_in_flight: 1 };
    registry.spawn_loading(catalogue, cache, options);
    Ok(eiq_service::Services::new(eiq_service::ServicesConfig {
        registry,
        text_model: "tweet-minilm-l6-v1-int8".into(),
        profanity,
        segmenter,
        max_inputs: 2_048,
        policies: eiq_service::text::PolicyBook::builtin(),
        gate_timeout: Duration::from_secs(2),
        caption_model: "smollm2-135m-instruct".into(),
        caption_timeout: Duration::from_secs(60),
        images: eiq_service::images::ImageSettings {
            ocr_model: "ppocr-v4".into(),
            max_bytes: 1 << 20,
            max_pixels: 1 << 20,
            max_in_flight: 1,
        },
        data_dir: data_dir.to_path_buf(),
        imports: eiq_service::engagement::ImportSettings {
            root: None,
            max_bytes: 1 << 30,
            max_rows: 10_000_000,
            max_concurrent: 1,
            plans: eiq_service::tenants::PlanBook::builtin(),
        },
        vectors: eiq_service::VectorSettings::Embedded,
    }))
}

/// Waits until every model of `services` has loaded (or failed: an error naming it).
pub async fn models_ready(services: &eiq_service::Services) -> anyhow::Result<()> {
    let registry = services.embeddings.registry();
    let mut settled = registry.settled();
    let _ = settled.wait_for(|done| *done).await;
    match registry.statuses().into_iter().find(|s| s.state != eiq_inference::ModelState::Ready) {
        Some(failed) => anyhow::bail!("model `{}`: {}", failed.manifest.id, failed.state),
        None => Ok(()),
    }
}

/// `explicit`, else the `eiq` binary beside the running benchmark (`cargo build --release`).
pub fn eiq_binary(explicit: Option<PathBuf>) -> anyhow::Result<PathBuf> {
    Ok(match explicit {
        Some(path) => path,
        None => std::env::current_exe()?.with_file_name("eiq"),
    })
}

/// An `eiq serve` process on an ephemeral loopback port, killed when dropped (also when a
/// benchmark fails half-way).
pub struct Server {
    child: Child,
    pub base: String,
}

impl Server {
    /// `eiq serve --bind 127.0.0.1:<free port> --data-dir data <flags>`.
    pub fn spawn(eiq: &Path, data: &Path, flags: &[&str]) -> anyhow::Result<Server> {
        let port = std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let child = Command::new(eiq)
            .args(["serve", "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
            .arg(data)
            .args(flags)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()?;
        Ok(Server { child, base: format!("http://127.0.0.1:{port}") })
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until every server answers `/ready` (its models loaded).
pub async fn ready(servers: &[Server]) -> anyhow::Result<()> {
    let client = reqwest::Client::new();
    for server in servers {
        let started = Instant::now();
        while client.get(format!("{}/ready", server.base)).send().await.map(|r| r.status() != 200).unwrap_or(true) {
            anyhow::ensure!(started.elapsed() < Duration::from_secs(180), "{} never became ready", server.base);
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
    Ok(())
}
