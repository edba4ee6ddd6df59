//! OCR accuracy on a validation set of drawn text, to choose the detection settings: other
//! sentences, sizes and angles than the test (`inference/tests/ocr.rs`), which only checks the
//! choice. Prints the character error rate per condition (clean, turned, noisy) for the settings
//! given by flags.
//!
//! `cargo run --release -p eiq-benches --bin ocr_accuracy -- --unclip-ratio 1.5`

use anyhow::Context;
use clap::Parser;
use eiq_inference::ocr::render::{add_noise, character_errors, render_lines, rotate, system_font};
use eiq_inference::ocr::{Detection, OcrModel};
use eiq_models::{Catalogue, ModelCache};
use image::RgbImage;

#[derive(Parser)]
struct Args {
    #[arg(long, default_value = "ppocr-v4")]
    model: String,
    #[arg(long)]
    unclip_ratio: Option<f32>,
    #[arg(long)]
    min_side: Option<u32>,
    #[arg(long)]
    max_side: Option<u32>,
    #[arg(long)]
    box_threshold: Option<f32>,
    /// Print every line read wrong.
    #[arg(long)]
    verbose: bool,
    #[arg(long, env = "EIQ_MODELS_DIR")]
    models_dir: Option<std::path::PathBuf>,
}

const LINES: [&str; 16] = [
    "Back to school deals start Monday",
    "Order by 3pm for same-day pickup",
    "Our new app is live on iOS and Android",
    "Tickets from $19.99 while they last",
    "Happy 5th birthday to our community",
    "Tag a friend who needs this",
    "Workshop: 9:00 to 11:30, room B",
    "Vote for your favourite flavour",
    "Only 3 days left to enter",
    "Fresh bread every morning at 6",
    "Link in bio for the full recipe",
    "Winter hours: closed on Sundays",
    "Meet the team behind the brand",
    "Save 15% with code WELCOME15",
    "Behind the scenes of our shoot",
    "We ship to 40 countries worldwide",
];
const FONTS: [&str; 4] = ["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf"];
const SIZES: [f32; 4] = [18.0, 26.0, 40.0, 56.0];

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let catalogue = Catalogue::builtin()?;
    let cache = ModelCache::new(args.models_dir.clone().unwrap_or_else(ModelCache::default_root));
    let resolved = cache.resolve(&catalogue, &args.model).context("fetch it first: eiq models fetch")?;
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let defaults = Detection::default();
    let detection = Detection {
        unclip_ratio: args.unclip_ratio.unwrap_or(defaults.unclip_ratio),
        min_side: args.min_side.unwrap_or(defaults.min_side),
        max_side: args.max_side.unwrap_or(defaults.max_side),
        box_threshold: args.box_threshold.unwrap_or(defaults.box_threshold),
        ..defaults
    };
    let model = OcrModel::load(&resolved, threads)?.with_detection(detection);
    println!("{detection:?}");
    let mut renders: Vec<(String, RgbImage, String)> = Vec::new();
    for (f, font_file) in FONTS.iter().enumerate() {
        let font = system_font(font_file).map_err(anyhow::Error::msg)?;
        for (s, &size) in SIZES.iter().enumerate() {
            let first = (f * SIZES.len() + s) * 2;
            let lines: Vec<&str> = (0..2).map(|i| LINES[(first + i) % LINES.len()]).collect();
            renders.push((format!("{font_file} {size}px"), render_lines(&font, &lines, size, 0, 0), lines.join(" ")));
        }
    }
    println!("| condition | CER | errors / characters | median ms |");
    println!("|---|---:|---:|---:|");
    for condition in ["clean", "turned ±3°", "noise σ12"] {
        let (mut errors, mut total, mut times) = (0, 0, Vec::new());
        for (i, (name, image, expected)) in renders.iter().enumerate() {
            let image = match condition {
                "clean" => image.clone(),
                "turned ±3°" => rotate(image, if i % 2 == 0 { 3.0 } else { -3.0 }),
                _ => {
                    let mut noisy = image.clone();
                    add_noise(&mut noisy, 12.0, 1_000 + i as u64);
                    noisy
                }
            };
            let started = std::time::Instant::now();
            let output = model.read(&image)?;
            times.push(started.elapsed());
            let read = output.text();
            let (e, n) = character_errors(&read, expected);
            if e > 0 && args.verbose {
                println!("  {condition} {name}: {e}: {read:?}");
            }
            errors += e;
            total += n;
        }
        times.sort();
        let median = times[times.len() / 2].as_secs_f64() * 1e3;
        println!("| {condition} | {:.2} % | {errors} / {total} | {median:.0} |", 100.0 * errors as f64 / total as f64);
    }
    Ok(())
}
