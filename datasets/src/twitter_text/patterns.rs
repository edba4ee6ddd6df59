//! twitter-text's expressions, rewritten for the `regex` crate so that matching stays linear in the
//! text whatever a caller sends.
//!
//! The reference implementation runs backtracking expressions with look-ahead. `regex` has neither,
//! but it picks the same match a backtracking engine would (leftmost-first, greedy), so each
//! expression is the reference's own with its look-aheads rewritten:
//!
//! - a TLD must be followed by a character outside `[0-9a-zA-Z@+-]` or by the end. Everything that
//!   may follow a URL's domain (`:port`, `/path`, `?query`) starts with such a character, so the
//!   rule only bites when nothing follows. The expression therefore tries the optional parts first,
//!   then consumes one allowed character (group `next`, which is not part of the URL) or the end.
//!   Punycode TLDs have no such rule and get their own branch, at the same point of the
//!   alternation, so the order of preference is the reference's.
//! - a hashtag's boundary "a character that is not a hashtag character nor `&`" is a negated class;
//!   "not starting with U+FE0F or U+20E3" is a class difference; "at least one letter" is checked
//!   after the match (the tag is the maximal run of hashtag characters either way).

use std::sync::LazyLock;

use regex::Regex;

use super::tables::{COUNTRY_TLDS, GENERIC_TLDS, HASHTAG_CHARACTERS, HASHTAG_LETTERS};

/// Latin letters with accents, which URL paths and ASCII domains also accept.
const LATIN_ACCENTS: &str = r"\x{C0}-\x{D6}\x{D8}-\x{F6}\x{F8}-\x{FF}\x{100}-\x{24F}\x{253}\x{254}\x{256}\x{257}\x{259}\x{25B}\x{263}\x{268}\x{26F}\x{272}\x{289}\x{28B}\x{2BB}\x{300}-\x{36F}\x{1E00}-\x{1EFF}";
const PUNCTUATION: &str = r"!'#%&()*+,\\\-./:;<=>?@\[\]\^_{|}\~$";
const SPACES: &str =
    r"\x{09}-\x{0D}\x{20}\x{85}\x{A0}\x{1680}\x{180E}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}";
/// Characters that make a tweet invalid.
pub(super) const INVALID: &str = r"\x{FFFE}\x{FEFF}\x{FFFF}";
const DIRECTIONAL_MARKS: &str = r"\x{202A}-\x{202E}\x{61C}\x{200E}\x{200F}\x{2066}-\x{2069}";
const CYRILLIC: &str = r"\x{400}-\x{4FF}";

/// A domain label character: anything but punctuation, spaces, invalid characters and
/// directional marks.
fn domain_char() -> String {
    format!("[^{PUNCTUATION}{SPACES}{INVALID}{DIRECTIONAL_MARKS}]")
}

fn alternation(words: &[&str]) -> String {
    words.iter().map(|word| regex::escape(word)).collect::<Vec<_>>().join("|")
}

/// `:port`, `/path` and `?query`, at least one of them; `tag` keeps the path groups' names apart.
fn url_tail(tag: &str) -> String {
    let path_char = format!(r"[a-z{CYRILLIC}0-9!*';:=+,.$/%#\[\]\-\x{{2013}}_\~@|&{LATIN_ACCENTS}]");
    let balanced = format!(r"\((?:{path_char}+|(?:{path_char}*\({path_char}+\){path_char}*))\)");
    let path_end = format!(r"(?:[+\-a-z{CYRILLIC}0-9=_#/{LATIN_ACCENTS}]|(?:{balanced}))");
    let path_segment = format!(r"(?:(?:{path_char}*(?:{balanced}{path_char}*)*{path_end})|(?:@{path_char}+/))");
    let query = r"\?[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,\~|]*[a-z0-9\-_&=#/]";
    format!(
        r"(?::[0-9]+(?P<path_{tag}_a>/{path_segment}*)?(?:{query})?|(?P<path_{tag}_b>/{path_segment}*)(?:{query})?|{query})"
    )
}

