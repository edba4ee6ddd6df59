//! The caption model's speed on this machine: prompt tokens/s (the prompt's one forward pass),
//! generation tokens/s (every token after the first), time to first token, for a few prompt
//! lengths, without HTTP. The same file and prompts run on llama.cpp for comparison
//! (`benches/python/llama_cpp_speed.py`).
//!
//! `cargo run --release -p eiq-benches --bin generation_speed`

use anyhow::Context;
use clap::Parser;
use eiq_benches::median;
use eiq_inference::generate::{GenerationRequest, GgufGenerator, Weights};
use eiq_models::{Catalogue, FileRole, ModelCache};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "smollm2-135m-instruct")]
    model: String,
    /// New tokens per run (the model may end its turn sooner; only generated tokens are counted).
    #[arg(long, default_value_t = 128)]
    max_tokens: usize,
    #[arg(long, default_value_t = 5)]
    repeats: usize,
    /// Keep the file's Q4_1 tensors (candle's scalar kernels) instead of the served Q8_0.
    #[arg(long)]
    as_stored: bool,
    #[arg(long, env = "EIQ_MODELS_DIR")]
    models_dir: Option<std::path::PathBuf>,
}

/// Drafts of about 30, 120 and 480 prompt tokens with the chat template.
fn prompts() -> Vec<String> {
    let draft = "We just opened our second coffee shop on Main Street! Come by this weekend for a free pastry with any drink, live music on Saturday and a tasting of our new single-origin beans. ";
    vec![
        "Write a post about our new coffee shop.".to_string(),
        format!("Rewrite this post for LinkedIn: {}", draft.repeat(2)),
        format!("Rewrite this post for LinkedIn: {}", draft.repeat(10)),
    ]
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let catalogue = Catalogue::builtin()?;
    let cache = ModelCache::new(args.models_dir.clone().unwrap_or_else(ModelCache::default_root));
    let resolved = cache.resolve(&catalogue, &args.model).context("fetch it first: eiq models fetch")?;
    let path = resolved.path(FileRole::Weights).context("the model has no weights file")?;
    let loaded = std::time::Instant::now();
    let held = if args.as_stored { Weights::AsStored } else { Weights::Q8_0 };
    let generator = GgufGenerator::load_as(&args.model, &path, held)?;
    println!("{} ({held:?}): loaded in {:.2} s", args.model, loaded.elapsed().as_secs_f64());
    println!("| prompt tokens | prompt tokens/s | time to first token (ms) | generated tokens | generation tokens/s |");
    println!("|---:|---:|---:|---:|---:|");
    for user in prompts() {
        let (mut prompt_rates, mut first_token_ms, mut generation_rates) = (Vec::new(), Vec::new(), Vec::new());
        let (mut prompt_tokens, mut generated) = (0, 0);
        for repeat in 0..args.repeats {
            let request = GenerationRequest {
                system: "You write social media posts. Reply with the post only.".into(),
                user: user.clone(),
                max_tokens: args.max_tokens,
                temperature: 0.7,
                top_p: 0.9,
                seed: repeat as u64,
            };
            let started = std::time::Instant::now();
            let mut first = None;
            let stats = generator.generate(&request, |_| {
                first.get_or_insert_with(|| started.elapsed());
                true
            })?;
            prompt_tokens = stats.prompt_tokens;
            generated += stats.generated_tokens;
            prompt_rates.push(stats.prompt_tokens as f64 / stats.prompt_time.as_secs_f64());
            first_token_ms.push(first.unwrap_or_default().as_secs_f64() * 1e3);
            if stats.generated_tokens > 1 {
                generation_rates.push((stats.generated_tokens - 1) as f64 / stats.generation_time.as_secs_f64());
            }
        }
        println!(
            "| {prompt_tokens} | {:.0} | {:.0} | {:.0} (mean) | {:.1} |",
            median(&mut prompt_rates),
            median(&mut first_token_ms),
            generated as f64 / args.repeats as f64,
            median(&mut generation_rates),
        );
    }
    Ok(())
}
