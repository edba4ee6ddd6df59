//! Images of known text, for tests and benchmarks of OCR: lines drawn in a real font, then
//! optionally turned by a small angle and given noise, as photos of signs and screenshots are.
//!
//! The fonts are the system's (Debian's `fonts-dejavu-core`); nothing here downloads anything.

use std::path::PathBuf;

use ab_glyph::{Font, FontVec, PxScale, ScaleFont, point};
use image::{Rgb, RgbImage};

/// Where Debian's DejaVu fonts are.
pub const FONT_DIR: &str = "/usr/share/fonts/truetype/dejavu";

/// A font file of [`FONT_DIR`] by name (`DejaVuSans.ttf`), loaded.
pub fn system_font(file: &str) -> Result<FontVec, String> {
    let path = PathBuf::from(FONT_DIR).join(file);
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e} (install fonts-dejavu-core)", path.display()))?;
    FontVec::try_from_vec(bytes).map_err(|e| format!("{}: {e}", path.display()))
}

/// Dark `lines` on white at `size` pixels, left-aligned with a margin, each line `1.6 × size`
/// below the last; the canvas is at least `min_width` × `min_height`.
pub fn render_lines(font: &FontVec, lines: &[&str], size: f32, min_width: u32, min_height: u32) -> RgbImage {
    let scaled = font.as_scaled(PxScale::from(size));
    let margin = size;
    let advance = |line: &str| -> f32 {
        let mut width = 0.0;
        let mut previous = None;
        for c in line.chars() {
            let id = font.glyph_id(c);
            if let Some(previous) = previous {
                width += scaled.kern(previous, id);
            }
            width += scaled.h_advance(id);
            previous = Some(id);
        }
        width
    };
    let widest = lines.iter().map(|line| advance(line)).fold(0.0, f32::max);
    let width = ((widest + 2.0 * margin).ceil() as u32).max(min_width);
    let height = ((lines.len() as f32 * 1.6 * size + 2.0 * margin).ceil() as u32).max(min_height);
    let mut image = RgbImage::from_pixel(width, height, Rgb([255, 255, 255]));
    for (index, line) in lines.iter().enumerate() {
        let baseline = margin + scaled.ascent() + index as f32 * 1.6 * size;
        let mut x = margin;
        let mut previous = None;
        for c in line.chars() {
            let id = font.glyph_id(c);
            if let Some(previous) = previous {
                x += scaled.kern(previous, id);
            }
            let glyph = id.with_scale_and_position(PxScale::from(size), point(x, baseline));
            if let Some(outline) = font.outline_glyph(glyph) {
                let bounds = outline.px_bounds();
                outline.draw(|gx, gy, coverage| {
                    let (px, py) = (bounds.min.x as i64 + i64::from(gx), bounds.min.y as i64 + i64::from(gy));
                    if px >= 0 && py >= 0 && (px as u32) < width && (py as u32) < height {
                        let pixel = image.get_pixel_mut(px as u32, py as u32);
                        let ink = (255.0 * (1.0 - coverage.clamp(0.0, 1.0))) as u8;
                        pixel.0 = pixel.0.map(|v| v.min(ink.saturating_add(20)));
                    }
                });
            }
            x += scaled.h_advance(id);
            previous = Some(id);
        }
    }
    image
}

/// `image` turned `degrees` clockwise about its centre (bilinear), white where nothing was.
pub fn rotate(image: &RgbImage, degrees: f32) -> RgbImage {
    let (w, h) = image.dimensions();
    let (sin, cos) = degrees.to_radians().sin_cos();
    let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
    RgbImage::from_fn(w, h, |x, y| {
        let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
        let (sx, sy) = (cos * dx + sin * dy + cx - 0.5, -sin * dx + cos * dy + cy - 0.5);
        if sx < 0.0 || sy < 0.0 || sx > (w - 1) as f32 || sy > (h - 1) as f32 {
            return Rgb([255, 255, 255]);
        }
        let (x0, y0) = (sx.floor() as u32, sy.floor() as u32);
        let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
        let (tx, ty) = (sx - x0 as f32, sy - y0 as f32);
        let mut out = [0u8; 3];
        for (c, value) in out.iter_mut().enumerate() {
            let at = |x: u32, y: u32| f32::from(image.get_pixel(x, y).0[c]);
            let top = at(x0, y0) * (1.0 - tx) + at(x1, y0) * tx;
            let bottom = at(x0, y1) * (1.0 - tx) + at(x1, y1) * tx;
            *value = (top * (1.0 - ty) + bottom * ty).round() as u8;
        }
        Rgb(out)
    })
}

/// `image` with seeded noise of about `sigma` grey levels on every channel.
pub fn add_noise(image: &mut RgbImage, sigma: f32, seed: u64) {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut uniform = move || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 40) as f32 / (1u64 << 24) as f32
    };
    for pixel in image.pixels_mut() {
        for value in pixel.0.iter_mut() {
            // The sum of four uniforms is close to normal, with deviation 1/√3.
            let normal = (uniform() + uniform() + uniform() + uniform() - 2.0) * 3f32.sqrt();
            *value = (f32::from(*value) + normal * sigma).round().clamp(0.0, 255.0) as u8;
        }
    }
}

/// Character errors of `read` against `expected`: the edit distance between the two with runs of
/// whitespace (line breaks included) as one space, and the expected text's length in characters.
pub fn character_errors(read: &str, expected: &str) -> (usize, usize) {
    let normalised =
        |text: &str| -> Vec<char> { text.split_whitespace().collect::<Vec<_>>().join(" ").chars().collect() };
    let (a, b) = (normalised(read), normalised(expected));
    let mut previous: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut current = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            current[j + 1] = (previous[j] + usize::from(ca != cb)).min(previous[j + 1] + 1).min(current[j] + 1);
        }
        previous = current;
    }
    (previous[b.len()], b.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn character_errors_count_edits_and_ignore_layout() {
        assert_eq!(character_errors("Summer  sale\nnow", "Summer sale now"), (0, 15));
        assert_eq!(character_errors("Sumer sale", "Summer sale"), (1, 11));
        assert_eq!(character_errors("", "abc"), (3, 3));
        assert_eq!(character_errors("abc", ""), (3, 0));
    }
}
