//! Post history in one canonical shape, from X (Twitter) API v1.1 status JSON and from the X
//! account archive's `tweets.js`.
//!
//! Groundwork for engagement forecasting: every importer returns the rows it could read and,
//! for each row it could not, the row number and why: a bad row is reported, never silently
//! dropped, and does not sink the file. Reposts (retweets) are not the account's own posts and
//! are counted apart.

use serde_json::Value;

use crate::canonical::parse_count;
use crate::limits::{ImportLimits, LimitExceeded, QUOTE_CHARS, excerpt};

/// One post, as every importer returns it.
#[derive(Debug, Clone, PartialEq)]
pub struct Post {
    pub post_id: String,
    pub account_id: String,
    pub platform: String,
    /// Seconds since the Unix epoch, UTC.
    pub created_at: i64,
    /// The account's IANA timezone, when the source knows it.
    pub timezone: Option<String>,
    pub text: String,
    pub media: MediaType,
    pub likes: Option<u64>,
    pub comments: Option<u64>,
    /// Shares, reposts or retweets.
    pub shares: Option<u64>,
    pub impressions: Option<u64>,
    /// The account's followers when the post was read.
    pub followers: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MediaType {
    None,
    Photo,
    Video,
    Gif,
}

impl MediaType {
    pub fn as_str(self) -> &'static str {
        match self {
            MediaType::None => "none",
            MediaType::Photo => "photo",
            MediaType::Video => "video",
            MediaType::Gif => "gif",
        }
    }

    /// `none`, `photo`, `video` or `gif`, in any case; empty is `none`.
    pub fn parse(name: &str) -> Result<Self, String> {
        match name.to_ascii_lowercase().as_str() {
            "" | "none" => Ok(MediaType::None),
            "photo" => Ok(MediaType::Photo),
            "video" => Ok(MediaType::Video),
            "gif" => Ok(MediaType::Gif),
            other => Err(format!("media `{}` is not one of none, photo, video, gif", excerpt(other, QUOTE_CHARS))),
        }
    }
}

/// A row that could not be read: its position in the source (from 1) and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub reason: String,
}

#[derive(Debug, Clone, Default)]
pub struct Imported {
    pub posts: Vec<Post>,
    /// The first [`KEPT_ROW_ERRORS`] bad rows; `error_count` counts them all.
    pub errors: Vec<RowError>,
    pub error_count: usize,
    pub skipped_reposts: usize,
}

/// Bad rows kept with their reasons: a file of millions of bad rows must not cost a string each.
pub const KEPT_ROW_ERRORS: usize = 1_000;

impl Imported {
    /// Counts a bad row, keeping its reason while fewer than [`KEPT_ROW_ERRORS`] are kept.
    pub fn reject(&mut self, row: usize, reason: String) {
        self.error_count += 1;
        if self.errors.len() < KEPT_ROW_ERRORS {
            self.errors.push(RowError { row, reason });
        }
    }
}

/// A whole file that is not what the importer reads (as opposed to a bad row in it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotThisFormat(pub String);

