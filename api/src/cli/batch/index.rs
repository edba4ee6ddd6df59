//! `eiq batch index`: stored histories into the vector store, as the server's indexing worker
//! does after an import, with a progress bar. With `--input`, the file is first merged into
//! `--tenant`'s history (as `eiq batch import --tenant`), so one command takes a history file to
//! searchable posts.
//!
//! It runs the service layer's own `Indexer`, so it is resumable the same way: a tenant whose
//! points already match its history costs one comparison. The embedded store allows one process
//! at a time; run this while the server is stopped, or point both at a Qdrant cluster.

use std::sync::Arc;
use std::time::Instant;

use anyhow::{Context, bail};
use eiq_features::{HistoryStore, ImportOptions};
use eiq_inference::{BatcherConfig, LoadOptions, ModelRegistry, ModelState};
use eiq_service::index::{EMBED_CHUNK, Indexer, SyncProgress};
use eiq_service::open_store;
use eiq_service::tenancy::TenantId;
use eiq_service::text::EmbeddingService;

use super::{load_source, report_row_errors};
use crate::config::BatchIndexArgs;

pub fn run(args: &BatchIndexArgs) -> anyhow::Result<String> {
    let data_dir = args.data.dir();
    let history = Arc::new(HistoryStore::new(&data_dir));
    let mut out = String::new();
    if let Some(input) = &args.input {
        let tenant = args.tenant.as_deref().expect("clap requires --tenant with --input");
        let options = ImportOptions { timezone: args.timezone.clone(), ..ImportOptions::default() };
        let imported = load_source(input, args.format.as_deref(), &options, &data_dir)?;
        report_row_errors(&imported);
        let merged = history.merge(tenant, imported.posts)?;
        let posts: usize = merged.iter().map(|m| m.added + m.updated).sum();
        out.push_str(&format!("imported {posts} posts into tenant {tenant}\n"));
    }
    let tenants = match &args.tenant {
        Some(tenant) => vec![TenantId::parse(tenant).map_err(|e| anyhow::anyhow!("--tenant: {e}"))?],
        None => history.tenants()?.iter().filter_map(|t| TenantId::parse(t).ok()).collect(),
    };
    if tenants.is_empty() {
        bail!("no tenant has a history under {}", data_dir.display());
    }

    let catalogue = args.catalogue.catalogue()?;
    let registry = ModelRegistry::new(&catalogue, std::slice::from_ref(&args.default_model), &args.default_model)?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let options = LoadOptions {
        threads: args.threads.unwrap_or(cores).max(1),
        cache_entries: 0,
        generation_queue: 1,
        ocr_in_flight: 1,
        batcher: BatcherConfig {
            max_batch_tokens: 16_384,
            max_batch_size: EMBED_CHUNK,
            max_wait: std::time::Duration::from_millis(1),
            max_queue: 4 * EMBED_CHUNK,
        },
    };
    registry.spawn_loading(catalogue, args.catalogue.cache(), options);
    let embeddings = EmbeddingService::new(registry.clone(), EMBED_CHUNK);
    let (store, markers) = open_store(&args.vectors.settings(), &data_dir, &embeddings, &args.default_model)
        .map_err(anyhow::Error::msg)?;
    let described = store.describe();
    let indexer = Indexer::new(store, history, embeddings, args.default_model.clone(), markers);

    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    runtime.block_on(async {
        let mut settled = registry.settled();
        let _ = settled.wait_for(|done| *done).await;
        if let Some(failed) = registry.statuses().into_iter().find(|s| s.state != ModelState::Ready) {
            bail!("model `{}`: {}", failed.manifest.id, failed.state);
        }
        for tenant in &tenants {
            let started = Instant::now();
            let bar = eiq_training::progress(0, &format!("indexing {tenant}"));
            let progress = |p: SyncProgress| {
                bar.set_length(p.posts as u64);
                bar.set_position(p.current as u64);
            };
            let report = indexer.sync(tenant, &progress).await?;
            bar.finish_and_clear();
            let seconds = started.elapsed().as_secs_f64();
            out.push_str(&format!(
                "tenant {tenant}: {} posts; {} embedded, {} updated, {} deleted in {seconds:.1} s ({:.0} posts/s embedded)\n",
                report.posts,
                report.embedded,
                report.updated,
                report.deleted,
                report.embedded as f64 / seconds.max(1e-9),
            ));
        }
        anyhow::Ok(())
    })?;
    out.push_str(&format!("store: {described}\n"));
    Ok(out)
}
