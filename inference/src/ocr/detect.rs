//! Text detection, PaddleOCR's DB ("differentiable binarization") way.
//!
//! The detector answers, for every pixel of the (resized) image, the probability that it belongs
//! to text. Post-processing turns that map into boxes exactly as PaddleOCR's `DBPostProcess`
//! does, so the recogniser sees the crops it was trained on: pixels over [`Detection::threshold`]
//! form blobs (8-connected); each blob's smallest rotated rectangle is kept if the mean
//! probability inside it reaches [`Detection::box_threshold`]; the rectangle is then grown
//! ("unclipped") by `area × ratio / perimeter` on every side, because the detector was trained
//! to mark a shrunk core of each text line.

use image::RgbImage;
use image::imageops::{FilterType, resize};

use super::geometry::{Point, Quad, convex_hull, expand, min_area_rect};

/// The settings of detection: PaddleOCR's, except the unclip ratio. PaddleOCR's 1.5 leaves the
/// recogniser lines cut so tight that it drops spaces and misreads digits (9.9 % of characters
/// wrong on clean drawn text); 2.0–2.4 is a plateau (0.7–1.5 %) before errors rise again at 2.6,
/// and 2.2 is its middle. Measured on a validation set of drawn lines (`benches/src/bin/ocr_accuracy.rs`),
/// not the test's.
#[derive(Debug, Clone, Copy)]
pub struct Detection {
    /// The image is enlarged so that its shorter side is at least this (small images, as
    /// PaddleOCR 3 does)…
    pub min_side: u32,
    /// …and shrunk so that its longer side is at most this (large ones).
    pub max_side: u32,
    /// A pixel is text above this probability.
    pub threshold: f32,
    /// A blob is a text line if the mean probability inside its rectangle reaches this.
    pub box_threshold: f32,
    /// How far a line's rectangle grows: `area × ratio / perimeter` on each side.
    pub unclip_ratio: f32,
    /// Blobs with a shorter side than this (in map pixels) are noise.
    pub min_size: f32,
    /// Most blobs considered, in reading order of their first pixel.
    pub max_candidates: usize,
}

impl Default for Detection {
    fn default() -> Self {
        Self {
            min_side: 64,
            max_side: 960,
            threshold: 0.3,
            box_threshold: 0.6,
            unclip_ratio: 2.2,
            min_size: 3.0,
            max_candidates: 1_000,
        }
    }
}

/// The detector's input: the image resized to multiples of 32, normalised with ImageNet's mean
/// and deviation, in BGR planes (PaddleOCR reads images with OpenCV).
pub struct DetectorInput {
    pub tensor: Vec<f32>,
    pub width: usize,
    pub height: usize,
}

pub fn prepare(image: &RgbImage, min_side: u32, max_side: u32) -> DetectorInput {
    let (w, h) = image.dimensions();
    let mut ratio = if w.min(h) < min_side { min_side as f32 / w.min(h).max(1) as f32 } else { 1.0 };
    if w.max(h) as f32 * ratio > max_side as f32 {
        ratio = max_side as f32 / w.max(h) as f32;
    }
    let round32 = |side: u32| (((side as f32 * ratio) / 32.0).round() as u32 * 32).max(32);
    let (width, height) = (round32(w), round32(h));
    let resized = resize(image, width, height, FilterType::Triangle);
    const MEAN: [f32; 3] = [0.485, 0.456, 0.406];
    const STD: [f32; 3] = [0.229, 0.224, 0.225];
    let plane = (width * height) as usize;
    let mut tensor = vec![0f32; plane * 3];
    for (i, pixel) in resized.pixels().enumerate() {
        let [r, g, b] = pixel.0;
        for (c, value) in [b, g, r].into_iter().enumerate() {
            tensor[c * plane + i] = (f32::from(value) / 255.0 - MEAN[c]) / STD[c];
        }
    }
    DetectorInput { tensor, width: width as usize, height: height as usize }
}

/// Text lines in a `width` × `height` probability map, as rectangles in map coordinates with the
/// mean probability inside each.
pub fn boxes(map: &[f32], width: usize, height: usize, settings: &Detection) -> Vec<(Quad, f32)> {
    let mut found = Vec::new();
    if map.len() != width * height {
        return found;
    }
    let mut seen = vec![false; map.len()];
    let mut stack: Vec<usize> = Vec::new();
    let mut blob: Vec<usize> = Vec::new();
    let mut candidates = 0;
    for start in 0..map.len() {
        if seen[start] || map[start] <= settings.threshold {
            continue;
        }
        candidates += 1;
        if candidates > settings.max_candidates {
            break;
        }
        blob.clear();
        stack.push(start);
        seen[start] = true;
        while let Some(at) = stack.pop() {
            blob.push(at);
            let (x, y) = (at % width, at / width);
            for ny in y.saturating_sub(1)..=(y + 1).min(height - 1) {
                for nx in x.saturating_sub(1)..=(x + 1).min(width - 1) {
                    let next = ny * width + nx;
                    if !seen[next] && map[next] > settings.threshold {
                        seen[next] = true;
                        stack.push(next);
                    }
                }
            }
        }
        let quad = min_area_rect(&convex_hull(row_extremes(&blob, width)));
        if quad.width().min(quad.height()) < settings.min_size {
            continue;
        }
        let score = mean_inside(map, width, height, &quad);
        if score < settings.box_threshold {
            continue;
        }
        let (w, h) = (quad.width(), quad.height());
        let grown = expand(&quad, w * h * settings.unclip_ratio / (2.0 * (w + h)).max(f32::EPSILON));
        if grown.width().min(grown.height()) < settings.min_size + 2.0 {
            continue;
        }
        found.push((grown, score));
    }
    found
}

