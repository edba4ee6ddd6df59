//! Reading one line of text: the crop is scaled to the recogniser's height, and its output (a
//! distribution over characters for each slice of the width) is read by CTC: the most likely
//! class per slice, repeats merged, blanks dropped.
//!
//! The orientation classifier takes the same kind of input, narrower, and says whether a line is
//! upside down.

use image::RgbImage;
use image::imageops::{FilterType, resize};

/// Height of the recogniser's and the classifier's input.
pub const LINE_HEIGHT: u32 = 48;
/// The recogniser's input is at least this wide (its training shape, 3 × 48 × 320).
pub const MIN_LINE_WIDTH: u32 = 320;
/// The classifier's input width (3 × 48 × 192).
pub const ORIENTATION_WIDTH: u32 = 192;
/// Lines wider than this many times their height are squeezed to it: the input, and the work,
/// stay bounded for a hostile banner of text.
pub const MAX_LINE_RATIO: f32 = 64.0;

/// The recogniser's characters: class 0 is CTC's blank, classes 1..=n the dictionary's lines,
/// and the last class a space (PaddleOCR's `use_space_char`).
#[derive(Debug, Clone)]
pub struct Charset {
    characters: Vec<String>,
}

impl Charset {
    pub fn parse(text: &str) -> Self {
        let mut characters: Vec<String> =
            text.split('\n').map(|line| line.trim_end_matches('\r').to_string()).filter(|c| !c.is_empty()).collect();
        characters.push(" ".into());
        Self { characters }
    }

    /// Classes the recogniser must have: the characters and the blank.
    pub fn classes(&self) -> usize {
        self.characters.len() + 1
    }

    fn get(&self, class: usize) -> Option<&str> {
        class.checked_sub(1).and_then(|i| self.characters.get(i)).map(String::as_str)
    }
}

/// Greedy CTC over `steps` × `classes` probabilities: the text and the mean probability of the
/// characters kept (0 when none is).
pub fn ctc_decode(probabilities: &[f32], steps: usize, classes: usize, charset: &Charset) -> (String, f32) {
    let (mut text, mut confidence, mut kept) = (String::new(), 0f32, 0usize);
    let mut previous = 0usize;
    for step in probabilities.chunks_exact(classes).take(steps) {
        let (class, p) =
            step.iter().enumerate().fold((0, f32::MIN), |best, (i, &p)| if p > best.1 { (i, p) } else { best });
        if class != 0
            && class != previous
            && let Some(character) = charset.get(class)
        {
            text.push_str(character);
            confidence += p;
            kept += 1;
        }
        previous = class;
    }
    (text, if kept == 0 { 0.0 } else { confidence / kept as f32 })
}

