//! What a platform would say about a post before it is sent: its length in the platform's own
//! unit, every rule it breaks, and the hashtags, mentions and links it holds.
//!
//! [`evaluate`] is a pure function of the rules and the post, so captions can fit a variant with
//! the same code that checks it.

use eiq_datasets::twitter_text::{
    self, Weights, X_WEIGHTS, extract_hashtags, extract_mentions, extract_urls, fediverse_countable,
};
use unicode_segmentation::UnicodeSegmentation;

use super::rules::{LengthUnit, MediaKind, PlatformRules};

/// A media item as the caller describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct MediaItem {
    pub kind: MediaKind,
    pub width: Option<u32>,
    pub height: Option<u32>,
    pub duration_s: Option<f64>,
    pub bytes: Option<u64>,
}

/// A length in a unit, against its limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Length {
    pub unit: LengthUnit,
    pub used: usize,
    pub limit: usize,
}

/// One broken rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Violation {
    /// `length`, `bytes`, `title_length`, `hashtags`, `hashtags_ignored`, `mentions`, `urls`,
    /// `invalid_characters`, `empty`, `media_required`, `media_count`, `media_type`, `media_mixed`,
    /// `media_aspect_ratio`, `media_duration`, `media_bytes`.
    pub rule: &'static str,
    pub message: String,
    pub limit: Option<f64>,
    pub actual: Option<f64>,
}

/// The verdict on one post.
#[derive(Debug, Clone, PartialEq)]
pub struct PostCheck {
    pub platform: String,
    pub length: Length,
    /// The title's length, when the post has a title.
    pub title: Option<Length>,
    pub valid: bool,
    pub violations: Vec<Violation>,
    pub hashtags: Vec<String>,
    pub mentions: Vec<String>,
    pub urls: Vec<String>,
}

/// The length of `text` in the platform's unit.
pub fn measure(rules: &PlatformRules, text: &str) -> usize {
    match (rules.unit, rules.url_length) {
        (LengthUnit::Weighted, url_length) => {
            twitter_text::weighted_length(text, &Weights { url_weight: url_length.unwrap_or(23), ..X_WEIGHTS })
        }
        (LengthUnit::Graphemes, Some(url_length)) => fediverse_countable(text, url_length).graphemes(true).count(),
        (LengthUnit::Graphemes, None) => text.graphemes(true).count(),
        (LengthUnit::Characters, Some(url_length)) => fediverse_countable(text, url_length).chars().count(),
        (LengthUnit::Characters, None) => text.chars().count(),
    }
}

/// Checks a post against a platform's rules.
pub fn evaluate(rules: &PlatformRules, text: &str, title: Option<&str>, media: &[MediaItem]) -> PostCheck {
    let mut check = evaluate_text(rules, text, title, media.is_empty());
    check_media(rules, media, &mut check.violations);
    check.valid = check.violations.is_empty();
    check
}

