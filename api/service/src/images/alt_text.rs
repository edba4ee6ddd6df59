//! Alt text, composed by rules from what was measured: no captioning model ships in any package
//! this project can install, so the description says only what is known (shape, size, main
//! colours, exposure, focus) and quotes the text found in the image. The same image always gets
//! the same words.

use super::measure::{Color, Quality};

/// Longest alt text, in characters (X's limit for image descriptions).
pub const MAX_ALT_TEXT_CHARS: usize = 1_000;

pub struct Described<'a> {
    pub format: &'a str,
    pub width: u32,
    pub height: u32,
    pub colors: &'a [Color],
    pub quality: &'a Quality,
    /// The text read from the image, if OCR ran.
    pub text: Option<&'a str>,
}

pub fn compose(image: &Described<'_>) -> String {
    let ratio = f64::from(image.width) / f64::from(image.height.max(1));
    let orientation = match ratio {
        r if r > 1.05 => "landscape",
        r if r < 0.95 => "portrait",
        _ => "square",
    };
    let kind = if image.format == "gif" { "GIF" } else { "Image" };
    let mut alt = format!("{kind}, {orientation} ({}×{})", image.width, image.height);
    let mut names: Vec<&str> = Vec::new();
    for color in image.colors {
        if !names.contains(&color.name) && names.len() < 2 {
            names.push(color.name);
        }
    }
    match names.as_slice() {
        [] => {}
        [one] => alt.push_str(&format!(", mostly {one}")),
        [one, two, ..] => alt.push_str(&format!(", mostly {one} and {two}")),
    }
    alt.push('.');
    let q = image.quality;
    if q.brightness < 0.2 {
        alt.push_str(" It is dark.");
    } else if q.brightness > 0.92 && q.contrast < 0.1 {
        alt.push_str(" It is very bright.");
    }
    if q.blurry && q.contrast > 0.02 {
        alt.push_str(" It looks blurry.");
    }
    if let Some(text) = image.text.map(|t| t.split_whitespace().collect::<Vec<_>>().join(" ")).filter(|t| !t.is_empty())
    {
        let room = MAX_ALT_TEXT_CHARS.saturating_sub(alt.chars().count() + " Text in the image: “”.".chars().count());
        alt.push_str(&format!(" Text in the image: “{}”.", shorten(&text, room)));
    }
    alt
}

/// `text` within `room` characters, cut at a word boundary with an ellipsis.
fn shorten(text: &str, room: usize) -> String {
    if text.chars().count() <= room {
        return text.to_string();
    }
    let mut cut: String = text.chars().take(room.saturating_sub(1)).collect();
    if let Some(space) = cut.rfind(' ').filter(|&i| i > 0) {
        cut.truncate(space);
    }
    cut.push('…');
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quality(brightness: f64, blurry: bool) -> Quality {
        Quality { brightness, contrast: 0.3, sharpness: if blurry { 10.0 } else { 500.0 }, blurry }
    }

    #[test]
    fn alt_text_names_shape_colours_and_text() {
        let colors = vec![
            Color { hex: "#142878".into(), share: 0.6, name: "dark blue" },
            Color { hex: "#152977".into(), share: 0.2, name: "dark blue" },
            Color { hex: "#fafafa".into(), share: 0.2, name: "white" },
        ];
        let q = quality(0.5, false);
        let image = Described {
            format: "png",
            width: 1200,
            height: 675,
            colors: &colors,
            quality: &q,
            text: Some("Summer\nSALE  50% off"),
        };
        assert_eq!(
            compose(&image),
            "Image, landscape (1200×675), mostly dark blue and white. Text in the image: “Summer SALE 50% off”."
        );
        let q = quality(0.1, true);
        let dark = Described { format: "gif", width: 500, height: 500, colors: &[], quality: &q, text: Some("  ") };
        assert_eq!(compose(&dark), "GIF, square (500×500). It is dark. It looks blurry.");
    }

    #[test]
    fn long_text_is_cut_to_the_limit_at_a_word() {
        let q = quality(0.5, false);
        let text = "word ".repeat(1_000);
        let image = Described { format: "jpeg", width: 10, height: 20, colors: &[], quality: &q, text: Some(&text) };
        let alt = compose(&image);
        assert!(alt.chars().count() <= MAX_ALT_TEXT_CHARS, "{}", alt.chars().count());
        assert!(alt.ends_with("word…”."), "{alt}");
    }
}
