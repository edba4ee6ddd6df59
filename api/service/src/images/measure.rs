//! What an image looks like, in numbers a person can act on: brightness, contrast, sharpness
//! (and whether it is blurry), and its main colours with plain names for alt text.
//!
//! Everything is measured on a reduced copy, so the cost does not grow with the upload: colours
//! on at most 128 pixels a side, exposure and sharpness on at most 1,024. Sharpness is the
//! variance of the Laplacian of the grey image (a common focus measure): edges make it large,
//! blur makes it small.

use image::imageops::{FilterType, resize};
use image::{GrayImage, RgbImage};

/// Under this sharpness (the Laplacian's variance, grey levels squared, at ≤ 1,024 px) an image
/// reads as blurry.
pub const BLURRY_BELOW: f64 = 100.0;
/// Colours reported, at most; a colour covering less than [`MIN_COLOR_SHARE`] is left out.
pub const MAX_COLORS: usize = 5;
pub const MIN_COLOR_SHARE: f64 = 0.03;

#[derive(Debug, Clone, PartialEq)]
pub struct Quality {
    /// Mean luminance, 0 (black) to 1 (white).
    pub brightness: f64,
    /// Standard deviation of luminance, 0 to 0.5.
    pub contrast: f64,
    /// Variance of the Laplacian (see the module docs).
    pub sharpness: f64,
    pub blurry: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Color {
    /// `#rrggbb`, the mean of the pixels counted for it.
    pub hex: String,
    /// Fraction of the image.
    pub share: f64,
    /// A plain name (`dark blue`), for alt text.
    pub name: &'static str,
}

/// `image` shrunk (never enlarged) so that its longer side is at most `side`.
pub fn shrink(image: &RgbImage, side: u32) -> RgbImage {
    let (w, h) = image.dimensions();
    if w.max(h) <= side {
        return image.clone();
    }
    let scale = side as f64 / w.max(h) as f64;
    let (nw, nh) = (((w as f64 * scale).round() as u32).max(1), ((h as f64 * scale).round() as u32).max(1));
    resize(image, nw, nh, FilterType::Triangle)
}

pub fn grey(image: &RgbImage) -> GrayImage {
    GrayImage::from_fn(image.width(), image.height(), |x, y| {
        let [r, g, b] = image.get_pixel(x, y).0;
        image::Luma([luma(r, g, b).round() as u8])
    })
}

fn luma(r: u8, g: u8, b: u8) -> f64 {
    0.299 * f64::from(r) + 0.587 * f64::from(g) + 0.114 * f64::from(b)
}

/// Exposure and focus of `grey` (at most 1,024 px a side).
pub fn quality(grey: &GrayImage) -> Quality {
    let values = grey.as_raw();
    let n = values.len().max(1) as f64;
    let mean = values.iter().map(|&v| f64::from(v)).sum::<f64>() / n;
    let variance = values.iter().map(|&v| (f64::from(v) - mean).powi(2)).sum::<f64>() / n;
    let (w, h) = (grey.width() as usize, grey.height() as usize);
    let (mut sum, mut sum_sq, mut count) = (0f64, 0f64, 0usize);
    for y in 1..h.saturating_sub(1) {
        for x in 1..w.saturating_sub(1) {
            let at =
                |dx: isize, dy: isize| f64::from(values[(y as isize + dy) as usize * w + (x as isize + dx) as usize]);
            let laplacian = at(-1, 0) + at(1, 0) + at(0, -1) + at(0, 1) - 4.0 * at(0, 0);
            sum += laplacian;
            sum_sq += laplacian * laplacian;
            count += 1;
        }
    }
    let sharpness = if count == 0 { 0.0 } else { sum_sq / count as f64 - (sum / count as f64).powi(2) };
    Quality { brightness: mean / 255.0, contrast: variance.sqrt() / 255.0, sharpness, blurry: sharpness < BLURRY_BELOW }
}

/// The main colours of `small` (at most 128 px a side): pixels binned by their top 3 bits per
/// channel, the largest bins reported with their mean colour.
pub fn colors(small: &RgbImage) -> Vec<Color> {
    let mut bins = vec![(0u64, [0u64; 3]); 512];
    for pixel in small.pixels() {
        let [r, g, b] = pixel.0;
        let bin = &mut bins[(usize::from(r >> 5) << 6) | (usize::from(g >> 5) << 3) | usize::from(b >> 5)];
        bin.0 += 1;
        for (sum, value) in bin.1.iter_mut().zip([r, g, b]) {
            *sum += u64::from(value);
        }
    }
    let total = small.pixels().len().max(1) as f64;
    bins.sort_by_key(|bin| std::cmp::Reverse(bin.0));
    bins.into_iter()
        .take(MAX_COLORS)
        .filter(|(count, _)| *count as f64 / total >= MIN_COLOR_SHARE)
        .map(|(count, sums)| {
            let [r, g, b] = sums.map(|sum| (sum as f64 / count as f64).round() as u8);
            Color { hex: format!("#{r:02x}{g:02x}{b:02x}"), share: count as f64 / total, name: name(r, g, b) }
        })
        .collect()
}

/// A plain name for a colour, from its hue, saturation and lightness.
pub fn name(r: u8, g: u8, b: u8) -> &'static str {
    let (r, g, b) = (f64::from(r) / 255.0, f64::from(g) / 255.0, f64::from(b) / 255.0);
    let (max, min) = (r.max(g).max(b), r.min(g).min(b));
    let lightness = (max + min) / 2.0;
    let chroma = max - min;
    if chroma < 0.12 {
        return match lightness {
            l if l < 0.15 => "black",
            l if l < 0.4 => "dark grey",
            l if l < 0.75 => "grey",
            l if l < 0.92 => "light grey",
            _ => "white",
        };
    }
    let hue = if max == r {
        60.0 * ((g - b) / chroma).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / chroma + 2.0)
    } else {
        60.0 * ((r - g) / chroma + 4.0)
    };
    let dark = lightness < 0.3;
    match hue {
        h if !(15.0..345.0).contains(&h) => {
            if dark {
                "dark red"
            } else if lightness > 0.75 {
                "pink"
            } else {
                "red"
            }
        }
        h if h < 45.0 => {
            if dark || (lightness < 0.45 && chroma < 0.5) {
                "brown"
            } else {
                "orange"
            }
        }
        h if h < 70.0 => {
            if dark {
                "olive"
            } else {
                "yellow"
            }
        }
        h if h < 165.0 => {
            if dark {
                "dark green"
            } else {
                "green"
            }
        }
        h if h < 200.0 => {
            if dark {
                "dark teal"
            } else {
                "teal"
            }
        }
        h if h < 255.0 => {
            if dark {
                "dark blue"
            } else if lightness > 0.7 {
                "light blue"
            } else {
                "blue"
            }
        }
        h if h < 290.0 => {
            if dark {
                "dark purple"
            } else {
                "purple"
            }
        }
        _ => {
            if dark {
                "dark magenta"
            } else {
                "pink"
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_flat_image_is_blurry_and_a_sharp_one_is_not() {
        let flat = GrayImage::from_pixel(64, 64, image::Luma([128]));
        let q = quality(&flat);
        assert!((q.brightness - 128.0 / 255.0).abs() < 1e-9 && q.contrast == 0.0 && q.sharpness == 0.0 && q.blurry);
        let checker = GrayImage::from_fn(64, 64, |x, y| image::Luma([if (x / 2 + y / 2) % 2 == 0 { 0 } else { 255 }]));
        let q = quality(&checker);
        assert!(!q.blurry && q.sharpness > 1_000.0 && (q.contrast - 0.5).abs() < 1e-3, "{q:?}");
        // Too small for a Laplacian: no panic, no division by zero.
        assert_eq!(quality(&GrayImage::new(1, 1)).sharpness, 0.0);
        assert_eq!(quality(&GrayImage::new(0, 0)).sharpness, 0.0);
    }

    #[test]
    fn colours_are_the_largest_bins_with_plain_names() {
        let image =
            RgbImage::from_fn(100, 100, |x, _| image::Rgb(if x < 70 { [20, 40, 120] } else { [250, 250, 250] }));
        let colors = colors(&image);
        assert_eq!(colors.len(), 2);
        assert_eq!((colors[0].hex.as_str(), colors[0].name), ("#142878", "dark blue"));
        assert!((colors[0].share - 0.7).abs() < 1e-9);
        assert_eq!(colors[1].name, "white");
        for (rgb, expected) in
            [([200, 30, 30], "red"), ([30, 160, 60], "green"), ([240, 200, 40], "yellow"), ([0, 0, 0], "black")]
        {
            assert_eq!(name(rgb[0], rgb[1], rgb[2]), expected, "{rgb:?}");
        }
    }

    #[test]
    fn shrinking_keeps_the_shape_and_never_enlarges() {
        let image = RgbImage::new(4000, 1000);
        assert_eq!(shrink(&image, 1024).dimensions(), (1024, 256));
        assert_eq!(shrink(&RgbImage::new(10, 5), 1024).dimensions(), (10, 5));
        assert_eq!(shrink(&RgbImage::new(100_000, 1), 128).dimensions(), (128, 1));
    }
}
