//! The canonical post schema as CSV (with a header) and JSON Lines: the formats a team exports
//! from a spreadsheet or another tool. Columns are named as in `features/README.md`; extra
//! columns are ignored, missing required ones make the file the wrong format, and a bad value is
//! a row error naming the row (data rows from 1; for JSON Lines, the line) and the column.
//!
//! Counts are checked here for every importer: a whole number from 0 to [`MAX_COUNT`]. Anything
//! else (negative, fractional, 2^63) is a row error, so one row can neither wrap into a negative
//! count nor overflow a sum downstream.

use std::str::FromStr;

use serde_json::Value;

use crate::limits::{ImportLimits, LimitExceeded, QUOTE_CHARS, excerpt};
use crate::posts::{ImportError, Imported, MediaType, NotThisFormat, Post};

pub const REQUIRED_COLUMNS: [&str; 5] = ["post_id", "account_id", "platform", "created_at", "text"];

/// Every column of the canonical schema: what [`parse_post`] reads.
pub const POST_COLUMNS: [&str; 12] = [
    "post_id",
    "account_id",
    "platform",
    "created_at",
    "timezone",
    "text",
    "media",
    "likes",
    "comments",
    "shares",
    "impressions",
    "followers",
];

/// The longest account id, in bytes: ids name files in the history store, which must stay
/// within a file name's 255 bytes (longer encodings are hashed there).
pub const MAX_ACCOUNT_ID_BYTES: usize = 200;

/// The largest count a post may have: 2^53, the largest integer an `f64` (and so JavaScript)
/// holds exactly. Sums of a few such counts still fit an `i64` with room to spare.
pub const MAX_COUNT: u64 = 1 << 53;

/// Times before 2000 or after 2100 are mistakes (milliseconds given as seconds, or a zero).
const EARLIEST: i64 = 946_684_800;
const LATEST: i64 = 4_102_444_800;

pub fn import_csv(bytes: &[u8], limits: &ImportLimits) -> Result<Imported, ImportError> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header = reader.byte_headers().map_err(|e| NotThisFormat(format!("unreadable CSV header: {e}")))?.clone();
    if header.len() > limits.max_columns {
        let found = Some(header.len() as u64);
        return Err(LimitExceeded { what: "columns", limit: limits.max_columns as u64, found }.into());
    }
    let names: Vec<String> = header.iter().map(|h| String::from_utf8_lossy(h).trim().to_ascii_lowercase()).collect();
    if let Some(missing) = REQUIRED_COLUMNS.iter().find(|c| !names.iter().any(|n| n == *c)) {
        return Err(NotThisFormat(format!(
            "the CSV header has no `{missing}` column (required: {}; found: {})",
            REQUIRED_COLUMNS.join(", "),
            excerpt(&names.join(", "), 2 * QUOTE_CHARS)
        ))
        .into());
    }
    // Where each column the rows are read for sits, found once: a row's cost does not grow
    // with the width of the header.
    let positions: Vec<(&str, usize)> =
        POST_COLUMNS.iter().filter_map(|c| Some((*c, names.iter().position(|n| n == c)?))).collect();
    let mut imported = Imported::default();
    for (index, record) in reader.byte_records().enumerate() {
        let row = index + 1;
        if row > limits.max_rows {
            return Err(LimitExceeded::rows(limits.max_rows, None).into());
        }
        let result = record.map_err(|e| format!("unreadable CSV: {e}")).and_then(|record| {
            let field = |name: &str| -> Result<Option<String>, String> {
                let Some(&(_, column)) = positions.iter().find(|(n, _)| *n == name) else { return Ok(None) };
                match record.get(column) {
                    None => Ok(None),
                    Some(bytes) => std::str::from_utf8(bytes)
                        .map(|s| Some(s.to_string()))
                        .map_err(|_| format!("`{name}` is not valid UTF-8")),
                }
            };
            parse_post(&field)
        });
        match result {
            Ok(post) => imported.posts.push(post),
            Err(reason) => imported.reject(row, reason),
        }
    }
    Ok(imported)
}