/// Why an importer refused a whole file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImportError {
    #[error(transparent)]
    NotThisFormat(#[from] NotThisFormat),
    #[error(transparent)]
    TooLarge(#[from] LimitExceeded),
}

/// API v1.1 statuses: an array of statuses, or a search answer (`{"statuses": [...]}`).
pub fn import_x_statuses(json: &str, limits: &ImportLimits) -> Result<Imported, ImportError> {
    let value: Value = serde_json::from_str(json).map_err(|e| NotThisFormat(format!("not JSON: {e}")))?;
    let rows = match &value {
        Value::Array(rows) => rows,
        Value::Object(object) => match object.get("statuses") {
            Some(Value::Array(rows)) => rows,
            _ => return Err(NotThisFormat("expected an array of statuses or {\"statuses\": [...]}".into()).into()),
        },
        _ => return Err(NotThisFormat("expected an array of statuses or {\"statuses\": [...]}".into()).into()),
    };
    check_rows(rows.len(), limits)?;
    Ok(import_rows(rows.iter(), |status| {
        let account = status.get("user").ok_or("no `user`")?;
        let account_id = string(account, "id_str")?;
        Ok((account_id, count(account, "followers_count")?))
    }))
}

/// The account archive's `tweets.js` (`window.YTD.tweets.part0 = [{"tweet": {...}}, ...]`).
/// The archive names the account once, elsewhere, so it is given here.
pub fn import_x_archive(tweets_js: &str, account_id: &str, limits: &ImportLimits) -> Result<Imported, ImportError> {
    let json = tweets_js
        .split_once('=')
        .map(|(_, rest)| rest)
        .ok_or_else(|| NotThisFormat("expected `window.YTD.tweets.part0 = [...]` (the archive's tweets.js)".into()))?;
    let value: Value = serde_json::from_str(json.trim().trim_end_matches(';'))
        .map_err(|e| NotThisFormat(format!("tweets.js does not hold JSON: {e}")))?;
    let Value::Array(rows) = value else {
        return Err(NotThisFormat("tweets.js should assign an array".into()).into());
    };
    check_rows(rows.len(), limits)?;
    let tweets: Vec<Value> =
        rows.into_iter().map(|mut row| row.get_mut("tweet").map(Value::take).unwrap_or(row)).collect();
    Ok(import_rows(tweets.iter(), |_| Ok((account_id.to_string(), None))))
}

/// Both formats arrive as one JSON array: its length is known before any row is read.
fn check_rows(rows: usize, limits: &ImportLimits) -> Result<(), LimitExceeded> {
    match rows > limits.max_rows {
        true => Err(LimitExceeded::rows(limits.max_rows, Some(rows))),
        false => Ok(()),
    }
}

fn import_rows<'a>(
    rows: impl Iterator<Item = &'a Value>,
    account_of: impl Fn(&Value) -> Result<(String, Option<u64>), String>,
) -> Imported {
    let mut imported = Imported::default();
    for (index, status) in rows.enumerate() {
        let row = index + 1;
        // A repost is not the account's own post, but the original it embeds is its author's.
        let embedded = ["retweeted_status", "quoted_status"].map(|key| status.get(key).filter(|v| v.is_object()));
        if status.get("retweeted_status").is_some() {
            imported.skipped_reposts += 1;
        } else {
            match read_status(status, &account_of) {
                Ok(post) => imported.posts.push(post),
                Err(reason) => imported.reject(row, reason),
            }
        }
        for original in embedded.into_iter().flatten() {
            match read_status(original, &account_of) {
                Ok(post) => imported.posts.push(post),
                Err(reason) => imported.reject(row, format!("embedded original: {reason}")),
            }
        }
    }
    keep_latest_copy(&mut imported.posts);
    imported
}

/// A post seen several times (embedded in many reposts) keeps its latest counts: counts only grow.
pub(crate) fn keep_latest_copy(posts: &mut Vec<Post>) {
    // Imported counts are at most 2^53, but a `Post` can be built by hand: the sum saturates.
    let engagement = |p: &Post| {
        [p.likes, p.comments, p.shares].into_iter().flatten().fold(0u64, |sum, count| sum.saturating_add(count))
    };
    let mut best: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
    let mut keep = vec![true; posts.len()];
    for (i, post) in posts.iter().enumerate() {
        match best.get(&post.post_id) {
            Some(&j) if engagement(&posts[j]) >= engagement(post) => keep[i] = false,
            Some(&j) => {
                keep[j] = false;
                best.insert(post.post_id.clone(), i);
            }
            None => {
                best.insert(post.post_id.clone(), i);
            }
        }
    }
    let mut flags = keep.into_iter();
    posts.retain(|_| flags.next().unwrap_or(false));
}

fn read_status(
    status: &Value,
    account_of: &impl Fn(&Value) -> Result<(String, Option<u64>), String>,
) -> Result<Post, String> {
    if !status.is_object() {
        return Err("not an object".into());
    }
    let (account_id, followers) = account_of(status)?;
    let text = ["full_text", "text"]
        .iter()
        .find_map(|key| status.get(*key).and_then(Value::as_str))
        .ok_or("no `full_text` or `text`")?;
    let media_kind = status
        .pointer("/extended_entities/media/0/type")
        .or_else(|| status.pointer("/entities/media/0/type"))
        .and_then(Value::as_str);
    let media = match media_kind {
        None => MediaType::None,
        Some("photo") => MediaType::Photo,
        Some("video") => MediaType::Video,
        Some("animated_gif") => MediaType::Gif,
        Some(other) => return Err(format!("unknown media type `{}`", excerpt(other, QUOTE_CHARS))),
    };
    Ok(Post {
        post_id: string(status, "id_str")?,
        account_id,
        platform: "x".into(),
        created_at: parse_x_time(&string(status, "created_at")?)?,
        // API v1.1 no longer fills `user.time_zone`; the account's zone comes from elsewhere.
        timezone: None,
        text: text.to_string(),
        media,
        likes: count(status, "favorite_count")?,
        comments: count(status, "reply_count")?,
        shares: count(status, "retweet_count")?,
        impressions: None,
        followers,
    })
}

