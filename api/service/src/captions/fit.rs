//! Making any text fit a platform, by code rather than by hope.
//!
//! Whatever the model writes (or, without a model, the draft itself) goes through [`fit`]: links
//! and mentions the draft does not have are removed, the draft's own are put back verbatim if
//! the model dropped or re-cased them, hashtags are capped, and a text over the limit is cut at
//! the last sentence end that fits (else the last word), never inside a grapheme, with the
//! draft's links and mentions kept. The result is checked with the text rules that
//! `POST /v1/posts:check` applies (`evaluate_text`), so a variant returned as valid is valid;
//! media rules (Instagram needs a photo) are the post's, not the caption's.

use eiq_datasets::twitter_text::{extract_hashtags, extract_mentions, extract_urls};
use unicode_segmentation::UnicodeSegmentation;

use crate::posts::{PlatformRules, PostCheck, evaluate_text, measure};

/// What of the draft every variant must keep.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Keep {
    /// URLs, verbatim.
    pub urls: Vec<String>,
    /// Screen names (without `@`), with the draft's spelling.
    pub mentions: Vec<String>,
}

impl Keep {
    pub fn of(draft: &str) -> Self {
        let mut keep = Keep::default();
        for url in extract_urls(draft) {
            if !keep.urls.contains(&url.value) {
                keep.urls.push(url.value);
            }
        }
        for mention in extract_mentions(draft) {
            if !keep.mentions.iter().any(|m| m.eq_ignore_ascii_case(&mention.value)) {
                keep.mentions.push(mention.value);
            }
        }
        keep
    }
}

/// The fitted text and the platform's verdict on it.
#[derive(Debug, Clone)]
pub struct Fitted {
    pub text: String,
    pub check: PostCheck,
    /// The text had to be cut to fit.
    pub trimmed: bool,
}

/// Fits `candidate` to `rules`: keeps `keep`, adds no other link or mention, keeps at most
/// `max_hashtags` hashtags (and the platform's cap), and cuts to the length limit.
pub fn fit(rules: &PlatformRules, keep: &Keep, candidate: &str, max_hashtags: Option<usize>) -> Fitted {
    let mut text = tidy(candidate);
    text = remove_foreign_entities(&text, keep);
    let cap = match (rules.max_hashtags, max_hashtags) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    if let Some(cap) = cap {
        text = cap_hashtags(&text, cap);
    }
    let missing = missing_entities(&text, keep);
    if !missing.is_empty() {
        text = format!("{} {}", text.trim_end(), missing.join(" ")).trim().to_string();
    }
    let (text, trimmed) = cut_to_fit(rules, &text, keep);
    let check = evaluate_text(rules, &text, None, false);
    Fitted { text, check, trimmed }
}