pub fn import_json_lines(bytes: &[u8], limits: &ImportLimits) -> Result<Imported, ImportError> {
    let mut imported = Imported::default();
    let (mut objects, mut rows) = (0, 0);
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let row = index + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        rows += 1;
        if rows > limits.max_rows {
            return Err(LimitExceeded::rows(limits.max_rows, None).into());
        }
        let value = std::str::from_utf8(line)
            .map_err(|_| "not valid UTF-8".to_string())
            .and_then(|text| serde_json::from_str::<Value>(text).map_err(|e| format!("not JSON: {e}")));
        let result = value.and_then(|value| {
            let Value::Object(object) = value else { return Err("not a JSON object".to_string()) };
            objects += 1;
            let field = |name: &str| -> Result<Option<String>, String> {
                match object.get(name) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) => Ok(Some(s.clone())),
                    Some(Value::Number(n)) => Ok(Some(n.to_string())),
                    Some(other) => Err(format!(
                        "`{name}` should be a string or a number, not {}",
                        excerpt(&other.to_string(), QUOTE_CHARS)
                    )),
                }
            };
            parse_post(&field)
        });
        match result {
            Ok(post) => imported.posts.push(post),
            Err(reason) => imported.reject(row, reason),
        }
    }
    // A file none of whose lines is an object is not JSON Lines at all.
    if objects == 0 && !imported.errors.is_empty() {
        let first = &imported.errors[0];
        return Err(NotThisFormat(format!("not JSON Lines: line {}: {}", first.row, first.reason)).into());
    }
    Ok(imported)
}

/// One row, from a lookup of its raw column values.
pub fn parse_post(field: &dyn Fn(&str) -> Result<Option<String>, String>) -> Result<Post, String> {
    let text_of = |name: &str| -> Result<Option<String>, String> {
        Ok(field(name)?.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
    };
    let required = |name: &str| text_of(name)?.ok_or_else(|| format!("`{name}` is empty"));
    let count = |name: &str| text_of(name)?.map(|s| parse_count(name, &s)).transpose();
    let timezone = text_of("timezone")?;
    if let Some(zone) = &timezone {
        chrono_tz::Tz::from_str(zone)
            .map_err(|_| format!("`timezone`: `{}` is not an IANA timezone", excerpt(zone, QUOTE_CHARS)))?;
    }
    let media = match text_of("media")?.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("none") => MediaType::None,
        Some("photo") => MediaType::Photo,
        Some("video") => MediaType::Video,
        Some("gif") => MediaType::Gif,
        Some(other) => {
            return Err(format!("`media`: `{}` is not one of none, photo, video, gif", excerpt(other, QUOTE_CHARS)));
        }
    };
    let account_id = required("account_id")?;
    if account_id.len() > MAX_ACCOUNT_ID_BYTES {
        return Err(format!(
            "`account_id` is {} bytes; at most {MAX_ACCOUNT_ID_BYTES}: `{}`",
            account_id.len(),
            excerpt(&account_id, QUOTE_CHARS)
        ));
    }
    Ok(Post {
        post_id: required("post_id")?,
        account_id,
        platform: required("platform")?.to_ascii_lowercase(),
        created_at: parse_time(&required("created_at")?)?,
        timezone,
        // Text keeps its spaces; an empty post (an image alone) is allowed.
        text: field("text")?.unwrap_or_default(),
        media,
        likes: count("likes")?,
        comments: count("comments")?,
        shares: count("shares")?,
        impressions: count("impressions")?,
        followers: count("followers")?,
    })
}

/// A count in column `name`: a whole number from 0 to [`MAX_COUNT`].
pub(crate) fn parse_count(name: &str, text: &str) -> Result<u64, String> {
    let digits = text.strip_prefix('+').unwrap_or(text);
    match text.parse::<u64>() {
        Ok(count) if count <= MAX_COUNT => Ok(count),
        // Digits too many even for a u64 are as over the limit as 2^53 + 1.
        _ if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
            Err(format!("`{name}`: {} is over the largest count, 2^53", excerpt(text, QUOTE_CHARS)))
        }
        _ => Err(format!("`{name}`: `{}` is not a non-negative whole number", excerpt(text, QUOTE_CHARS))),
    }
}

/// Seconds since the epoch, or RFC 3339 (`2024-03-04T08:00:00Z`, `2024-03-04T09:00:00+01:00`).
pub fn parse_time(text: &str) -> Result<i64, String> {
    let seconds = match text.parse::<i64>() {
        Ok(seconds) => seconds,
        Err(_) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|_| {
                format!("`created_at`: `{}` is neither Unix seconds nor RFC 3339", excerpt(text, QUOTE_CHARS))
            })?
            .timestamp(),
    };
    if !(EARLIEST..LATEST).contains(&seconds) {
        return Err(format!("`created_at`: {seconds} is outside 2000–2100 (milliseconds given as seconds?)"));
    }
    Ok(seconds)
}