fn string(object: &Value, key: &str) -> Result<String, String> {
    object.get(key).and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("no `{key}`"))
}

/// A count as the API gives it (a number) or the archive does (a string of digits), checked as
/// the canonical formats' counts are; absent or null is unknown.
fn count(object: &Value, key: &str) -> Result<Option<u64>, String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => parse_count(key, &n.to_string()).map(Some),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => parse_count(key, s.trim()).map(Some),
        Some(other) => Err(format!("`{key}` should be a count, not {}", excerpt(&other.to_string(), QUOTE_CHARS))),
    }
}

/// `Sat Jan 07 10:51:54 +0000 2023` → seconds since the epoch (UTC).
pub fn parse_x_time(text: &str) -> Result<i64, String> {
    let bad = || format!("`{}` is not a time like `Sat Jan 07 10:51:54 +0000 2023`", excerpt(text, QUOTE_CHARS));
    let parts: Vec<&str> = text.split_whitespace().collect();
    let [_, month, day, clock, offset, year] = parts[..] else { return Err(bad()) };
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    let month = MONTHS.iter().position(|m| *m == month).ok_or_else(bad)? as i64 + 1;
    let number = |s: &str| s.parse::<i64>().map_err(|_| bad());
    let (day, year) = (number(day)?, number(year)?);
    let clock: Vec<i64> = clock.split(':').map(number).collect::<Result<_, _>>()?;
    let [hour, minute, second] = clock[..] else { return Err(bad()) };
    let valid = (1..=31).contains(&day) && hour < 24 && minute < 60 && second < 61 && offset.len() == 5;
    if !valid {
        return Err(bad());
    }
    let sign = match &offset[..1] {
        "+" => 1,
        "-" => -1,
        _ => return Err(bad()),
    };
    let offset_seconds = sign * (number(&offset[1..3])? * 3600 + number(&offset[3..5])? * 60);
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second - offset_seconds)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    // The importers at their default limits, as the older tests call them.
    fn import_x_statuses(json: &str) -> Result<Imported, ImportError> {
        super::import_x_statuses(json, &ImportLimits::default())
    }

    fn import_x_archive(tweets_js: &str, account_id: &str) -> Result<Imported, ImportError> {
        super::import_x_archive(tweets_js, account_id, &ImportLimits::default())
    }

    #[test]
    fn times_parse_to_utc_seconds() {
        assert_eq!(parse_x_time("Thu Jan 01 00:00:00 +0000 1970"), Ok(0));
        // 2023-01-07T10:51:54Z
        assert_eq!(parse_x_time("Sat Jan 07 10:51:54 +0000 2023"), Ok(1_673_088_714));
        assert_eq!(parse_x_time("Sat Jan 07 12:51:54 +0200 2023"), Ok(1_673_088_714));
        assert_eq!(parse_x_time("Tue Feb 29 23:59:59 +0000 2000"), Ok(951_868_799));
        assert!(parse_x_time("2023-01-07T10:51:54Z").unwrap_err().contains("not a time"));
        assert!(parse_x_time("Sat Foo 07 10:51:54 +0000 2023").is_err());
    }

    #[test]
    fn bad_rows_are_reported_with_their_number_and_reposts_counted_apart() {
        let json = r#"[
            {"id_str": "1", "created_at": "Sat Jan 07 10:51:54 +0000 2023", "full_text": "hello",
             "favorite_count": 3, "retweet_count": 1, "user": {"id_str": "u1", "followers_count": 10},
             "extended_entities": {"media": [{"type": "photo"}]}},
            {"id_str": "2", "created_at": "yesterday", "text": "x", "user": {"id_str": "u1"}},
            {"id_str": "3", "created_at": "Sat Jan 07 10:51:54 +0000 2023", "text": "RT", "user": {"id_str": "u2"},
             "retweeted_status": {"id_str": "1", "created_at": "Sat Jan 07 10:51:54 +0000 2023", "text": "hello",
                                  "favorite_count": 5, "retweet_count": 2, "user": {"id_str": "u1"}}},
            {"created_at": "Sat Jan 07 10:51:54 +0000 2023", "text": "no id", "user": {"id_str": "u1"}},
            7
        ]"#;
        let imported = import_x_statuses(json).unwrap();
        // Post 1 arrives twice, itself and inside a retweet: the later, higher counts win.
        assert_eq!(imported.posts.len(), 1);
        let post = &imported.posts[0];
        assert_eq!((post.likes, post.shares, post.followers), (Some(5), Some(2), None));
        assert_eq!(imported.skipped_reposts, 1);
        let rows: Vec<usize> = imported.errors.iter().map(|e| e.row).collect();
        assert_eq!(rows, [2, 4, 5]);
        assert!(imported.errors[0].reason.contains("yesterday"));
        assert!(imported.errors[1].reason.contains("id_str"));
        assert!(import_x_statuses("{\"data\": []}").is_err());
    }

    #[test]
    fn archive_counts_are_strings_and_the_account_is_given() {
        let js = r#"window.YTD.tweets.part0 = [ { "tweet" : { "id_str" : "9", "created_at" : "Mon Mar 04 08:00:00 +0000 2024",
            "full_text" : "spring drop", "favorite_count" : "12", "retweet_count" : "0" } } ]"#;
        let imported = import_x_archive(js, "me").unwrap();
        assert!(imported.errors.is_empty(), "{:?}", imported.errors);
        assert_eq!(imported.posts[0].account_id, "me");
        assert_eq!(imported.posts[0].likes, Some(12));
        assert!(import_x_archive("[]", "me").is_err());
    }

    #[test]
    fn counts_are_checked_and_a_bad_one_is_a_row_error() {
        let status = |likes: &str| {
            format!(
                r#"{{"id_str": "1", "created_at": "Sat Jan 07 10:51:54 +0000 2023", "text": "hi",
                    "favorite_count": {likes}, "user": {{"id_str": "u1", "followers_count": 1}}}}"#
            )
        };
        let likes = |value: &str| {
            let imported = import_x_statuses(&format!("[{}]", status(value))).unwrap();
            imported.posts.first().map(|p| p.likes).ok_or_else(|| imported.errors[0].reason.clone())
        };
        assert_eq!(likes("9007199254740992"), Ok(Some(1 << 53)));
        assert_eq!(likes("\"12\""), Ok(Some(12)));
        assert_eq!(likes("null"), Ok(None));
        for bad in ["9007199254740993", "9223372036854775808", "\"9223372036854775808\""] {
            assert!(likes(bad).unwrap_err().contains("over the largest count"), "{bad}");
        }
        for bad in ["-1", "1.5", "18446744073709551616", "\"-1\"", "true"] {
            assert!(likes(bad).unwrap_err().contains("favorite_count"), "{bad}");
        }
        let followers = status("1").replace("\"followers_count\": 1", "\"followers_count\": -5");
        let imported = import_x_statuses(&format!("[{followers}]")).unwrap();
        assert!(imported.errors[0].reason.contains("followers_count"), "{:?}", imported.errors);
        // The largest counts sum without overflow when copies are compared.
        let mut posts = import_x_statuses(&format!("[{}]", status("9007199254740992"))).unwrap().posts;
        posts.push(Post { likes: Some(u64::MAX), comments: Some(1), ..posts[0].clone() });
        keep_latest_copy(&mut posts);
        assert_eq!(posts[0].likes, Some(u64::MAX));
    }

    #[test]
    fn arrays_past_the_row_limit_are_refused_before_reading() {
        let limits = ImportLimits { max_rows: 2, ..ImportLimits::default() };
        let error = super::import_x_statuses("[1, 2, 3]", &limits).unwrap_err();
        assert_eq!(error, ImportError::TooLarge(LimitExceeded::rows(2, Some(3))));
        let js = "window.YTD.tweets.part0 = [{}, {}, {}]";
        assert!(matches!(super::import_x_archive(js, "me", &limits), Err(ImportError::TooLarge(_))));
        assert!(super::import_x_statuses("[1, 2]", &limits).is_ok());
    }

    #[test]
    fn row_errors_quote_a_short_excerpt() {
        let huge = "x".repeat(1_000_000);
        let json = format!(
            r#"[{{"id_str": "1", "created_at": "{huge}", "text": "hi", "user": {{"id_str": "u"}}}},
                {{"id_str": "2", "created_at": "Sat Jan 07 10:51:54 +0000 2023", "text": "hi", "user": {{"id_str": "u"}},
                 "entities": {{"media": [{{"type": "{huge}"}}]}}}}]"#
        );
        let imported = import_x_statuses(&json).unwrap();
        assert_eq!(imported.errors.len(), 2);
        assert!(imported.errors.iter().all(|e| e.reason.len() < 200), "{:?}", imported.errors);
    }
}
