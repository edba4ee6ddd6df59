//! OCR (PaddleOCR v4 on ONNX Runtime) on images of known text, drawn in several real fonts and
//! sizes, clean, turned ±5°, with noise, and upside down. The character error rate (edit distance
//! over the reference's characters) is printed for each condition and must be at most 5 % in each
//! (the issue asks it of clean renders). The detection settings were chosen on other drawn text
//! (`benches/src/bin/ocr_accuracy.rs`), not on these.

mod common;

use std::sync::OnceLock;

use eiq_inference::ocr::OcrModel;
use eiq_inference::ocr::render::{add_noise, character_errors, render_lines, rotate, system_font};
use eiq_models::{Catalogue, FetchOptions, fetch_with_dependencies};
use image::RgbImage;

const MODEL: &str = "ppocr-v4";

fn model() -> &'static OcrModel {
    static MODEL_ONCE: OnceLock<OcrModel> = OnceLock::new();
    MODEL_ONCE.get_or_init(|| {
        let (catalogue, cache) = (Catalogue::builtin().unwrap(), common::cache());
        fetch_with_dependencies(&catalogue, &cache, MODEL, &FetchOptions::default()).unwrap();
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        OcrModel::load(&cache.resolve(&catalogue, MODEL).unwrap(), threads).unwrap()
    })
}

/// Post-like lines: mixed case, digits, prices, times, punctuation, a domain.
const LINES: [&str; 12] = [
    "Summer sale: 50% off everything",
    "Doors open at 7:30 PM tonight",
    "Free shipping on orders over $25",
    "Join the live Q&A on Friday",
    "New menu with tacos, bowls and more",
    "Visit example.com/shop today",
    "Thank you for 10,000 followers!",
    "Grand opening this Saturday",
    "Book your table now (limited seats)",
    "Limited edition, only 200 made",
    "Coffee and a croissant for 4.50",
    "Read the full story in our bio",
];
const FONTS: [&str; 4] = ["DejaVuSans.ttf", "DejaVuSerif.ttf", "DejaVuSansMono.ttf", "DejaVuSans-Bold.ttf"];
const SIZES: [f32; 3] = [22.0, 32.0, 48.0];

/// Each font at each size, three lines each, with the expected text.
fn renders() -> Vec<(String, RgbImage, String)> {
    let mut renders = Vec::new();
    for (f, font_file) in FONTS.iter().enumerate() {
        let font = system_font(font_file).unwrap();
        for (s, &size) in SIZES.iter().enumerate() {
            let first = (f * SIZES.len() + s) * 3;
            let lines: Vec<&str> = (0..3).map(|i| LINES[(first + i) % LINES.len()]).collect();
            let image = render_lines(&font, &lines, size, 0, 0);
            renders.push((format!("{font_file} {size}px"), image, lines.join("\n")));
        }
    }
    renders
}

/// The character error rate over `cases`, printing each miss.
fn character_error_rate(condition: &str, cases: &[(String, RgbImage, String)]) -> f64 {
    let (mut errors, mut total) = (0usize, 0usize);
    let mut times = Vec::new();
    for (name, image, expected) in cases {
        let started = std::time::Instant::now();
        let output = model().read(image).unwrap();
        times.push(started.elapsed());
        let (distance, length) = character_errors(&output.text(), expected);
        if distance > 0 {
            println!(
                "  {condition} / {name}: {distance} errors\n    want {:?}\n    got  {:?}",
                expected,
                output.text()
            );
        }
        errors += distance;
        total += length;
    }
    times.sort();
    let rate = errors as f64 / total as f64;
    println!(
        "OCR {condition}: CER {:.2} % ({errors} / {total} characters, {} images, median {:?})",
        100.0 * rate,
        cases.len(),
        times[times.len() / 2]
    );
    rate
}

#[test]
fn clean_renders_read_with_at_most_5_percent_character_errors() {
    let rate = character_error_rate("clean", &renders());
    assert!(rate <= 0.05, "CER {:.2} % on clean renders", 100.0 * rate);
}

#[test]
fn turned_and_noisy_renders_still_read() {
    let turned: Vec<_> = renders()
        .into_iter()
        .enumerate()
        .map(|(i, (name, image, text))| {
            let degrees = if i % 2 == 0 { 5.0 } else { -5.0 };
            (format!("{name} {degrees:+}°"), rotate(&image, degrees), text)
        })
        .collect();
    let noisy: Vec<_> = renders()
        .into_iter()
        .enumerate()
        .map(|(i, (name, mut image, text))| {
            add_noise(&mut image, 16.0, i as u64);
            (format!("{name} noise σ16"), image, text)
        })
        .collect();
    let turned_rate = character_error_rate("turned ±5°", &turned);
    let noisy_rate = character_error_rate("noise σ16", &noisy);
    assert!(turned_rate <= 0.05, "CER {:.2} % turned ±5°", 100.0 * turned_rate);
    assert!(noisy_rate <= 0.05, "CER {:.2} % with noise", 100.0 * noisy_rate);
}

#[test]
fn upside_down_lines_are_turned_over_before_reading() {
    let font = system_font("DejaVuSans.ttf").unwrap();
    let lines = ["Grand opening this Saturday"];
    let upside_down = image::imageops::rotate180(&render_lines(&font, &lines, 36.0, 0, 0));
    let output = model().read(&upside_down).unwrap();
    let (distance, _) = character_errors(&output.text(), lines[0]);
    assert!(distance <= 2, "read {:?}", output.text());
}

#[test]
fn blank_tiny_and_extreme_images_read_as_nothing_without_failing() {
    for (w, h) in [(1, 1), (1, 2000), (4000, 3), (640, 480)] {
        let blank = RgbImage::from_pixel(w, h, image::Rgb([255, 255, 255]));
        let output = model().read(&blank).unwrap();
        assert!(output.lines.is_empty(), "{w}×{h}: {:?}", output.lines);
    }
    // Every line is placed where it was drawn: boxes lie inside the image, in reading order.
    let font = system_font("DejaVuSans.ttf").unwrap();
    let image = render_lines(&font, &LINES[..4], 30.0, 900, 400);
    let output = model().read(&image).unwrap();
    assert_eq!(output.lines.len(), 4, "{:?}", output.lines);
    let mut previous_top = f32::MIN;
    for line in &output.lines {
        let (x0, y0, x1, y1) = line.quad.bounds();
        assert!(x0 >= 0.0 && y0 >= 0.0 && x1 <= 900.0 && y1 <= 400.0, "{line:?}");
        assert!(y0 > previous_top && line.confidence >= 0.5, "{line:?}");
        previous_top = y0;
    }
}