/// The text's rules only (length, bytes, caps, title), for a caption whose media come later;
/// `no_media` says whether an empty text breaks the `empty` rule.
pub fn evaluate_text(rules: &PlatformRules, text: &str, title: Option<&str>, no_media: bool) -> PostCheck {
    let mut violations = Vec::new();
    let name = &rules.name;
    let length = Length { unit: rules.unit, used: measure(rules, text), limit: rules.limit };
    if length.used > length.limit {
        violations.push(over(
            "length",
            format!("{name} allows {} {}", length.limit, rules.unit.as_str()),
            length.limit,
            length.used,
        ));
    }
    if let Some(max_bytes) = rules.max_bytes
        && text.len() > max_bytes
    {
        violations.push(over("bytes", format!("{name} allows {max_bytes} bytes of text"), max_bytes, text.len()));
    }
    if rules.unit == LengthUnit::Weighted && twitter_text::has_invalid_characters(text) {
        violations.push(Violation {
            rule: "invalid_characters",
            message: format!("{name} refuses U+FFFE, U+FEFF and U+FFFF"),
            limit: None,
            actual: None,
        });
    }
    if text.trim().is_empty() && no_media {
        violations.push(Violation {
            rule: "empty",
            message: "the post has no text and no media".into(),
            limit: None,
            actual: None,
        });
    }
    let title = title.map(|title| {
        let title_length =
            Length { unit: LengthUnit::Characters, used: title.chars().count(), limit: rules.title_limit.unwrap_or(0) };
        match rules.title_limit {
            Some(limit) if title_length.used > limit => violations.push(over(
                "title_length",
                format!("{name} allows titles of {limit} characters"),
                limit,
                title_length.used,
            )),
            Some(_) => {}
            None => violations.push(Violation {
                rule: "title_length",
                message: format!("{name} posts have no title"),
                limit: Some(0.0),
                actual: Some(title_length.used as f64),
            }),
        }
        title_length
    });

    let values = |entities: Vec<twitter_text::Entity>| entities.into_iter().map(|e| e.value).collect::<Vec<_>>();
    let (hashtags, mentions, urls) =
        (values(extract_hashtags(text)), values(extract_mentions(text)), values(extract_urls(text)));
    for (rule, cap, count, what) in [
        ("hashtags", rules.max_hashtags, hashtags.len(), "hashtags"),
        ("mentions", rules.max_mentions, mentions.len(), "mentions"),
        ("urls", rules.max_urls, urls.len(), "links"),
    ] {
        if let Some(cap) = cap
            && count > cap
        {
            violations.push(over(rule, format!("{name} allows {cap} {what} per post"), cap, count));
        }
    }
    if let Some(ignored_over) = rules.hashtags_ignored_over
        && hashtags.len() > ignored_over
    {
        violations.push(over(
            "hashtags_ignored",
            format!("{name} ignores every hashtag of a post with more than {ignored_over}"),
            ignored_over,
            hashtags.len(),
        ));
    }
    PostCheck {
        platform: rules.id.clone(),
        length,
        title,
        valid: violations.is_empty(),
        violations,
        hashtags,
        mentions,
        urls,
    }
}

fn over(rule: &'static str, message: String, limit: usize, actual: usize) -> Violation {
    Violation {
        rule,
        message: format!("{message}; this has {actual}"),
        limit: Some(limit as f64),
        actual: Some(actual as f64),
    }
}

