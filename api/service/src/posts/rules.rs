//! Each platform's post rules as data (`platforms.toml`, compiled in), and a tenant's overrides of
//! their numbers.
//!
//! The table is data rather than code because platforms change their numbers (Instagram's hashtag
//! cap went from 30 to 5 in December 2025) and instances differ (a Mastodon server may allow 5,000
//! characters): a tenant overrides a number with `PUT /v1/platforms/{platform}` and every check
//! and caption after that uses it.

use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use crate::error::ServiceError;
use crate::limits::excerpt;

/// How a platform counts a post's length.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LengthUnit {
    /// X's weighted length (twitter-text): most Latin characters 1, others 2, a URL `url_length`.
    Weighted,
    /// What a reader sees as one character (extended grapheme clusters).
    Graphemes,
    /// Unicode scalar values.
    Characters,
}

impl LengthUnit {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Weighted => "weighted",
            Self::Graphemes => "graphemes",
            Self::Characters => "characters",
        }
    }
}

/// One platform's rules.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PlatformRules {
    pub id: String,
    pub name: String,
    pub unit: LengthUnit,
    /// The most a post's text may count, in `unit`.
    pub limit: usize,
    /// What each link counts (X: every URL; Mastodon: links with a protocol, and a remote
    /// mention counts only its local part).
    #[serde(default)]
    pub url_length: Option<usize>,
    /// The most UTF-8 bytes of text (Bluesky).
    #[serde(default)]
    pub max_bytes: Option<usize>,
    /// The most characters of a title, where the platform has one.
    #[serde(default)]
    pub title_limit: Option<usize>,
    #[serde(default)]
    pub max_hashtags: Option<usize>,
    #[serde(default)]
    pub max_mentions: Option<usize>,
    #[serde(default)]
    pub max_urls: Option<usize>,
    /// Past this many hashtags the platform ignores them all (YouTube).
    #[serde(default)]
    pub hashtags_ignored_over: Option<usize>,
    pub source: String,
    pub as_of: String,
    pub media: MediaRules,
}

/// What media a post may carry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaRules {
    /// Posts on this platform need at least this many items (Instagram, TikTok, YouTube).
    #[serde(default)]
    pub min_items: usize,
    pub max_items: usize,
    /// Whether photos, videos and GIFs may share a post.
    pub mixed: bool,
    pub source: String,
    pub as_of: String,
    /// Absent: the platform does not take that kind.
    #[serde(default)]
    pub photo: Option<MediaKindRules>,
    #[serde(default)]
    pub video: Option<MediaKindRules>,
    #[serde(default)]
    pub gif: Option<MediaKindRules>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MediaKindRules {
    pub max_items: usize,
    #[serde(default)]
    pub max_bytes: Option<u64>,
    #[serde(default)]
    pub min_duration_s: Option<f64>,
    #[serde(default)]
    pub max_duration_s: Option<f64>,
    /// Width over height.
    #[serde(default)]
    pub min_aspect_ratio: Option<f64>,
    #[serde(default)]
    pub max_aspect_ratio: Option<f64>,
}

impl MediaRules {
    /// The kinds accepted, with their limits.
    pub fn kinds(&self) -> impl Iterator<Item = (MediaKind, &MediaKindRules)> {
        MediaKind::ALL.into_iter().filter_map(|kind| self.kind(kind).map(|limits| (kind, limits)))
    }

    pub fn kind(&self, kind: MediaKind) -> Option<&MediaKindRules> {
        match kind {
            MediaKind::Photo => self.photo.as_ref(),
            MediaKind::Video => self.video.as_ref(),
            MediaKind::Gif => self.gif.as_ref(),
        }
    }
}

/// A media item's kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum MediaKind {
    Photo,
    Video,
    Gif,
}

impl MediaKind {
    pub const ALL: [Self; 3] = [Self::Photo, Self::Video, Self::Gif];

