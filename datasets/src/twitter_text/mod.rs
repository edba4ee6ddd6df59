//! X's own rules for what a post contains and how long it is: hashtags, mentions and URLs as
//! twitter-text extracts them, and the weighted length X enforces.
//!
//! Counting is where scheduling tools fail most often, so this follows the reference
//! implementation (twitter-text 3.1.0, the version X's conformance suite describes) expression for
//! expression, and `datasets/tests/twitter_text.rs` runs the reference itself on the same texts.
//! Two things differ on purpose:
//!
//! - matching is linear in the text: the reference's backtracking expressions are rewritten for
//!   the `regex` crate (see `patterns.rs`), so a hostile text cannot stall a worker;
//! - an emoji sequence (ZWJ, skin tone, flag, keycap, tag sequence) counts 2 however it is built,
//!   as X counts today, where the reference only knows the sequences of Twemoji 11 (2018) and
//!   counts a newer one (`🧑‍🤝‍🧑`) piece by piece.
//!
//! Offsets are byte offsets into the text given (for the weighted length, into its NFC form).

mod patterns;
mod tables;

use unicode_normalization::UnicodeNormalization;

use patterns::{AFTER_MENTION, ASCII_DOMAIN, EMOJI, FEDIVERSE_MENTION, HASHTAG, HASHTAG_LETTER, MENTION, TCO, URL};

/// A hashtag (without its `#`), a mention (without its `@`) or a URL, and where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entity {
    pub value: String,
    pub start: usize,
    pub end: usize,
}

/// Compiles the expressions now (about 40 ms), so that the first post checked does not wait.
pub fn warm_up() {
    for expression in
        [&URL, &ASCII_DOMAIN, &TCO, &HASHTAG, &HASHTAG_LETTER, &MENTION, &AFTER_MENTION, &EMOJI, &FEDIVERSE_MENTION]
    {
        std::sync::LazyLock::force(expression);
    }
}

/// The longest URL twitter-text accepts, protocol included, in UTF-16 units.
const MAX_URL_LENGTH: usize = 4096;
/// The longest t.co slug.
const MAX_TCO_SLUG_LENGTH: usize = 40;
/// The longest DNS label, once punycoded.
const MAX_LABEL_LENGTH: usize = 63;

/// Every URL, with or without a protocol (`example.com/x`), as twitter-text's `extractUrls`.
pub fn extract_urls(text: &str) -> Vec<Entity> {
    extract_urls_with(text, true)
}

/// Only URLs that start with `http://` or `https://` (Mastodon links only those).
pub fn extract_urls_with_protocol(text: &str) -> Vec<Entity> {
    extract_urls_with(text, false)
}

fn extract_urls_with(original: &str, without_protocol: bool) -> Vec<Entity> {
    let shape = Utf16Shape::of(original);
    let text = shape.text.as_ref();
    let worth_scanning = if without_protocol { text.contains('.') } else { text.contains(':') };
    let mut urls = Vec::new();
    let mut from = 0;
    while worth_scanning && from <= text.len() {
        let Some(found) = URL.captures_at(text, from) else { break };
        let url_match = found.name("url").expect("the URL group always takes part");
        let start = url_match.start();
        let mut end = found.name("next").map_or(url_match.end(), |next| next.start());
        from = end;
        let protocol = found.name("protocol");
        let tld = found.name("tld_checked").or_else(|| found.name("tld_punycode")).expect("one TLD branch matched");
        let domain_start = protocol.map_or(start, |protocol| protocol.end());
        let domain = &text[domain_start..tld.end()];
        let url = &text[start..end];
        if !within_length(url, protocol.map_or("https://".len(), |protocol| protocol.len()), domain) {
            continue;
        }
        if protocol.is_none() {
            let before = found.name("before").map_or("", |before| before.as_str());
            if !without_protocol || before.ends_with(['-', '_', '.', '/']) {
                continue;
            }
            // Only ASCII domains count without a protocol; one match may hold several.
            let first_new = urls.len();
            let mut at = 0;
            while at < domain.len() {
                let Some(ascii) = ASCII_DOMAIN.captures_at(domain, at) else { break };
                let whole = ascii.get(0).expect("group 0 always takes part");
                let ascii_end = ascii.name("next").map_or(whole.end(), |next| next.start());
                urls.push(Entity {
                    value: domain[whole.start()..ascii_end].to_string(),
                    start: shape.original_offset(domain_start + whole.start()),
                    end: shape.original_offset(domain_start + ascii_end),
                });
                at = ascii_end.max(whole.start() + 1);
            }
            let path = ["path_checked_a", "path_checked_b", "path_punycode_a", "path_punycode_b"]
                .iter()
                .any(|group| found.name(group).is_some());
            if let Some(last) = urls[first_new..].last_mut()
                && path
            {
                last.value = url.replacen(domain, &last.value, 1);
                last.end = shape.original_offset(end);
            }
        } else {
            if let Some(tco) = TCO.captures(url) {
                if tco[1].len() > MAX_TCO_SLUG_LENGTH {
                    continue;
                }
                end = start + tco.get(0).expect("group 0 always takes part").len();
            }
            let (start, end) = (shape.original_offset(start), shape.original_offset(end));
            urls.push(Entity { value: original[start..end].to_string(), start, end });
        }
    }
    urls
}

