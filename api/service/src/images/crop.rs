//! Fitting an image to each platform's feed: whether it shows uncropped, and if not, the crop
//! toward the nearest accepted shape that keeps what matters.
//!
//! The shapes are data (`crops.toml`). A crop keeps the image's full height (for an image too
//! wide) or full width (too tall) and slides along the other axis to the position that keeps the
//! most "importance": every detected text line counts far more than anything else (cutting a
//! word is the worst crop), then detail (edge energy), so a subject is kept over an empty sky.
//! The search is linear: a prefix sum over one importance profile.

use std::sync::LazyLock;

use serde::Deserialize;

/// A rectangle in image pixels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rect {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

/// The shapes a platform shows a single image in without cropping (width / height).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CropRule {
    pub id: String,
    pub min_ratio: f64,
    pub max_ratio: f64,
    pub preferred: f64,
    pub source: String,
    pub as_of: String,
}

#[derive(Deserialize)]
struct Table {
    platform: Vec<CropRule>,
}

/// Within this relative distance of a range's end, an image counts as fitting.
const TOLERANCE: f64 = 0.01;

pub fn table() -> &'static [CropRule] {
    static TABLE: LazyLock<Vec<CropRule>> = LazyLock::new(|| {
        toml::from_str::<Table>(include_str!("crops.toml")).expect("crops.toml is valid (tested)").platform
    });
    &TABLE
}

/// How an image fits one platform.
#[derive(Debug, Clone, PartialEq)]
pub struct Fit {
    pub ok: bool,
    pub reason: String,
    /// The whole image when it fits.
    pub crop: Rect,
    /// Text lines the crop cuts through or leaves out.
    pub text_cut: usize,
}

/// Where text and detail are, reduced to the two axes, on a copy `scale` times the image's size.
pub struct Importance {
    columns: Vec<f64>,
    rows: Vec<f64>,
    scale: f64,
    /// Text lines' bounds in image pixels: (x0, y0, x1, y1).
    text: Vec<(f64, f64, f64, f64)>,
}

impl Importance {
    /// From the grey copy (`scale` = its width / the image's) and the text lines' bounds.
    pub fn new(grey: &image::GrayImage, scale: f64, text: Vec<(f64, f64, f64, f64)>) -> Self {
        let (w, h) = (grey.width() as usize, grey.height() as usize);
        let (mut columns, mut rows) = (vec![0f64; w], vec![0f64; h]);
        let values = grey.as_raw();
        let at = |x: usize, y: usize| f64::from(values[y * w + x]);
        for (y, row) in rows.iter_mut().enumerate().take(h.saturating_sub(1)) {
            for (x, column) in columns.iter_mut().enumerate().take(w.saturating_sub(1)) {
                let energy = (at(x + 1, y) - at(x, y)).abs() + (at(x, y + 1) - at(x, y)).abs();
                *column += energy;
                *row += energy;
            }
        }
        // A text line outweighs the detail of the whole image.
        let total: f64 = columns.iter().sum::<f64>() + 1.0;
        for &(x0, y0, x1, y1) in &text {
            let span = |from: f64, to: f64, len: usize| {
                let (a, b) = ((from * scale).floor().max(0.0) as usize, (to * scale).ceil().max(0.0) as usize);
                a.min(len)..b.min(len)
            };
            let (xs, ys) = (span(x0, x1, w), span(y0, y1, h));
            let (nx, ny) = (xs.len().max(1) as f64, ys.len().max(1) as f64);
            for x in xs {
                columns[x] += 2.0 * total / nx;
            }
            for y in ys {
                rows[y] += 2.0 * total / ny;
            }
        }
        Self { columns, rows, scale, text }
    }
}

/// How a `width` × `height` image fits `rule`, with the crop toward its nearest shape.
pub fn fit(rule: &CropRule, platform_name: &str, width: u32, height: u32, importance: &Importance) -> Fit {
    let ratio = f64::from(width) / f64::from(height.max(1));
    let whole = Rect { x: 0, y: 0, width, height };
    let range = if rule.min_ratio == rule.max_ratio {
        shape(rule.min_ratio)
    } else {
        format!("{} to {}", shape(rule.min_ratio), shape(rule.max_ratio))
    };
    if ratio >= rule.min_ratio * (1.0 - TOLERANCE) && ratio <= rule.max_ratio * (1.0 + TOLERANCE) {
        return Fit {
            ok: true,
            reason: format!("{} fits {platform_name}'s feed ({range}) uncropped", shape(ratio)),
            crop: whole,
            text_cut: 0,
        };
    }
    let (target, wide) = if ratio > rule.max_ratio { (rule.max_ratio, true) } else { (rule.min_ratio, false) };
    let crop = if wide {
        let crop_width = ((f64::from(height) * target).round() as u32).clamp(1, width);
        let x = best_offset(&importance.columns, importance.scale, width, crop_width);
        Rect { x, y: 0, width: crop_width, height }
    } else {
        let crop_height = ((f64::from(width) / target).round() as u32).clamp(1, height);
        let y = best_offset(&importance.rows, importance.scale, height, crop_height);
        Rect { x: 0, y, width, height: crop_height }
    };
    let text_cut = importance.text.iter().filter(|line| !inside(line, &crop)).count();
    let kept = match (importance.text.len(), text_cut) {
        (0, _) => String::new(),
        (_, 0) => "; all detected text kept".into(),
        (lines, cut) => format!("; {cut} of {lines} text lines cut"),
    };
    let side = if wide { "wider" } else { "taller" };
    Fit {
        ok: false,
        reason: format!(
            "{} is {side} than {platform_name}'s feed shows uncropped ({range}); crop to {} ({}×{}){kept}",
            shape(ratio),
            shape(target),
            crop.width,
            crop.height
        ),
        crop,
        text_cut,
    }
}

