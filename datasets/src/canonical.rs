//! The canonical post schema as CSV (with a header) and JSON Lines: the formats a team exports
//! from a spreadsheet or another tool. Columns are named as in `features/README.md`; extra
//! columns are ignored, missing required ones make the file the wrong format, and a bad value is
//! a row error naming the row (data rows from 1; for JSON Lines, the line) and the column.

use std::str::FromStr;

use serde_json::Value;

use crate::posts::{Imported, MediaType, NotThisFormat, Post, RowError};

pub const REQUIRED_COLUMNS: [&str; 5] = ["post_id", "account_id", "platform", "created_at", "text"];

/// Times before 2000 or after 2100 are mistakes (milliseconds given as seconds, or a zero).
const EARLIEST: i64 = 946_684_800;
const LATEST: i64 = 4_102_444_800;

pub fn import_csv(bytes: &[u8]) -> Result<Imported, NotThisFormat> {
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(bytes);
    let header = reader.byte_headers().map_err(|e| NotThisFormat(format!("unreadable CSV header: {e}")))?.clone();
    let names: Vec<String> = header.iter().map(|h| String::from_utf8_lossy(h).trim().to_ascii_lowercase()).collect();
    if let Some(missing) = REQUIRED_COLUMNS.iter().find(|c| !names.iter().any(|n| n == *c)) {
        return Err(NotThisFormat(format!(
            "the CSV header has no `{missing}` column (required: {}; found: {})",
            REQUIRED_COLUMNS.join(", "),
            names.join(", ")
        )));
    }
    let mut imported = Imported::default();
    for (index, record) in reader.byte_records().enumerate() {
        let row = index + 1;
        let result = record.map_err(|e| format!("unreadable CSV: {e}")).and_then(|record| {
            let field = |name: &str| -> Result<Option<String>, String> {
                let Some(column) = names.iter().position(|n| n == name) else { return Ok(None) };
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
            Err(reason) => imported.errors.push(RowError { row, reason }),
        }
    }
    Ok(imported)
}

pub fn import_json_lines(bytes: &[u8]) -> Result<Imported, NotThisFormat> {
    let mut imported = Imported::default();
    let mut objects = 0;
    for (index, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let row = index + 1;
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
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
                    Some(other) => Err(format!("`{name}` should be a string or a number, not {other}")),
                }
            };
            parse_post(&field)
        });
        match result {
            Ok(post) => imported.posts.push(post),
            Err(reason) => imported.errors.push(RowError { row, reason }),
        }
    }
    // A file none of whose lines is an object is not JSON Lines at all.
    if objects == 0 && !imported.errors.is_empty() {
        let first = &imported.errors[0];
        return Err(NotThisFormat(format!("not JSON Lines: line {}: {}", first.row, first.reason)));
    }
    Ok(imported)
}

/// One row, from a lookup of its raw column values.
pub fn parse_post(field: &dyn Fn(&str) -> Result<Option<String>, String>) -> Result<Post, String> {
    let text_of = |name: &str| -> Result<Option<String>, String> {
        Ok(field(name)?.map(|s| s.trim().to_string()).filter(|s| !s.is_empty()))
    };
    let required = |name: &str| text_of(name)?.ok_or_else(|| format!("`{name}` is empty"));
    let count = |name: &str| -> Result<Option<u64>, String> {
        text_of(name)?
            .map(|s| s.parse::<u64>().map_err(|_| format!("`{name}`: `{s}` is not a non-negative whole number")))
            .transpose()
    };
    let timezone = text_of("timezone")?;
    if let Some(zone) = &timezone {
        chrono_tz::Tz::from_str(zone).map_err(|_| format!("`timezone`: `{zone}` is not an IANA timezone"))?;
    }
    let media = match text_of("media")?.as_deref().map(str::to_ascii_lowercase).as_deref() {
        None | Some("none") => MediaType::None,
        Some("photo") => MediaType::Photo,
        Some("video") => MediaType::Video,
        Some("gif") => MediaType::Gif,
        Some(other) => return Err(format!("`media`: `{other}` is not one of none, photo, video, gif")),
    };
    Ok(Post {
        post_id: required("post_id")?,
        account_id: required("account_id")?,
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

/// Seconds since the epoch, or RFC 3339 (`2024-03-04T08:00:00Z`, `2024-03-04T09:00:00+01:00`).
pub fn parse_time(text: &str) -> Result<i64, String> {
    let seconds = match text.parse::<i64>() {
        Ok(seconds) => seconds,
        Err(_) => chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|_| format!("`created_at`: `{text}` is neither Unix seconds nor RFC 3339"))?
            .timestamp(),
    };
    if !(EARLIEST..LATEST).contains(&seconds) {
        return Err(format!("`created_at`: {seconds} is outside 2000–2100 (milliseconds given as seconds?)"));
    }
    Ok(seconds)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