/// Collapses runs of blank lines and spaces at the ends, and unwraps a caption the model quoted.
fn tidy(text: &str) -> String {
    let mut text = text.trim();
    for (open, close) in [('"', '"'), ('“', '”'), ('\'', '\'')] {
        if text.len() > 2 && text.starts_with(open) && text.ends_with(close) && text.matches(open).count() <= 2 {
            text = text[open.len_utf8()..text.len() - close.len_utf8()].trim();
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut blank_lines = 0;
    for line in text.lines() {
        if line.trim().is_empty() {
            blank_lines += 1;
            continue;
        }
        if !out.is_empty() {
            out.push_str(if blank_lines > 0 { "\n\n" } else { "\n" });
        }
        blank_lines = 0;
        out.push_str(line.trim_end());
    }
    out
}

/// Removes links and mentions the draft lacks; re-spells the draft's own mentions as it does.
fn remove_foreign_entities(text: &str, keep: &Keep) -> String {
    let mut edits: Vec<(usize, usize, String)> = Vec::new();
    for url in extract_urls(text) {
        if !keep.urls.contains(&url.value) {
            edits.push((url.start, url.end, String::new()));
        }
    }
    for mention in extract_mentions(text) {
        match keep.mentions.iter().find(|m| m.eq_ignore_ascii_case(&mention.value)) {
            Some(own) if *own != mention.value => edits.push((mention.start, mention.end, format!("@{own}"))),
            Some(_) => {}
            None => edits.push((mention.start, mention.end, String::new())),
        }
    }
    apply(text, edits)
}

/// Drops hashtags past the first `cap`.
fn cap_hashtags(text: &str, cap: usize) -> String {
    let edits = extract_hashtags(text).into_iter().skip(cap).map(|tag| (tag.start, tag.end, String::new())).collect();
    apply(text, edits)
}

/// The draft's links and mentions the text does not hold, as they must be appended.
fn missing_entities(text: &str, keep: &Keep) -> Vec<String> {
    let urls: Vec<String> = extract_urls(text).into_iter().map(|u| u.value).collect();
    let mentions: Vec<String> = extract_mentions(text).into_iter().map(|m| m.value).collect();
    let missing_urls = keep.urls.iter().filter(|u| !urls.contains(u)).cloned();
    let missing_mentions = keep.mentions.iter().filter(|m| !mentions.contains(m)).map(|m| format!("@{m}"));
    missing_mentions.chain(missing_urls).collect()
}

/// Applies non-overlapping replacements, then tidies the spaces removals leave behind.
fn apply(text: &str, mut edits: Vec<(usize, usize, String)>) -> String {
    if edits.is_empty() {
        return text.to_string();
    }
    edits.sort_by_key(|&(start, _, _)| start);
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for (start, end, replacement) in edits {
        if start < at {
            continue;
        }
        out.push_str(&text[at..start]);
        out.push_str(&replacement);
        at = end;
    }
    out.push_str(&text[at..]);
    let lines: Vec<String> = out.lines().map(|line| line.split_whitespace().collect::<Vec<_>>().join(" ")).collect();
    tidy(&lines.join("\n"))
}

fn fits(rules: &PlatformRules, text: &str) -> bool {
    measure(rules, text) <= rules.limit && rules.max_bytes.is_none_or(|max| text.len() <= max)
}

/// Cuts `text` to the limit: the longest run of its words that fits, ending at a sentence end
/// if one fits that keeps most of it, with the protected words (the draft's links and mentions)
/// always kept. Whitespace-separated words never split a grapheme; a single word longer than
/// the limit is cut at a grapheme boundary.
fn cut_to_fit(rules: &PlatformRules, text: &str, keep: &Keep) -> (String, bool) {
    if fits(rules, text) {
        return (text.to_string(), false);
    }
    let words: Vec<&str> = text.split_whitespace().collect();
    let protected: Vec<bool> = words
        .iter()
        .map(|word| {
            keep.urls.iter().any(|url| word.contains(url.as_str()))
                || keep.mentions.iter().any(|m| word.contains(&format!("@{m}")))
        })
        .collect();
    let build = |kept_free: usize, ellipsis: bool| {
        let mut out: Vec<&str> = Vec::new();
        let mut free = 0;
        for (word, &is_protected) in words.iter().zip(&protected) {
            if is_protected {
                out.push(word);
            } else if free < kept_free {
                out.push(word);
                free += 1;
            }
        }
        let mut joined = out.join(" ");
        if ellipsis {
            joined.push('…');
        }
        joined
    };
    let free_words = protected.iter().filter(|p| !**p).count();
    // The most free words that fit (fewer words are never longer).
    let (mut low, mut high) = (0, free_words);
    while low < high {
        let middle = (low + high).div_ceil(2);
        if fits(rules, &build(middle, false)) { low = middle } else { high = middle - 1 }
    }
    let best = low;
    let free_ends: Vec<bool> = words
        .iter()
        .zip(&protected)
        .filter(|(_, p)| !**p)
        .map(|(word, _)| word.ends_with(['.', '!', '?', '…']))
        .collect();
    let sentence_end = (1..=best).rev().find(|&n| free_ends[n - 1]).filter(|&n| n * 3 >= best * 2);
    if let Some(n) = sentence_end {
        return (build(n, false), true);
    }
    if best > 0 && fits(rules, &build(best, true)) {
        return (build(best, true), true);
    }
    if best > 0 || protected.iter().any(|p| *p) {
        return (build(best, false), true);
    }
    // One word longer than the limit: its longest prefix of whole graphemes that fits.
    let first = words.first().copied().unwrap_or_default();
    let ends: Vec<usize> = first.grapheme_indices(true).map(|(at, g)| at + g.len()).collect();
    let (mut low, mut high) = (0, ends.len());
    while low < high {
        let middle = (low + high).div_ceil(2);
        if fits(rules, &first[..ends[middle - 1]]) { low = middle } else { high = middle - 1 }
    }
    (first[..low.checked_sub(1).map_or(0, |i| ends[i])].to_string(), true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posts::find;

    fn rules(platform: &str) -> PlatformRules {
        find("platform", platform).unwrap().clone()
    }

    #[test]
    fn links_and_mentions_are_the_drafts_exactly() {
        let draft = "Our launch: https://example.com/launch?ref=a with @AcmeCo";
        let keep = Keep::of(draft);
        let model = "\"Big day! See https://spam.example.net and @someone else, thanks @acmeco #Launch\"";
        let fitted = fit(&rules("x"), &keep, model, None);
        assert_eq!(fitted.text, "Big day! See and else, thanks @AcmeCo #Launch https://example.com/launch?ref=a");
        assert!(fitted.check.valid && !fitted.trimmed);
    }

    #[test]
    fn long_texts_are_cut_at_a_sentence_then_a_word_and_never_inside_a_grapheme() {
        let keep = Keep::of("see https://example.com/x @ann");
        let sentences = "This is a sentence that runs on for a while. ".repeat(10) + "https://example.com/x @ann";
        let fitted = fit(&rules("x"), &keep, &sentences, None);
        assert!(fitted.trimmed && fitted.check.valid, "{fitted:?}");
        assert!(
            fitted.text.starts_with("This is") && fitted.text.ends_with("while. https://example.com/x @ann"),
            "{}",
            fitted.text
        );

        let one_word = "👨‍👩‍👧‍👦".repeat(400);
        let fitted = fit(&rules("bluesky"), &Keep::default(), &one_word, None);
        assert_eq!(fitted.text.graphemes(true).count(), 120, "3,000 bytes of 25-byte graphemes");
        assert!(fitted.text.graphemes(true).all(|g| g == "👨‍👩‍👧‍👦") && fitted.check.valid);
    }

    #[test]
    fn hashtags_are_capped_by_the_platform_and_the_request() {
        let tags = "New drop #one #two #three #four #five #six #seven";
        assert_eq!(fit(&rules("instagram"), &Keep::default(), tags, None).check.hashtags.len(), 5);
        assert_eq!(fit(&rules("instagram"), &Keep::default(), tags, Some(2)).text, "New drop #one #two");
        assert_eq!(fit(&rules("threads"), &Keep::default(), tags, None).check.hashtags, ["one"]);
    }
}