/// The recogniser's dictionary is Chinese and English, and on Latin text it sometimes writes the
/// Chinese forms: full-width punctuation (`，` for `,`) and, inside numbers, letters for the digits
/// they resemble (`1o,ooo`, `lo0`). Both are put back where the context is not CJK: a full-width
/// form whose neighbours are not CJK becomes its ASCII twin, and in a token made only of digits,
/// `o O l I` and separators (after `$`, `(` and the like are set aside) with at least one digit,
/// `o`/`O` become `0` and `l`/`I` become `1`.
pub fn tidy(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let is_cjk = |c: char| matches!(c as u32, 0x3040..=0x30FF | 0x3400..=0x4DBF | 0x4E00..=0x9FFF | 0xAC00..=0xD7AF | 0xF900..=0xFAFF);
    let neighbour = |from: usize, step: isize| -> Option<char> {
        let mut i = from as isize + step;
        while i >= 0 && (i as usize) < chars.len() {
            let c = chars[i as usize];
            if !c.is_whitespace() && !('\u{FF01}'..='\u{FF5E}').contains(&c) {
                return Some(c);
            }
            i += step;
        }
        None
    };
    let ascii: String = chars
        .iter()
        .enumerate()
        .map(|(i, &c)| match c {
            '\u{FF01}'..='\u{FF5E}'
                if !neighbour(i, -1).is_some_and(is_cjk) && !neighbour(i, 1).is_some_and(is_cjk) =>
            {
                char::from_u32(c as u32 - 0xFEE0).unwrap_or(c)
            }
            '\u{3000}' => ' ',
            _ => c,
        })
        .collect();
    ascii
        .split(' ')
        .map(|token| {
            let core = token.trim_matches(|c: char| "$€£¥(%)!?\"'".contains(c));
            let numeric = core.chars().all(|c| c.is_ascii_digit() || "oOlI.,:".contains(c));
            if numeric && core.chars().any(|c| c.is_ascii_digit()) {
                token.replace(['o', 'O'], "0").replace(['l', 'I'], "1")
            } else {
                token.to_string()
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Lines as one input batch `[n, 3, 48, width]`: each scaled to the height (keeping its shape, up
/// to `width`), normalised to [-1, 1] in BGR planes, and padded with zeros on the right.
pub fn batch(lines: &[&RgbImage], width: u32) -> Vec<f32> {
    let (h, w) = (LINE_HEIGHT as usize, width as usize);
    let mut tensor = vec![0f32; lines.len() * 3 * h * w];
    for (n, line) in lines.iter().enumerate() {
        let scaled_width = scaled_width(line).min(width);
        let scaled = resize(*line, scaled_width, LINE_HEIGHT, FilterType::Triangle);
        let base = n * 3 * h * w;
        for (x, y, pixel) in scaled.enumerate_pixels() {
            let [r, g, b] = pixel.0;
            for (c, value) in [b, g, r].into_iter().enumerate() {
                tensor[base + c * h * w + y as usize * w + x as usize] = f32::from(value) / 127.5 - 1.0;
            }
        }
    }
    tensor
}

/// The width of `line` scaled to [`LINE_HEIGHT`], within [`MAX_LINE_RATIO`].
pub fn scaled_width(line: &RgbImage) -> u32 {
    let ratio = (line.width() as f32 / line.height().max(1) as f32).min(MAX_LINE_RATIO);
    ((LINE_HEIGHT as f32 * ratio).ceil() as u32).max(1)
}

/// The input width for a batch of lines: wide enough for the widest, at least [`MIN_LINE_WIDTH`].
pub fn batch_width(lines: &[&RgbImage]) -> u32 {
    lines.iter().map(|line| scaled_width(line)).max().unwrap_or(0).max(MIN_LINE_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one_hot(classes: usize, sequence: &[usize]) -> Vec<f32> {
        sequence
            .iter()
            .flat_map(|&c| (0..classes).map(move |i| if i == c { 0.9 } else { 0.1 / classes as f32 }))
            .collect()
    }

    #[test]
    fn ctc_merges_repeats_and_drops_blanks() {
        let charset = Charset::parse("a\nb\r\nc\n");
        assert_eq!(charset.classes(), 5, "a, b, c, space and the blank");
        // a a _ a b b _ space c  →  "aab c"
        let probabilities = one_hot(5, &[1, 1, 0, 1, 2, 2, 0, 4, 3]);
        let (text, confidence) = ctc_decode(&probabilities, 9, 5, &charset);
        assert_eq!(text, "aab c");
        assert!((confidence - 0.9).abs() < 1e-6);
        assert_eq!(ctc_decode(&one_hot(5, &[0, 0]), 2, 5, &charset), (String::new(), 0.0));
        // Fewer values than steps × classes: only whole steps are read.
        assert_eq!(ctc_decode(&[0.0, 1.0], 3, 5, &charset).0, "");
    }

    #[test]
    fn chinese_forms_in_latin_text_are_put_back() {
        assert_eq!(tidy("Limited edition，only 2o0 made"), "Limited edition,only 200 made");
        assert_eq!(
            tidy("Thank you for 1o,ooo followers！ $1O.5o (3o%)"),
            "Thank you for 10,000 followers! $10.50 (30%)"
        );
        // CJK context keeps its own forms; words keep their letters.
        assert_eq!(tidy("你好，世界"), "你好，世界");
        assert_eq!(tidy("Go to room 2B or No.5 today"), "Go to room 2B or No.5 today");
        assert_eq!(tidy("WELCOME15 o O 0 I lo:3o lo0"), "WELCOME15 o O 0 I 10:30 100");
        assert_eq!(tidy(""), "");
    }

    #[test]
    fn lines_are_scaled_to_the_height_and_padded() {
        let line = RgbImage::from_pixel(100, 20, image::Rgb([255, 255, 255]));
        assert_eq!(scaled_width(&line), 240);
        assert_eq!(batch_width(&[&line]), MIN_LINE_WIDTH);
        let tensor = batch(&[&line], 320);
        assert_eq!(tensor.len(), 3 * 48 * 320);
        assert!((tensor[0] - 1.0).abs() < 1e-6 && tensor[319] == 0.0, "white, then padding");
        let banner = RgbImage::new(100_000, 1);
        assert_eq!(scaled_width(&banner), (48.0 * MAX_LINE_RATIO) as u32);
    }
}