/// The first and last pixel of each row of a blob: all its hull needs.
fn row_extremes(blob: &[usize], width: usize) -> Vec<Point> {
    let (top, bottom) = blob.iter().fold((usize::MAX, 0), |(lo, hi), &at| (lo.min(at / width), hi.max(at / width)));
    let mut rows = vec![(usize::MAX, 0usize); bottom + 1 - top];
    for &at in blob {
        let row = &mut rows[at / width - top];
        *row = (row.0.min(at % width), row.1.max(at % width));
    }
    rows.iter()
        .enumerate()
        .filter(|(_, (first, _))| *first != usize::MAX)
        .flat_map(|(dy, &(first, last))| {
            let y = (top + dy) as f32;
            [Point::new(first as f32, y), Point::new(last as f32, y)]
        })
        .collect()
}

/// The mean of the map over the pixel centres inside `quad`.
fn mean_inside(map: &[f32], width: usize, height: usize, quad: &Quad) -> f32 {
    let (x0, y0, x1, y1) = quad.bounds();
    let clamp = |v: f32, max: usize| (v.max(0.0) as usize).min(max - 1);
    let (x0, x1, y0, y1) =
        (clamp(x0.floor(), width), clamp(x1.ceil(), width), clamp(y0.floor(), height), clamp(y1.ceil(), height));
    let (mut sum, mut count) = (0f32, 0usize);
    for y in y0..=y1 {
        for x in x0..=x1 {
            if quad.contains(Point::new(x as f32, y as f32)) {
                sum += map[y * width + x];
                count += 1;
            }
        }
    }
    if count == 0 { 0.0 } else { sum / count as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map_with(width: usize, height: usize, rects: &[(usize, usize, usize, usize, f32)]) -> Vec<f32> {
        let mut map = vec![0.05f32; width * height];
        for &(x0, y0, x1, y1, p) in rects {
            for y in y0..y1 {
                for x in x0..x1 {
                    map[y * width + x] = p;
                }
            }
        }
        map
    }

    #[test]
    fn each_confident_blob_becomes_a_grown_box() {
        let map = map_with(200, 100, &[(20, 20, 120, 30, 0.9), (20, 60, 60, 70, 0.9), (150, 80, 190, 90, 0.4)]);
        let found = boxes(&map, 200, 100, &Detection::default());
        // The third blob passes the pixel threshold but not the box's mean.
        assert_eq!(found.len(), 2, "{found:?}");
        let (line, score) = found[0];
        assert!((score - 0.9).abs() < 1e-4);
        // 99 × 9 between pixel centres, grown by 99·9·2.2 / (2·108) = 9.075 on each side.
        assert!((line.width() - (99.0 + 2.0 * 9.075)).abs() < 1e-2, "{line:?}");
        assert!((line.height() - (9.0 + 2.0 * 9.075)).abs() < 1e-2, "{line:?}");
        let (x0, y0, ..) = line.bounds();
        assert!((x0 - 10.925).abs() < 0.01 && (y0 - 10.925).abs() < 0.01, "{line:?}");
    }

    #[test]
    fn noise_and_hostile_maps_give_nothing_or_stay_bounded() {
        assert!(boxes(&[0.9; 10], 5, 5, &Detection::default()).is_empty(), "a wrong-sized map is ignored");
        assert!(boxes(&map_with(50, 50, &[(10, 10, 12, 12, 0.99)]), 50, 50, &Detection::default()).is_empty());
        // A checkerboard of single pixels: every one a blob, too small; the count is capped.
        let checker: Vec<f32> = (0..100 * 100).map(|i| if (i / 100 + i % 100) % 2 == 0 { 0.9 } else { 0.0 }).collect();
        let few = Detection { max_candidates: 10, ..Detection::default() };
        assert!(boxes(&checker, 100, 100, &few).len() <= 10);
        // One blob covering everything.
        assert_eq!(boxes(&vec![0.99; 64 * 64], 64, 64, &Detection::default()).len(), 1);
    }

    fn dims(input: DetectorInput) -> (usize, usize) {
        (input.width, input.height)
    }

    #[test]
    fn the_input_is_resized_within_its_limits_to_multiples_of_32() {
        let image = RgbImage::from_pixel(1080, 1350, image::Rgb([255, 255, 255]));
        let input = prepare(&image, 64, 960);
        assert_eq!((input.width, input.height), (768, 960));
        assert_eq!(input.tensor.len(), 3 * 768 * 960);
        assert!((input.tensor[0] - (1.0 - 0.485) / 0.229).abs() < 1e-5);
        // A small image is enlarged to the shorter side's minimum; the longer side still wins.
        assert_eq!(dims(prepare(&RgbImage::new(100, 30), 64, 960)), (224, 64));
        assert_eq!(dims(prepare(&RgbImage::new(10_000, 3), 64, 960)), (960, 32));
    }
}
