//! Embeddings per second on each backend at several batch sizes, end to end as the server does
//! it (tokenize, pad, forward, pool, normalise), without HTTP.
//!
//! `cargo run --release -p eiq-benches --bin embed_throughput`

use std::time::Instant;

use anyhow::Context;
use clap::Parser;
use eiq_benches::{median, tweets};
use eiq_inference::EmbeddingModel;
use eiq_models::{Catalogue, ModelCache};

#[derive(Parser)]
struct Args {
    /// Models to measure.
    #[arg(long, value_delimiter = ',', default_value = "minilm-l6-v2-int8,minilm-l6-v2")]
    models: Vec<String>,
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,128")]
    batch_sizes: Vec<usize>,
    /// Tweets per measured pass.
    #[arg(long, default_value_t = 1024)]
    texts: usize,
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// One padded forward pass per batch, as the Python baseline does, instead of the serving
    /// path (identical texts merged, lengths sorted and split).
    #[arg(long)]
    single_pass: bool,
    #[arg(long, env = "EIQ_MODELS_DIR")]
    models_dir: Option<std::path::PathBuf>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let catalogue = Catalogue::builtin()?;
    let cache = ModelCache::new(args.models_dir.clone().unwrap_or_else(ModelCache::default_root));
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let texts = tweets(args.texts);
    let path = if args.single_pass { "one padded pass per batch" } else { "serving path" };
    println!("{} tweets per pass, {} repeats (median), {threads} threads, {path}", texts.len(), args.repeats);
    println!("{:<20} {:>6} {:>14} {:>14}", "model", "batch", "embeddings/s", "ms/batch");
    for id in &args.models {
        let resolved = cache.resolve(&catalogue, id).with_context(|| format!("run `eiq models fetch {id}` first"))?;
        let model = EmbeddingModel::load(&resolved, threads)?;
        for &batch in &args.batch_sizes {
            let chunks: Vec<&[String]> = texts.chunks(batch).collect();
            let embed = |chunk: &[String]| -> anyhow::Result<()> {
                let tokenized = chunk.iter().map(|t| model.tokenize(t)).collect::<Result<Vec<_>, _>>()?;
                let refs: Vec<_> = tokenized.iter().collect();
                if args.single_pass {
                    model.embed_padded(&refs)?
                } else {
                    model.embed_tokenized(&refs)?
                };
                Ok(())
            };
            embed(chunks[0])?; // warm-up
            let mut rates = Vec::with_capacity(args.repeats);
            for _ in 0..args.repeats {
                let started = Instant::now();
                for chunk in &chunks {
                    embed(chunk)?;
                }
                rates.push(texts.len() as f64 / started.elapsed().as_secs_f64());
            }
            let rate = median(&mut rates);
            println!("{id:<20} {batch:>6} {rate:>14.1} {:>14.2}", 1000.0 * batch as f64 / rate);
            println!("JSON {{\"model\":\"{id}\",\"batch\":{batch},\"embeddings_per_s\":{rate:.1}}}");
        }
    }
    Ok(())
}
