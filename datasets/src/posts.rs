//! Post history in one canonical shape, from X (Twitter) API v1.1 status JSON and from the X
//! account archive's `tweets.js`.
//!
//! Groundwork for engagement forecasting: every importer returns the rows it could read and,
//! for each row it could not, the row number and why: a bad row is reported, never silently
//! dropped, and does not sink the file. Reposts (retweets) are not the account's own posts and
//! are counted apart.

use serde_json::Value;

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
    pub errors: Vec<RowError>,
    pub skipped_reposts: usize,
}

/// A whole file that is not what the importer reads (as opposed to a bad row in it).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct NotThisFormat(pub String);

/// API v1.1 statuses: an array of statuses, or a search answer (`{"statuses": [...]}`).
pub fn import_x_statuses(json: &str) -> Result<Imported, NotThisFormat> {
    let value: Value = serde_json::from_str(json).map_err(|e| NotThisFormat(format!("not JSON: {e}")))?;
    let rows = match &value {
        Value::Array(rows) => rows,
        Value::Object(object) => match object.get("statuses") {
            Some(Value::Array(rows)) => rows,
            _ => return Err(NotThisFormat("expected an array of statuses or {\"statuses\": [...]}".into())),
        },
        _ => return Err(NotThisFormat("expected an array of statuses or {\"statuses\": [...]}".into())),
    };
    Ok(import_rows(rows.iter(), |status| {
        let account = status.get("user").ok_or("no `user`")?;
        let account_id = string(account, "id_str")?;
        Ok((account_id, count(account.get("followers_count"))))
    }))
}

/// The account archive's `tweets.js` (`window.YTD.tweets.part0 = [{"tweet": {...}}, ...]`).
/// The archive names the account once, elsewhere, so it is given here.
pub fn import_x_archive(tweets_js: &str, account_id: &str) -> Result<Imported, NotThisFormat> {
    let json = tweets_js
        .split_once('=')
        .map(|(_, rest)| rest)
        .ok_or_else(|| NotThisFormat("expected `window.YTD.tweets.part0 = [...]` (the archive's tweets.js)".into()))?;
    let value: Value = serde_json::from_str(json.trim().trim_end_matches(';'))
        .map_err(|e| NotThisFormat(format!("tweets.js does not hold JSON: {e}")))?;
    let Value::Array(rows) = value else {
        return Err(NotThisFormat("tweets.js should assign an array".into()));
    };
    let tweets: Vec<Value> = rows.into_iter().map(|row| row.get("tweet").cloned().unwrap_or(row)).collect();
    Ok(import_rows(tweets.iter(), |_| Ok((account_id.to_string(), None))))
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
                Err(reason) => imported.errors.push(RowError { row, reason }),
            }
        }
        for original in embedded.into_iter().flatten() {
            match read_status(original, &account_of) {
                Ok(post) => imported.posts.push(post),
                Err(reason) => imported.errors.push(RowError { row, reason: format!("embedded original: {reason}") }),
            }
        }
    }
    keep_latest_copy(&mut imported.posts);
    imported
}

/// A post seen several times (embedded in many reposts) keeps its latest counts: counts only grow.
pub(crate) fn keep_latest_copy(posts: &mut Vec<Post>) {
    let engagement = |p: &Post| p.likes.unwrap_or(0) + p.comments.unwrap_or(0) + p.shares.unwrap_or(0);
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
        Some(other) => return Err(format!("unknown media type `{other}`")),
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
        likes: count(status.get("favorite_count")),
        comments: count(status.get("reply_count")),
        shares: count(status.get("retweet_count")),
        impressions: None,
        followers,
    })
}

fn string(object: &Value, key: &str) -> Result<String, String> {
    object.get(key).and_then(Value::as_str).map(str::to_string).ok_or_else(|| format!("no `{key}`"))
}

/// A count as the API gives it (a number) or the archive does (a string of digits).
fn count(value: Option<&Value>) -> Option<u64> {
    match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// `Sat Jan 07 10:51:54 +0000 2023` → seconds since the epoch (UTC).
pub fn parse_x_time(text: &str) -> Result<i64, String> {
    let bad = || format!("`{text}` is not a time like `Sat Jan 07 10:51:54 +0000 2023`");
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
}