    pub fn parse(field: &str, name: &str) -> Result<Self, ServiceError> {
        match name.trim().to_ascii_lowercase().as_str() {
            "photo" | "image" => Ok(Self::Photo),
            "video" => Ok(Self::Video),
            "gif" | "animated_gif" => Ok(Self::Gif),
            _ => Err(ServiceError::invalid(
                field,
                format!("{field}: `{}` is not a media type; use photo, video or gif", excerpt(name)),
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Photo => "photo",
            Self::Video => "video",
            Self::Gif => "gif",
        }
    }
}

#[derive(Deserialize)]
struct Table {
    platform: Vec<PlatformRules>,
}

/// The rules this build ships with, in the table's order.
pub fn builtin() -> &'static [PlatformRules] {
    static TABLE: LazyLock<Vec<PlatformRules>> = LazyLock::new(|| {
        toml::from_str::<Table>(include_str!("platforms.toml")).expect("platforms.toml is valid (tested)").platform
    });
    &TABLE
}

/// The built-in rules of `platform` (`twitter` is X), or a 422 that lists the known ones.
pub fn find(field: &str, platform: &str) -> Result<&'static PlatformRules, ServiceError> {
    let wanted = platform.trim().to_ascii_lowercase();
    let wanted = if wanted == "twitter" { "x" } else { wanted.as_str() };
    builtin().iter().find(|rules| rules.id == wanted).ok_or_else(|| {
        let known: Vec<&str> = builtin().iter().map(|rules| rules.id.as_str()).collect();
        ServiceError::invalid(
            field,
            format!("{field}: `{}` is not a known platform; known: {}", excerpt(platform), known.join(", ")),
        )
    })
}

/// The largest number an override may set (no platform's rule comes near it).
pub const MAX_RULE_VALUE: usize = 1_000_000;

/// A tenant's changes to one platform's numbers; an absent field keeps the table's value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleOverride {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_length: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_bytes: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title_limit: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_hashtags: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_mentions: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_urls: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_media_items: Option<usize>,
}

impl RuleOverride {
    /// Each field with its name, for validation and listing.
    fn fields(&self) -> [(&'static str, Option<usize>); 8] {
        [
            ("limit", self.limit),
            ("url_length", self.url_length),
            ("max_bytes", self.max_bytes),
            ("title_limit", self.title_limit),
            ("max_hashtags", self.max_hashtags),
            ("max_mentions", self.max_mentions),
            ("max_urls", self.max_urls),
            ("max_media_items", self.max_media_items),
        ]
    }

    /// The names of the fields set.
    pub fn overridden(&self) -> Vec<&'static str> {
        self.fields().into_iter().filter(|(_, value)| value.is_some()).map(|(name, _)| name).collect()
    }

    /// Refuses numbers past [`MAX_RULE_VALUE`] and a zero length limit.
    pub fn validate(&self) -> Result<(), ServiceError> {
        for (name, value) in self.fields() {
            match value {
                Some(value) if value > MAX_RULE_VALUE => {
                    return Err(ServiceError::invalid(name, format!("{name} is {value}; at most {MAX_RULE_VALUE}")));
                }
                Some(0) if name == "limit" => return Err(ServiceError::invalid(name, "limit must be at least 1")),
                _ => {}
            }
        }
        Ok(())
    }

    /// The rules with this override applied.
    pub fn apply(&self, rules: &PlatformRules) -> PlatformRules {
        let mut out = rules.clone();
        out.limit = self.limit.unwrap_or(out.limit);
        out.url_length = self.url_length.or(out.url_length);
        out.max_bytes = self.max_bytes.or(out.max_bytes);
        out.title_limit = self.title_limit.or(out.title_limit);
        out.max_hashtags = self.max_hashtags.or(out.max_hashtags);
        out.max_mentions = self.max_mentions.or(out.max_mentions);
        out.max_urls = self.max_urls.or(out.max_urls);
        out.media.max_items = self.max_media_items.unwrap_or(out.media.max_items);
        out
    }
}

/// A tenant's overrides, by platform id (the file `<data dir>/platforms/<tenant>.json`).
pub type TenantOverrides = BTreeMap<String, RuleOverride>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_parses_and_every_row_has_a_source_and_a_date() {
        let platforms = builtin();
        assert_eq!(platforms.len(), 10);
        for rules in platforms {
            for text in [&rules.source, &rules.as_of, &rules.media.source, &rules.media.as_of] {
                assert!(!text.is_empty(), "{}", rules.id);
            }
            assert!(chrono::NaiveDate::parse_from_str(&rules.as_of, "%Y-%m-%d").is_ok(), "{}", rules.id);
            assert!(rules.media.max_items >= rules.media.min_items, "{}", rules.id);
        }
        assert_eq!(find("platform", " Twitter ").unwrap().id, "x");
        let unknown = find("platform", "myspace").unwrap_err().to_string();
        assert!(unknown.contains("known: x, bluesky"), "{unknown}");
    }

    #[test]
    fn overrides_change_only_what_they_name() {
        let mastodon = find("platform", "mastodon").unwrap();
        let changed = RuleOverride { limit: Some(5_000), ..Default::default() }.apply(mastodon);
        assert_eq!((changed.limit, changed.url_length), (5_000, Some(23)));
        assert!(RuleOverride { limit: Some(0), ..Default::default() }.validate().is_err());
        assert!(RuleOverride { max_hashtags: Some(MAX_RULE_VALUE + 1), ..Default::default() }.validate().is_err());
    }
}