/// RFC 3339 in UTC (`2024-03-04T08:00:00Z`).
pub fn format_time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map_or_else(|| seconds.to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

/// RFC 3339 in UTC to the millisecond (`2024-03-04T08:00:00.250Z`), from Unix milliseconds.
pub fn format_time_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map_or_else(|| ms.to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// The current time in Unix milliseconds.
pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// The current time in Unix seconds.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

#[cfg(test)]
mod tests {
    use super::*;

    // The importers at their default limits, as the older tests call them.
    fn import_csv(bytes: &[u8]) -> Result<Imported, NotThisFormat> {
        super::import_csv(bytes, &ImportLimits::default()).map_err(not_this_format)
    }

    fn import_json_lines(bytes: &[u8]) -> Result<Imported, NotThisFormat> {
        super::import_json_lines(bytes, &ImportLimits::default()).map_err(not_this_format)
    }

    fn not_this_format(error: ImportError) -> NotThisFormat {
        match error {
            ImportError::NotThisFormat(error) => error,
            ImportError::TooLarge(error) => panic!("{error}"),
        }
    }

    #[test]
    fn csv_rows_are_read_or_reported_with_their_number() {
        let csv = "post_id,account_id,platform,created_at,timezone,text,media,likes,comments,shares,extra\n\
                   1,a,X,2024-03-04T08:00:00Z,Europe/Berlin,\"hello, world\",photo,3,,1,z\n\
                   2,a,x,1709539200,Mars/Base,hi,none,1,0,0,z\n\
                   3,a,x,1709539200,,hi,hologram,1,0,0,z\n\
                   4,a,x,1709539200,,hi,,-1,0,0,z\n\
                   5,a,x,1709539200000,,hi,,1,0,0,z\n\
                   6,,x,1709539200,,hi,,1,0,0,z\n";
        let imported = import_csv(csv.as_bytes()).unwrap();
        assert_eq!(imported.posts.len(), 1);
        let post = &imported.posts[0];
        assert_eq!((post.platform.as_str(), post.created_at, post.media), ("x", 1_709_539_200, MediaType::Photo));
        assert_eq!((post.text.as_str(), post.likes, post.comments), ("hello, world", Some(3), None));
        let errors: Vec<(usize, &str)> = imported.errors.iter().map(|e| (e.row, e.reason.as_str())).collect();
        assert_eq!(errors.len(), 5, "{errors:?}");
        assert_eq!(errors[0].0, 2);
        assert!(errors[0].1.contains("Mars/Base"));
        assert!(errors[1].1.contains("hologram"));
        assert!(errors[2].1.contains("`likes`"));
        assert!(errors[3].1.contains("milliseconds"));
        assert!(errors[4].1.contains("`account_id` is empty"));
    }

    #[test]
    fn csv_without_the_required_columns_is_the_wrong_format() {
        let error = import_csv(b"id,when,body\n1,2,3\n").unwrap_err();
        assert!(error.0.contains("no `post_id` column"), "{error}");
        let bytes = b"post_id,account_id,platform,created_at,text\n1,a,x,1709539200,caf\xe9\n";
        assert!(import_csv(bytes).unwrap().errors[0].reason.contains("UTF-8"));
    }

    #[test]
    fn json_lines_take_numbers_or_strings_and_report_bad_lines() {
        let jsonl = "{\"post_id\": 1, \"account_id\": \"a\", \"platform\": \"x\", \"created_at\": 1709539200, \"text\": \"hi\", \"likes\": 4}\n\
                     \n\
                     [1, 2]\n\
                     {\"post_id\": \"2\", \"account_id\": \"a\", \"platform\": \"x\", \"created_at\": {\"t\": 1}, \"text\": \"hi\"}\n";
        let imported = import_json_lines(jsonl.as_bytes()).unwrap();
        assert_eq!(imported.posts[0].post_id, "1");
        assert_eq!(imported.posts[0].likes, Some(4));
        let rows: Vec<usize> = imported.errors.iter().map(|e| e.row).collect();
        assert_eq!(rows, [3, 4]);
        assert!(import_json_lines(b"post_id,account_id\n1,2\n").is_err());
    }

    fn post_with(column: &str, value: &str) -> Result<Post, String> {
        parse_post(&|name: &str| -> Result<Option<String>, String> {
            Ok(match name {
                _ if name == column => Some(value.into()),
                "post_id" | "account_id" | "platform" | "text" => Some("x".into()),
                "created_at" => Some("1709539200".into()),
                _ => None,
            })
        })
    }

    #[test]
    fn counts_are_whole_numbers_from_zero_to_two_to_the_53() {
        for column in ["likes", "comments", "shares", "impressions", "followers"] {
            let count = |value: &str| {
                let post = post_with(column, value)?;
                Ok::<_, String>([post.likes, post.comments, post.shares, post.impressions, post.followers])
            };
            assert!(count("9007199254740992").unwrap().contains(&Some(MAX_COUNT)), "{column}: 2^53 is a count");
            assert!(count("0").unwrap().contains(&Some(0)));
            for bad in ["9007199254740993", "9223372036854775808", "18446744073709551616", "99999999999999999999999"] {
                let error = count(bad).unwrap_err();
                assert!(error.contains(column) && error.contains("over the largest count"), "{bad}: {error}");
            }
            for bad in ["-1", "-9223372036854775808", "1.5", "1e3", "many"] {
                let error = count(bad).unwrap_err();
                assert!(error.contains("not a non-negative whole number"), "{bad}: {error}");
            }
        }
        let csv = "post_id,account_id,platform,created_at,text,likes,comments\n\
                   1,a,x,1709539200,hi,9223372036854775808,0\n\
                   2,a,x,1709539200,hi,9223372036854775807,1\n\
                   3,a,x,1709539200,hi,-1,0\n\
                   4,a,x,1709539200,hi,9007199254740992,9007199254740992\n";
        let imported = import_csv(csv.as_bytes()).unwrap();
        assert_eq!(imported.errors.iter().map(|e| e.row).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!((imported.posts[0].likes, imported.posts[0].comments), (Some(MAX_COUNT), Some(MAX_COUNT)));
    }

    #[test]
    fn a_wide_header_is_refused_and_rows_cost_the_same_whatever_its_width() {
        let limits = ImportLimits { max_columns: 12, ..ImportLimits::default() };
        let wide = format!("{},extra\n1,a,x,1709539200,hi\n", POST_COLUMNS.join(","));
        let error = super::import_csv(wide.as_bytes(), &limits).unwrap_err();
        let expected = LimitExceeded { what: "columns", limit: 12, found: Some(13) };
        assert_eq!(error, ImportError::TooLarge(expected));
        // At the default limit, a full-width header: rows read the few columns they need by position.
        let header: Vec<String> = (0..ImportLimits::DEFAULT_MAX_COLUMNS - 5).map(|i| format!("c{i}")).collect();
        let mut csv = format!("{},{}\n", header.join(","), REQUIRED_COLUMNS.join(","));
        let row = format!("{}1,a,x,1709539200,hi\n", ",".repeat(header.len()));
        csv.push_str(&row.repeat(10_000));
        let imported = import_csv(csv.as_bytes()).unwrap();
        assert_eq!((imported.posts.len(), imported.errors.len()), (10_000, 0));
    }

    #[test]
    fn rows_past_the_limit_stop_the_import() {
        let limits = ImportLimits { max_rows: 2, ..ImportLimits::default() };
        let csv = "post_id,account_id,platform,created_at,text\n1,a,x,1709539200,hi\n2,a,x,1709539200,hi\n";
        assert_eq!(super::import_csv(csv.as_bytes(), &limits).unwrap().posts.len(), 2);
        let csv = format!("{csv}3,a,x,1709539200,hi\n");
        let error = super::import_csv(csv.as_bytes(), &limits).unwrap_err();
        assert_eq!(error, ImportError::TooLarge(LimitExceeded::rows(2, None)));
        let line = "{\"post_id\": 1, \"account_id\": \"a\", \"platform\": \"x\", \"created_at\": 1709539200, \"text\": \"\"}\n";
        // Blank lines are not rows.
        let jsonl = format!("{line}\n\n{line}");
        assert_eq!(super::import_json_lines(jsonl.as_bytes(), &limits).unwrap().posts.len(), 2);
        let error = super::import_json_lines(line.repeat(3).as_bytes(), &limits).unwrap_err();
        assert!(matches!(error, ImportError::TooLarge(_)), "{error}");
    }

    #[test]
    fn errors_quote_a_short_excerpt_of_the_input() {
        let huge = "x".repeat(5_000_000);
        let csv = format!("{huge}\n");
        let error = import_csv(csv.as_bytes()).unwrap_err();
        assert!(error.0.len() < 400 && error.0.contains("no `post_id` column"), "{error}");
        for column in ["created_at", "timezone", "media", "likes"] {
            let error = post_with(column, &huge).unwrap_err();
            assert!(error.len() < 200 && error.contains(column) && error.contains('…'), "{error}");
        }
        let jsonl = format!("{{\"post_id\": [\"{huge}\"]}}\n");
        let reason = &import_json_lines(jsonl.as_bytes()).unwrap().errors[0].reason;
        assert!(reason.len() < 200, "{reason}");
        let jsonl = format!("{huge}\n");
        assert!(import_json_lines(jsonl.as_bytes()).unwrap_err().0.len() < 200);
    }
}