/// The reference's `extractUrl`: groups `before`, `url` (which may run one character long, into
/// `next`), `protocol`, `tld_checked` or `tld_punycode`, and the `path_*` groups.
pub(super) static URL: LazyLock<Regex> = LazyLock::new(|| {
    let c = domain_char();
    let subdomain = format!(r"(?:(?:{c}(?:[_-]|{c})*)?{c}\.)");
    let domain_name = format!(r"(?:(?:{c}(?:-|{c})*)?{c}\.)");
    let tlds = format!("{}|{}", alternation(GENERIC_TLDS), alternation(COUNTRY_TLDS));
    let (checked_tail, punycode_tail) = (url_tail("checked"), url_tail("punycode"));
    let pattern = format!(
        r"(?i)(?P<before>[^A-Za-z0-9@＠$#＃{INVALID}]|[{DIRECTIONAL_MARKS}]|^)(?P<url>(?P<protocol>https?://)?{subdomain}*{domain_name}(?:(?P<tld_checked>{tlds})(?:{checked_tail}|(?P<next>[^0-9a-zA-Z@+\-])|$)|(?P<tld_punycode>xn--[\-0-9a-z]+){punycode_tail}?))"
    );
    Regex::new(&pattern).expect("the URL expression compiles")
});

/// The reference's `validAsciiDomain`, with the same TLD rule (group `next` consumed past it).
pub(super) static ASCII_DOMAIN: LazyLock<Regex> = LazyLock::new(|| {
    let tlds = format!("{}|{}", alternation(GENERIC_TLDS), alternation(COUNTRY_TLDS));
    let pattern = format!(
        r"(?i)(?:(?:[\-a-z0-9{LATIN_ACCENTS}]+)\.)+(?:(?:{tlds})(?:(?P<next>[^0-9a-zA-Z@+\-])|$)|xn--[\-0-9a-z]+)"
    );
    Regex::new(&pattern).expect("the ASCII domain expression compiles")
});

/// A t.co link, whose slug ends the URL.
pub(super) static TCO: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^https?://t\.co/([a-z0-9]+)(?:\?[a-z0-9!?*'@();:&=+$/%#\[\]\-_.,\~|]*[a-z0-9\-_&=#/])?")
        .expect("the t.co expression compiles")
});

/// The reference's `validHashtag`; group `tag` still needs a letter (see the module docs).
pub(super) static HASHTAG: LazyLock<Regex> = LazyLock::new(|| {
    let pattern = format!(
        r"(?:^|\x{{FE0E}}|\x{{FE0F}}|[^{HASHTAG_CHARACTERS}&])[#＃](?P<tag>[[{HASHTAG_CHARACTERS}]--[\x{{FE0F}}\x{{20E3}}]][{HASHTAG_CHARACTERS}]*)"
    );
    Regex::new(&pattern).expect("the hashtag expression compiles")
});

/// A hashtag letter (a tag needs one).
pub(super) static HASHTAG_LETTER: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!("[{HASHTAG_LETTERS}]")).expect("the letter class compiles"));

/// The reference's `validMentionOrList`.
pub(super) static MENTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|[^a-zA-Z0-9_!#$%&*@＠]|(?:^|[^a-zA-Z0-9_+~.\-])(?:rt|RT|rT|Rt):?)[@＠](?P<name>[a-zA-Z0-9_]{1,20})(?P<list>/[a-zA-Z][a-zA-Z0-9_\-]{0,24})?",
    )
    .expect("the mention expression compiles")
});

/// What may not directly follow a mention: another `@`, an accented Latin letter, or `://`.
pub(super) static AFTER_MENTION: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(&format!(r"^(?:[@＠]|[{LATIN_ACCENTS}]|://)")).expect("compiles"));

/// One emoji as X counts it: a flag, a keycap, or a ZWJ sequence of (modified, tagged) emoji.
pub(super) static EMOJI: LazyLock<Regex> = LazyLock::new(|| {
    let element = r"(?:\p{Emoji_Modifier_Base}\p{Emoji_Modifier}|[\p{Emoji}--[#*0-9]](?:\x{FE0F}\x{20E3}?|\x{20E3})?)(?:[\x{E0020}-\x{E007E}]+\x{E007F})?";
    let pattern =
        format!(r"\p{{Regional_Indicator}}{{2}}|[#*0-9]\x{{FE0F}}?\x{{20E3}}|{element}(?:\x{{200D}}{element})*");
    Regex::new(&pattern).expect("the emoji expression compiles")
});

/// Mastodon's mention, `@user` or `@user@domain` (only `@user` counts towards its length); the
/// character before it is part of the match, as a look-behind cannot be.
pub(super) static FEDIVERSE_MENTION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)(?:^|[^=/\w])(?P<user>@[a-z0-9_]+(?:[a-z0-9_.\-]+[a-z0-9_]+)?)(?P<domain>@[\w.\-]+\w)?")
        .expect("the fediverse mention expression compiles")
});
