//! OCR latency on this machine: a 1080 × 1080 image with eight lines of text (a poster, drawn in
//! DejaVu Sans), read by the OCR model without HTTP: detection, recognition and the whole, as
//! p50 and p90 over the runs after a warm-up.
//!
//! `cargo run --release -p eiq-benches --bin ocr_latency`

use std::time::Duration;

use anyhow::Context;
use clap::Parser;
use eiq_inference::ocr::OcrModel;
use eiq_inference::ocr::render::{render_lines, system_font};
use eiq_models::{Catalogue, ModelCache};

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "ppocr-v4")]
    model: String,
    #[arg(long, default_value_t = 30)]
    runs: usize,
    /// Threads inside one operator [default: all cores].
    #[arg(long)]
    threads: Option<usize>,
    #[arg(long, env = "EIQ_MODELS_DIR")]
    models_dir: Option<std::path::PathBuf>,
}

const LINES: [&str; 8] = [
    "GRAND OPENING",
    "Saturday, June 14",
    "10am to 6pm at 221 Main Street",
    "Free coffee for the first 100 guests",
    "Live music, games and prizes",
    "20% off everything all day",
    "Bring a friend and win a gift card",
    "example.com/opening",
];

fn percentile(times: &mut [Duration], p: f64) -> f64 {
    times.sort();
    times[((times.len() - 1) as f64 * p).round() as usize].as_secs_f64() * 1e3
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let catalogue = Catalogue::builtin()?;
    let cache = ModelCache::new(args.models_dir.clone().unwrap_or_else(ModelCache::default_root));
    let resolved = cache.resolve(&catalogue, &args.model).context("fetch it first: eiq models fetch")?;
    let threads = args.threads.unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let model = OcrModel::load(&resolved, threads)?;
    let font = system_font("DejaVuSans.ttf").map_err(anyhow::Error::msg)?;
    let image = render_lines(&font, &LINES, 44.0, 1080, 1080);
    anyhow::ensure!(image.dimensions() == (1080, 1080), "the text must fit 1080 × 1080");
    let warm = model.read(&image)?;
    println!("{} lines read: {:?}", warm.lines.len(), warm.lines.iter().map(|l| l.text.as_str()).collect::<Vec<_>>());
    let (mut detect, mut recognize, mut total) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..args.runs {
        let started = std::time::Instant::now();
        let output = model.read(&image)?;
        total.push(started.elapsed());
        detect.push(output.detect_time);
        recognize.push(output.recognize_time);
    }
    println!("{} on 1080×1080, {threads} threads, {} runs:", args.model, args.runs);
    println!("| step | p50 (ms) | p90 (ms) |");
    println!("|---|---:|---:|");
    for (step, times) in
        [("detection", &mut detect), ("recognition (8 lines)", &mut recognize), ("OCR in all", &mut total)]
    {
        println!("| {step} | {:.1} | {:.1} |", percentile(times, 0.5), percentile(times, 0.9));
    }
    Ok(())
}