/// The text as the reference's expressions see it: they run on UTF-16 code units, so an emoji's
/// two halves can fall on either side of a URL's start (`x👍.example.com` links `example.com`).
/// Each astral character becomes two private-use stand-ins that belong to the same classes as
/// its halves (a domain character; not a letter, digit or path character).
struct Utf16Shape<'a> {
    text: std::borrow::Cow<'a, str>,
    /// Where each stand-in pair starts, in `text`.
    pairs: Vec<usize>,
}

impl<'a> Utf16Shape<'a> {
    const HIGH: char = '\u{E000}';
    const LOW: char = '\u{E001}';
    /// Bytes the stand-ins add per astral character (6 for 4).
    const GROWTH: usize = 2;

    fn of(text: &'a str) -> Self {
        if text.chars().all(|c| c.len_utf16() == 1) {
            return Self { text: text.into(), pairs: Vec::new() };
        }
        let mut shaped = String::with_capacity(text.len() + text.len() / 2);
        let mut pairs = Vec::new();
        for c in text.chars() {
            if c.len_utf16() == 2 {
                pairs.push(shaped.len());
                shaped.extend([Self::HIGH, Self::LOW]);
            } else {
                shaped.push(c);
            }
        }
        Self { text: shaped.into(), pairs }
    }

    /// The offset in the original text of an offset in the shaped one (inside a pair: after its
    /// character).
    fn original_offset(&self, shaped: usize) -> usize {
        let before = self.pairs.partition_point(|&pair| pair < shaped);
        match before.checked_sub(1).map(|last| self.pairs[last]) {
            Some(pair) if shaped < pair + Self::HIGH.len_utf8() + Self::LOW.len_utf8() => {
                pair - Self::GROWTH * (before - 1) + 4
            }
            _ => shaped - Self::GROWTH * before,
        }
    }
}

/// twitter-text's `isValidUrl`: every label punycodes to 1–63 characters, and the URL with its
/// protocol fits in [`MAX_URL_LENGTH`].
fn within_length(url: &str, protocol_length: usize, domain: &str) -> bool {
    if domain.starts_with("xn--") && !ASCII_DOMAIN.is_match(domain) {
        return false;
    }
    let labels_fit = domain.split('.').all(|label| {
        // punycode.toASCII: the other full stops also separate labels; non-printable-ASCII parts
        // are encoded.
        let mut length = 0;
        for (i, part) in label.split(['\u{3002}', '\u{FF0E}', '\u{FF61}']).enumerate() {
            length += usize::from(i > 0);
            length += if part.chars().all(|c| (' '..='~').contains(&c)) {
                part.len()
            } else {
                match idna::punycode::encode_str(part) {
                    Some(encoded) => "xn--".len() + encoded.len(),
                    None => return false,
                }
            };
        }
        (1..=MAX_LABEL_LENGTH).contains(&length)
    });
    labels_fit && protocol_length + url.encode_utf16().count() <= MAX_URL_LENGTH
}

