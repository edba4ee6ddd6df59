//! `eiq batch analyze`: every post of a history through the text model and the moderation gate,
//! as the server would answer it ("which of last year's posts would the gate block today?").
//!
//! It runs the server's own services, not a copy: the analysis service gives each head's label
//! and score, and the gate service the decision under a named policy. Posts go in chunks, and
//! the gate checks of a chunk run together, so the batcher packs them into full forward passes;
//! the vector cache turns the gate's encoder pass for a text the chunk's analysis just embedded
//! into a lookup.

use std::collections::BTreeMap;
use std::time::Instant;

use anyhow::{Context, bail};
use eiq_datasets::Post;
use eiq_inference::{BatcherConfig, LoadOptions, ModelRegistry};
use eiq_service::limits::{ANALYSIS_DEADLINE, MAX_TEXT_BYTES};
use eiq_service::tenancy::{Principal, TenantId};
use eiq_service::text::{AnalysisService, GateRequest, GateService, GateVerdict, PolicyChoice, TextAnalysis};
use polars::prelude::{Column, DataFrame};

use super::{load_history, write_frame};
use crate::config::BatchAnalyzeArgs;
use crate::server::policy_book;

/// Posts analysed together: one analysis request, then their gate checks at once.
const CHUNK: usize = 256;

pub fn run(args: &BatchAnalyzeArgs) -> anyhow::Result<String> {
    let catalogue = args.catalogue.catalogue()?;
    let cache = args.catalogue.cache();
    let policies = policy_book(args.policies.as_deref(), &catalogue, &args.text_model)?;
    policies.get(&args.policy).map_err(|e| anyhow::anyhow!("--policy: {e}"))?;
    let imported = load_history(&args.history)?;
    let (posts, skipped): (Vec<&Post>, Vec<&Post>) =
        imported.posts.iter().partition(|post| !post.text.trim().is_empty() && post.text.len() <= MAX_TEXT_BYTES);
    for post in skipped.iter().take(10) {
        eprintln!("post {}: empty or over {MAX_TEXT_BYTES} bytes; not analysed", post.post_id);
    }

    let registry = ModelRegistry::new(&catalogue, std::slice::from_ref(&args.text_model), &args.text_model)?;
    let profanity = eiq_inference::Lexicon::load_profanity(&catalogue, &cache);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let options = LoadOptions {
        threads: args.threads.unwrap_or(cores).max(1),
        // Room for a chunk's vectors, so each post's gate check finds its analysis's vector.
        cache_entries: 4 * CHUNK,
        generation_queue: 1,
        ocr_in_flight: 1,
        batcher: BatcherConfig {
            max_batch_tokens: 16_384,
            max_batch_size: CHUNK,
            max_wait: std::time::Duration::from_millis(1),
            max_queue: 4 * CHUNK,
        },
    };
    registry.spawn_loading(catalogue, cache, options);
    let analysis = AnalysisService::new(registry.clone(), args.text_model.clone(), profanity, CHUNK);
    let gate = GateService::new(analysis.clone(), policies, ANALYSIS_DEADLINE);

    let principal = Principal::local(TenantId::default_tenant());
    let runtime = tokio::runtime::Runtime::new().context("starting the async runtime")?;
    let started = Instant::now();
    let rows = runtime.block_on(async {
        let mut settled = registry.settled();
        let _ = settled.wait_for(|done| *done).await;
        if let Some(failed) = registry.statuses().into_iter().find(|s| s.state != eiq_inference::ModelState::Ready) {
            bail!("model `{}`: {}", failed.manifest.id, failed.state);
        }
        let bar = eiq_training::progress(posts.len(), "analysing");
        let mut rows = Vec::with_capacity(posts.len());
        for chunk in posts.chunks(CHUNK) {
            rows.extend(analyse_chunk(&analysis, &gate, &principal, &args.policy, chunk).await?);
            bar.inc(chunk.len() as u64);
        }
        bar.finish_and_clear();
        Ok(rows)
    })?;
    let seconds = started.elapsed().as_secs_f64();

    let mut frame = frame(&posts, &rows)?;
    write_frame(&mut frame, &args.output)?;
    let mut decisions: BTreeMap<&str, usize> = BTreeMap::new();
    for (_, verdict) in &rows {
        *decisions.entry(verdict.decision.as_str()).or_default() += 1;
    }
    let decisions: Vec<String> = decisions.iter().map(|(decision, n)| format!("{n} {decision}")).collect();
    Ok(format!(
        "{} posts analysed in {seconds:.1} s ({:.0} posts/s) with `{}`, {} not analysed; policy `{}`: {}; wrote {}\n",
        rows.len(),
        rows.len() as f64 / seconds.max(1e-9),
        args.text_model,
        skipped.len() + imported.error_count,
        args.policy,
        decisions.join(", "),
        args.output.display()
    ))
}

/// One chunk's analysis and gate verdicts, in post order.
async fn analyse_chunk(
    analysis: &AnalysisService,
    gate: &GateService,
    principal: &Principal,
    policy: &str,
    posts: &[&Post],
) -> anyhow::Result<Vec<(TextAnalysis, GateVerdict)>> {
    let texts: Vec<String> = posts.iter().map(|post| post.text.clone()).collect();
    let analysed = analysis.analyze(texts, None).await?;
    let checks = posts.iter().map(|post| {
        let request = GateRequest {
            text: post.text.clone(),
            platform: Some(post.platform.clone()),
            account_id: None,
            policy: PolicyChoice::Named(policy.to_string()),
        };
        gate.check(principal, request)
    });
    let verdicts = futures::future::join_all(checks).await.into_iter().collect::<Result<Vec<_>, _>>()?;
    Ok(analysed.results.into_iter().zip(verdicts).collect())
}

/// One row per post: its ids, each task's label and that label's probability, and the gate's
/// decision with the categories behind it.
fn frame(posts: &[&Post], rows: &[(TextAnalysis, GateVerdict)]) -> anyhow::Result<DataFrame> {
    let mut columns = vec![
        Column::new("post_id".into(), posts.iter().map(|p| p.post_id.as_str()).collect::<Vec<_>>()),
        Column::new("account_id".into(), posts.iter().map(|p| p.account_id.as_str()).collect::<Vec<_>>()),
        Column::new("platform".into(), posts.iter().map(|p| p.platform.as_str()).collect::<Vec<_>>()),
        Column::new("created_at".into(), posts.iter().map(|p| p.created_at).collect::<Vec<i64>>()),
    ];
    let tasks: Vec<String> =
        rows.first().map(|(a, _)| a.tasks.iter().map(|t| t.task.clone()).collect()).unwrap_or_default();
    for (index, task) in tasks.iter().enumerate() {
        let label: Vec<&str> = rows.iter().map(|(a, _)| a.tasks[index].label.as_str()).collect();
        let score: Vec<f32> = rows.iter().map(|(a, _)| a.tasks[index].score(&a.tasks[index].label)).collect();
        columns.push(Column::new(task.as_str().into(), label));
        columns.push(Column::new(format!("{task}_score").as_str().into(), score));
    }
    let decision: Vec<&str> = rows.iter().map(|(_, v)| v.decision.as_str()).collect();
    let reasons: Vec<String> = rows
        .iter()
        .map(|(_, v)| {
            let mut categories: Vec<&str> = v.reasons.iter().map(|r| r.category.as_str()).collect();
            categories.dedup();
            categories.join(" ")
        })
        .collect();
    columns.push(Column::new("decision".into(), decision));
    columns.push(Column::new("reasons".into(), reasons));
    Ok(DataFrame::new(rows.len(), columns)?)
}