fn check_media(rules: &PlatformRules, media: &[MediaItem], violations: &mut Vec<Violation>) {
    let name = &rules.name;
    let accepted = &rules.media;
    if media.len() < accepted.min_items {
        violations.push(Violation {
            rule: "media_required",
            message: format!("{name} posts need at least {} media item(s)", accepted.min_items),
            limit: Some(accepted.min_items as f64),
            actual: Some(media.len() as f64),
        });
    }
    if media.len() > accepted.max_items {
        violations.push(over(
            "media_count",
            format!("{name} allows {} media items", accepted.max_items),
            accepted.max_items,
            media.len(),
        ));
    }
    let kinds: std::collections::BTreeSet<MediaKind> = media.iter().map(|item| item.kind).collect();
    if !accepted.mixed && kinds.len() > 1 {
        violations.push(Violation {
            rule: "media_mixed",
            message: format!("{name} does not mix photos, videos and GIFs in one post"),
            limit: None,
            actual: None,
        });
    }
    for kind in kinds {
        let count = media.iter().filter(|item| item.kind == kind).count();
        match accepted.kind(kind) {
            None => violations.push(Violation {
                rule: "media_type",
                message: format!("{name} does not take {} items", kind.as_str()),
                limit: Some(0.0),
                actual: Some(count as f64),
            }),
            Some(limits) if count > limits.max_items => violations.push(over(
                "media_count",
                format!("{name} allows {} {} item(s) per post", limits.max_items, kind.as_str()),
                limits.max_items,
                count,
            )),
            Some(_) => {}
        }
    }
    for (index, item) in media.iter().enumerate() {
        let Some(limits) = accepted.kind(item.kind) else { continue };
        let which = format!("media[{index}] ({})", item.kind.as_str());
        if let (Some(width), Some(height)) = (item.width, item.height) {
            let ratio = f64::from(width) / f64::from(height);
            let (low, high) =
                (limits.min_aspect_ratio.unwrap_or(0.0), limits.max_aspect_ratio.unwrap_or(f64::INFINITY));
            if ratio < low || ratio > high {
                let limit = if ratio < low { low } else { high };
                violations.push(Violation {
                    rule: "media_aspect_ratio",
                    message: format!("{which}: {name} takes aspect ratios (width/height) from {low:.3} to {high:.3}; this is {ratio:.3}"),
                    limit: Some(limit),
                    actual: Some(ratio),
                });
            }
        }
        if let Some(duration) = item.duration_s {
            let (low, high) = (limits.min_duration_s.unwrap_or(0.0), limits.max_duration_s.unwrap_or(f64::INFINITY));
            if duration < low || duration > high {
                let limit = if duration < low { low } else { high };
                violations.push(Violation {
                    rule: "media_duration",
                    message: format!("{which}: {name} takes {low}–{high} seconds; this is {duration} s"),
                    limit: Some(limit),
                    actual: Some(duration),
                });
            }
        }
        if let (Some(bytes), Some(max_bytes)) = (item.bytes, limits.max_bytes)
            && bytes > max_bytes
        {
            violations.push(Violation {
                rule: "media_bytes",
                message: format!("{which}: {name} takes at most {max_bytes} bytes; this has {bytes}"),
                limit: Some(max_bytes as f64),
                actual: Some(bytes as f64),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::posts::rules::find;

    fn photo(width: u32, height: u32) -> MediaItem {
        MediaItem {
            kind: MediaKind::Photo,
            width: Some(width),
            height: Some(height),
            duration_s: None,
            bytes: Some(1_000),
        }
    }

    fn rules_broken(platform: &str, text: &str, title: Option<&str>, media: &[MediaItem]) -> Vec<&'static str> {
        evaluate(find("platform", platform).unwrap(), text, title, media).violations.iter().map(|v| v.rule).collect()
    }

    #[test]
    fn each_platform_counts_in_its_own_unit() {
        let url = "https://example.com/a/very/long/path/that/is/far/longer/than/twenty/three";
        let x = evaluate(find("p", "x").unwrap(), &format!("Launch day 🚀 {url}"), None, &[]);
        assert_eq!((x.length.unit, x.length.used, x.length.limit), (LengthUnit::Weighted, 11 + 2 + 1 + 23, 280));
        let family = "👨‍👩‍👧‍👦";
        let bluesky = evaluate(find("p", "bluesky").unwrap(), &family.repeat(300), None, &[]);
        assert_eq!(bluesky.length.used, 300);
        // 300 graphemes, but 25 bytes each: over Bluesky's 3,000 bytes.
        assert_eq!(rules_broken("bluesky", &family.repeat(300), None, &[]), ["bytes"]);
        let mastodon = evaluate(find("p", "mastodon").unwrap(), &format!("hi @ann@example.social {url}"), None, &[]);
        assert_eq!(mastodon.length.used, "hi @ann ".len() + 23);
        assert_eq!(rules_broken("x", &"é".repeat(281), None, &[]), ["length"]);
        assert!(rules_broken("x", &"日".repeat(140), None, &[]).is_empty());
        assert_eq!(rules_broken("x", &"日".repeat(141), None, &[]), ["length"]);
    }

    #[test]
    fn caps_media_and_titles_are_rules_too() {
        let tags = (0..6).map(|i| format!("#tag{i}")).collect::<Vec<_>>().join(" ");
        assert_eq!(rules_broken("instagram", &tags, None, &[photo(1080, 1080)]), ["hashtags"]);
        assert_eq!(rules_broken("instagram", "no media", None, &[]), ["media_required"]);
        assert_eq!(rules_broken("instagram", "tall", None, &[photo(1080, 1920)]), ["media_aspect_ratio"]);
        let sixteen = (0..16).map(|i| format!("#t{i}a")).collect::<Vec<_>>().join(" ");
        let video =
            MediaItem { kind: MediaKind::Video, width: None, height: None, duration_s: Some(60.0), bytes: None };
        assert_eq!(
            rules_broken("youtube", &sixteen, Some("Title"), std::slice::from_ref(&video)),
            ["hashtags_ignored"]
        );
        assert_eq!(
            rules_broken("youtube", "d", Some(&"t".repeat(101)), std::slice::from_ref(&video)),
            ["title_length"]
        );
        assert_eq!(rules_broken("x", "two kinds", None, &[photo(10, 10), video.clone()]), ["media_mixed"]);
        assert_eq!(
            rules_broken(
                "x",
                "five",
                None,
                &[photo(10, 10), photo(10, 10), photo(10, 10), photo(10, 10), photo(10, 10)]
            ),
            ["media_count", "media_count"]
        );
        assert_eq!(rules_broken("bluesky", "", None, &[]), ["empty"]);
        assert!(rules_broken("x", "", None, &[photo(10, 10)]).is_empty());
        assert_eq!(rules_broken("linkedin", "t", Some("title"), &[]), ["title_length"]);
    }
}