/// Hashtags, except those inside a URL, as twitter-text's `extractHashtags`.
pub fn extract_hashtags(text: &str) -> Vec<Entity> {
    if !text.contains(['#', '＃']) {
        return Vec::new();
    }
    let mut tags = Vec::new();
    let mut from = 0;
    while from <= text.len() {
        let Some(found) = HASHTAG.captures_at(text, from) else { break };
        let whole = found.get(0).expect("group 0 always takes part");
        let tag = found.name("tag").expect("the tag group always takes part");
        if !HASHTAG_LETTER.is_match(tag.as_str()) {
            // No letter in the longest run: nothing starts here; look again one character on.
            from = whole.start() + text[whole.start()..].chars().next().map_or(1, char::len_utf8);
            continue;
        }
        from = whole.end();
        let after = &text[tag.end()..];
        if after.starts_with(['#', '＃']) || after.starts_with("://") {
            continue;
        }
        let hash_start = tag.start() - text[..tag.start()].chars().next_back().map_or(1, char::len_utf8);
        tags.push(Entity { value: tag.as_str().to_string(), start: hash_start, end: tag.end() });
    }
    let urls = extract_urls(text);
    if urls.is_empty() {
        return tags;
    }
    remove_overlaps(tags, urls)
}

/// twitter-text's `removeOverlappingEntities` over hashtags and URLs, keeping the hashtags: in
/// order of start, an entity that starts before the previous kept one ends is dropped.
fn remove_overlaps(tags: Vec<Entity>, urls: Vec<Entity>) -> Vec<Entity> {
    let mut all: Vec<(Entity, bool)> =
        tags.into_iter().map(|tag| (tag, true)).chain(urls.into_iter().map(|url| (url, false))).collect();
    all.sort_by_key(|(entity, _)| entity.start);
    let mut kept = Vec::new();
    let mut previous_end = None;
    for (entity, is_tag) in all {
        if previous_end.is_some_and(|end| end > entity.start) {
            continue;
        }
        previous_end = Some(entity.end);
        if is_tag {
            kept.push(entity);
        }
    }
    kept
}

/// Mentioned screen names (not lists), as twitter-text's `extractMentions`.
pub fn extract_mentions(text: &str) -> Vec<Entity> {
    if !text.contains(['@', '＠']) {
        return Vec::new();
    }
    MENTION
        .captures_iter(text)
        .filter(|found| {
            let end = found.get(0).expect("group 0 always takes part").end();
            found.name("list").is_none() && !AFTER_MENTION.is_match(&text[end..])
        })
        .map(|found| {
            let name = found.name("name").expect("the name group always takes part");
            let at_start = name.start() - text[..name.start()].chars().next_back().map_or(1, char::len_utf8);
            Entity { value: name.as_str().to_string(), start: at_start, end: name.end() }
        })
        .collect()
}

/// Whether the text holds a character X refuses (U+FFFE, U+FEFF, U+FFFF).
pub fn has_invalid_characters(text: &str) -> bool {
    text.contains(['\u{FFFE}', '\u{FEFF}', '\u{FFFF}'])
}

/// X's weighting (twitter-text's v3 configuration): characters in these ranges weigh 1, all
/// others 2; an emoji sequence 2; a URL 23.
pub struct Weights {
    /// Inclusive code point ranges that weigh 1.
    pub light_ranges: &'static [(u32, u32)],
    pub url_weight: usize,
    pub emoji_weight: usize,
    pub default_weight: usize,
}

/// twitter-text's v3 configuration (Latin, general punctuation: 1; the rest: 2; URLs: 23).
pub const X_WEIGHTS: Weights = Weights {
    light_ranges: &[(0, 4351), (8192, 8205), (8208, 8223), (8242, 8247)],
    url_weight: 23,
    emoji_weight: 2,
    default_weight: 2,
};

/// Emoji of more than one code point (ZWJ sequences, skin tones, flags, keycaps, tag sequences),
/// each of which X counts as one emoji.
pub fn emoji_sequences(text: &str) -> impl Iterator<Item = Entity> + '_ {
    EMOJI.find_iter(text).filter(|found| found.as_str().chars().nth(1).is_some()).map(|found| Entity {
        value: found.as_str().to_string(),
        start: found.start(),
        end: found.end(),
    })
}