/// The window start (image pixels) along an axis of `length` that keeps the most importance,
/// nearest the centre among equals.
fn best_offset(profile: &[f64], scale: f64, length: u32, window: u32) -> u32 {
    let slack = length.saturating_sub(window);
    if slack == 0 || profile.is_empty() {
        return 0;
    }
    let span = ((f64::from(window) * scale).round() as usize).clamp(1, profile.len());
    let mut prefix = vec![0f64; profile.len() + 1];
    for (i, v) in profile.iter().enumerate() {
        prefix[i + 1] = prefix[i] + v;
    }
    let centre = (profile.len() - span) as f64 / 2.0;
    let mut best = (f64::MIN, f64::MAX, 0usize);
    for start in 0..=profile.len() - span {
        let kept = prefix[start + span] - prefix[start];
        let off_centre = (start as f64 - centre).abs();
        if kept > best.0 + 1e-9 || ((kept - best.0).abs() <= 1e-9 && off_centre < best.1) {
            best = (kept, off_centre, start);
        }
    }
    ((best.2 as f64 / scale).round() as u32).min(slack)
}

fn inside(&(x0, y0, x1, y1): &(f64, f64, f64, f64), crop: &Rect) -> bool {
    let (cx0, cy0) = (f64::from(crop.x), f64::from(crop.y));
    let (cx1, cy1) = (cx0 + f64::from(crop.width), cy0 + f64::from(crop.height));
    x0 >= cx0 - 1.0 && y0 >= cy0 - 1.0 && x1 <= cx1 + 1.0 && y1 <= cy1 + 1.0
}

/// `1.91:1`, `4:5`, `16:9` and the like.
pub fn shape(ratio: f64) -> String {
    const NAMED: [(f64, &str); 8] = [
        (1.0, "1:1"),
        (0.8, "4:5"),
        (1.25, "5:4"),
        (16.0 / 9.0, "16:9"),
        (9.0 / 16.0, "9:16"),
        (2.0 / 3.0, "2:3"),
        (1.5, "3:2"),
        (0.75, "3:4"),
    ];
    NAMED
        .iter()
        .find(|(r, _)| (ratio / r - 1.0).abs() < 0.005)
        .map_or_else(|| format!("{ratio:.2}:1"), |(_, name)| (*name).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(min: f64, max: f64) -> CropRule {
        CropRule {
            id: "p".into(),
            min_ratio: min,
            max_ratio: max,
            preferred: min,
            source: String::new(),
            as_of: String::new(),
        }
    }

    #[test]
    fn an_image_in_range_fits_whole() {
        let grey = image::GrayImage::new(100, 100);
        let fit = fit(&rule(0.8, 1.91), "Instagram", 1080, 1080, &Importance::new(&grey, 100.0 / 1080.0, vec![]));
        assert!(fit.ok && fit.crop == Rect { x: 0, y: 0, width: 1080, height: 1080 }, "{fit:?}");
        assert_eq!(fit.reason, "1:1 fits Instagram's feed (4:5 to 1.91:1) uncropped");
    }

    #[test]
    fn a_wide_image_is_cropped_around_its_text() {
        // 3000 × 1000; text near the right edge.
        let grey = image::GrayImage::new(300, 100);
        let text = vec![(2400.0, 400.0, 2900.0, 500.0)];
        let fit = fit(&rule(0.8, 1.91), "Instagram", 3000, 1000, &Importance::new(&grey, 0.1, text));
        assert!(!fit.ok && fit.text_cut == 0, "{fit:?}");
        assert_eq!((fit.crop.width, fit.crop.height), (1910, 1000));
        assert!(fit.crop.x + fit.crop.width >= 2900 && fit.crop.x <= 2400, "{fit:?}");
        assert!(fit.reason.contains("all detected text kept"), "{}", fit.reason);
    }

    #[test]
    fn without_text_or_detail_the_crop_is_centred_and_a_tall_image_keeps_its_width() {
        let grey = image::GrayImage::new(100, 400);
        let fit = fit(&rule(0.8, 1.91), "Instagram", 1000, 4000, &Importance::new(&grey, 0.1, vec![]));
        assert_eq!(fit.crop, Rect { x: 0, y: 1370, width: 1000, height: 1250 });
        // Detail at the top pulls the window up.
        let detailed =
            image::GrayImage::from_fn(100, 400, |x, y| image::Luma([if y < 50 && x % 2 == 0 { 255 } else { 0 }]));
        let fit = super::fit(&rule(0.8, 1.91), "Instagram", 1000, 4000, &Importance::new(&detailed, 0.1, vec![]));
        assert_eq!(fit.crop.y, 0, "{fit:?}");
    }

    #[test]
    fn every_platform_has_a_shape_within_its_hard_limits() {
        for platform in crate::posts::builtin() {
            let rule =
                table().iter().find(|r| r.id == platform.id).unwrap_or_else(|| panic!("{} has no row", platform.id));
            assert!(rule.min_ratio <= rule.preferred && rule.preferred <= rule.max_ratio, "{}", rule.id);
            if let Some(photo) = &platform.media.photo {
                assert!(photo.min_aspect_ratio.is_none_or(|min| rule.min_ratio >= min), "{}", rule.id);
                assert!(photo.max_aspect_ratio.is_none_or(|max| rule.max_ratio <= max), "{}", rule.id);
            }
        }
        assert_eq!(table().len(), crate::posts::builtin().len());
        assert_eq!(shape(1.91), "1.91:1");
        assert_eq!(shape(0.5625), "9:16");
    }
}
