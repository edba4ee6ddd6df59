//! The feature pipeline on a large synthetic history: read canonical Parquet, compute every
//! feature (features/README.md), write Parquet; the median of several runs. The input is kept so
//! the pandas twin (`benches/python/run_features_pandas.sh`) can run the same transform on it.
//!
//! `cargo run --release -p eiq-benches --bin features_pipeline -- --posts 1000000`

use std::path::PathBuf;
use std::time::Instant;

use clap::Parser;
use eiq_datasets::{SyntheticConfig, generate};

#[derive(Parser)]
struct Args {
    /// Posts in all (spread over `--accounts`).
    #[arg(long, default_value_t = 1_000_000)]
    posts: usize,
    #[arg(long, default_value_t = 2_000)]
    accounts: usize,
    #[arg(long, default_value_t = 3)]
    repeats: usize,
    /// Where the input (posts.parquet) and output (features.parquet) go.
    #[arg(long, default_value = "target/bench-features")]
    dir: PathBuf,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    std::fs::create_dir_all(&args.dir)?;
    let (input, output) = (args.dir.join("posts.parquet"), args.dir.join("features.parquet"));
    let config = SyntheticConfig {
        accounts: args.accounts,
        posts_per_account: args.posts.div_ceil(args.accounts.max(1)),
        ..SyntheticConfig::default()
    };
    let started = Instant::now();
    let mut posts = eiq_features::posts_to_frame(&generate(&config).posts)?;
    eiq_features::io::write_parquet(&mut posts, &input)?;
    eprintln!("generated {} posts in {:.1} s → {}", posts.height(), started.elapsed().as_secs_f64(), input.display());
    drop(posts);
    let mut seconds = Vec::with_capacity(args.repeats);
    for _ in 0..args.repeats.max(1) {
        let started = Instant::now();
        let posts = eiq_features::io::read_parquet(&input)?;
        let mut features = eiq_features::features(posts)?;
        eiq_features::io::write_parquet(&mut features, &output)?;
        seconds.push(started.elapsed().as_secs_f64());
        eprintln!("{} rows × {} columns in {:.2} s", features.height(), features.width(), seconds.last().unwrap());
    }
    let all = seconds.clone();
    println!(
        "{{\"rows\": {}, \"seconds_median\": {:.3}, \"seconds_all\": {:?}}}",
        config.accounts * config.posts_per_account,
        eiq_benches::median(&mut seconds),
        all
    );
    Ok(())
}