/// The weighted length of a post as X counts it, after NFC normalisation.
pub fn weighted_length(text: &str, weights: &Weights) -> usize {
    let normalized: String = text.nfc().collect();
    let urls = extract_urls(&normalized);
    let emoji: Vec<Entity> = emoji_sequences(&normalized).collect();
    let (mut url, mut emoji) = (urls.iter().peekable(), emoji.iter().peekable());
    let mut length = 0;
    let mut at = 0;
    while let Some(c) = normalized[at..].chars().next() {
        // Entities that started inside the one just counted are skipped, as the reference does.
        while url.next_if(|entity| entity.start < at).is_some() {}
        while emoji.next_if(|entity| entity.start < at).is_some() {}
        if let Some(found) = url.next_if(|entity| entity.start == at) {
            // The reference skips as many UTF-16 units as the URL's value has, which is shorter
            // than its span when a link without a protocol drops part of its domain.
            length += weights.url_weight;
            let mut units = found.value.encode_utf16().count();
            for c in normalized[at..].chars() {
                if units == 0 {
                    break;
                }
                if units < c.len_utf16() {
                    // Half of an astral character is left, and counted on its own.
                    length += weights.default_weight;
                }
                units = units.saturating_sub(c.len_utf16());
                at += c.len_utf8();
            }
        } else if let Some(found) = emoji.next_if(|entity| entity.start == at) {
            length += weights.emoji_weight;
            at = found.end;
        } else {
            let light = weights.light_ranges.iter().any(|&(low, high)| (low..=high).contains(&u32::from(c)));
            length += if light { 1 } else { weights.default_weight };
            at += c.len_utf8();
        }
    }
    length
}

/// The text Mastodon counts: each URL with a protocol as `url_length` characters, and a remote
/// mention (`@user@example.social`) as its local part.
pub fn fediverse_countable(text: &str, url_length: usize) -> String {
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    for url in extract_urls_with_protocol(text) {
        out.push_str(&strip_mention_domains(&text[copied..url.start]));
        out.extend(std::iter::repeat_n('x', url_length));
        copied = url.end;
    }
    out.push_str(&strip_mention_domains(&text[copied..]));
    out
}

fn strip_mention_domains(text: &str) -> std::borrow::Cow<'_, str> {
    FEDIVERSE_MENTION.replace_all(text, |found: &regex::Captures| {
        let whole = found.get(0).expect("group 0 always takes part");
        let domain_start = found.name("domain").map_or(whole.end(), |domain| domain.start());
        text[whole.start()..domain_start].to_string()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(entities: Vec<Entity>) -> Vec<String> {
        entities.into_iter().map(|entity| entity.value).collect()
    }

    #[test]
    fn the_reference_cases_hold() {
        let text = "Hello 👨‍👩‍👧‍👦 world https://example.com/a?b=1 #tag @user";
        assert_eq!(values(extract_urls(text)), ["https://example.com/a?b=1"]);
        assert_eq!(values(extract_hashtags(text)), ["tag"]);
        assert_eq!(values(extract_mentions(text)), ["user"]);
        assert_eq!(weighted_length(text, &X_WEIGHTS), 49);
        assert_eq!(values(extract_urls("google.comx x.co nö.de x.xn--p1ai")), ["x.co", "nö.de", "x.xn--p1ai"]);
        assert_eq!(values(extract_urls("see http://t.co/abc123/extra")), ["http://t.co/abc123"]);
        let split = "x👍.example.com/p 😀";
        assert_eq!(extract_urls(split), [Entity { value: "example.com/p".into(), start: 6, end: 19 }]);
        assert_eq!(values(extract_hashtags("#123 #a1 x#no ##yes #http://x.com")), ["a1", "yes"]);
        assert_eq!(values(extract_mentions("@a/list RT@b x@c @d@e")), ["b"]);
        assert_eq!(
            fediverse_countable("hi @ann@example.social see https://example.com/long/path", 23),
            "hi @ann see xxxxxxxxxxxxxxxxxxxxxxx"
        );
        for (text, length) in [("©", 1), ("©️", 2), ("1⃣", 2), ("🌍🏽", 4), ("👍🏽", 2), ("日本語", 6), ("", 0)]
        {
            assert_eq!(weighted_length(text, &X_WEIGHTS), length, "{text:?}");
        }
    }

    #[test]
    fn hostile_texts_stay_linear() {
        for text in [
            ".".repeat(200_000),
            "a".repeat(200_000),
            "http://a.".repeat(20_000),
            "#a#".repeat(60_000),
            "http://x.com/(".repeat(15_000),
            "@a.b-c_".repeat(30_000),
            "a-".repeat(100_000) + ".com",
            "#1".repeat(100_000),
        ] {
            let started = std::time::Instant::now();
            weighted_length(&text, &X_WEIGHTS);
            extract_hashtags(&text);
            extract_mentions(&text);
            let took = started.elapsed();
            assert!(took < std::time::Duration::from_secs(3), "{} bytes took {took:?}", text.len());
        }
    }
}
