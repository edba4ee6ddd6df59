//! The canonical post schema as a Polars frame, both ways. Parquet files from other tools are
//! read through [`posts_from_frame`], which checks every row as the CSV importer does.
//!
//! Counts are `i64` columns holding 0 to [`MAX_COUNT`] (2^53): every importer checks that, and
//! [`posts_to_frame`] refuses a hand-built post outside it, so sums of counts never overflow.

use eiq_datasets::{Imported, MAX_COUNT, Post, QUOTE_CHARS, REQUIRED_COLUMNS, RowError, excerpt, parse_post};
use polars::prelude::*;

use crate::FeatureError;

const TEXT_COLUMNS: [&str; 6] = ["post_id", "account_id", "platform", "timezone", "text", "media"];
const COUNT_COLUMNS: [&str; 5] = ["likes", "comments", "shares", "impressions", "followers"];

pub fn posts_to_frame(posts: &[Post]) -> Result<DataFrame, FeatureError> {
    let text = |f: fn(&Post) -> &str| posts.iter().map(f).collect::<Vec<&str>>();
    let count = |name: &str, f: fn(&Post) -> Option<u64>| -> Result<Vec<Option<i64>>, FeatureError> {
        let checked = |(i, count): (usize, u64)| match count <= MAX_COUNT {
            true => Ok(count as i64),
            false => Err(FeatureError::BadRow(RowError { row: i + 1, reason: format!("`{name}` is over 2^53") })),
        };
        posts.iter().enumerate().map(|(i, p)| f(p).map(|c| checked((i, c))).transpose()).collect()
    };
    let columns = vec![
        Column::new("post_id".into(), text(|p| &p.post_id)),
        Column::new("account_id".into(), text(|p| &p.account_id)),
        Column::new("platform".into(), text(|p| &p.platform)),
        Column::new("created_at".into(), posts.iter().map(|p| p.created_at).collect::<Vec<i64>>()),
        Column::new("timezone".into(), posts.iter().map(|p| p.timezone.as_deref()).collect::<Vec<_>>()),
        Column::new("text".into(), text(|p| &p.text)),
        Column::new("media".into(), posts.iter().map(|p| p.media.as_str()).collect::<Vec<&str>>()),
        Column::new("likes".into(), count("likes", |p| p.likes)?),
        Column::new("comments".into(), count("comments", |p| p.comments)?),
        Column::new("shares".into(), count("shares", |p| p.shares)?),
        Column::new("impressions".into(), count("impressions", |p| p.impressions)?),
        Column::new("followers".into(), count("followers", |p| p.followers)?),
    ];
    Ok(DataFrame::new(posts.len(), columns)?)
}

/// Rows of a frame in the canonical schema (as written by any tool): each row is checked like a
/// CSV row, so a bad value is a row error, not a failed file.
pub fn posts_from_frame(frame: &DataFrame) -> Result<Imported, FeatureError> {
    let wrong = |reason: String| FeatureError::WrongFormat { format: "canonical posts", row: None, reason };
    let names: Vec<&str> = frame.get_column_names().iter().map(|n| n.as_str()).collect();
    if let Some(missing) = missing_column(&names) {
        return Err(missing);
    }
    let as_strings = |name: &str| -> Result<Option<StringChunked>, FeatureError> {
        let Ok(column) = frame.column(name) else { return Ok(None) };
        let column = match column.dtype() {
            DataType::Datetime(unit, _) => {
                let per_second = match unit {
                    TimeUnit::Milliseconds => 1_000,
                    TimeUnit::Microseconds => 1_000_000,
                    TimeUnit::Nanoseconds => 1_000_000_000,
                };
                let seconds = column.cast(&DataType::Int64)?.as_materialized_series().i64()?.clone() / per_second;
                seconds.into_series().into_column()
            }
            _ => column.clone(),
        };
        let strings = column.cast(&DataType::String).map_err(|e| {
            let e = excerpt(&e.to_string(), 2 * QUOTE_CHARS);
            wrong(format!("column `{name}` ({}) cannot be read as text: {e}", column.dtype()))
        })?;
        Ok(Some(strings.as_materialized_series().str()?.clone()))
    };
    let columns: Vec<(&str, Option<StringChunked>)> = TEXT_COLUMNS
        .iter()
        .chain(COUNT_COLUMNS.iter())
        .chain(["created_at"].iter())
        .map(|name| Ok((*name, as_strings(name)?)))
        .collect::<Result<_, FeatureError>>()?;
    let mut imported = Imported::default();
    for row in 0..frame.height() {
        let field = |name: &str| -> Result<Option<String>, String> {
            Ok(columns
                .iter()
                .find(|(n, _)| *n == name)
                .and_then(|(_, c)| c.as_ref())
                .and_then(|c| c.get(row))
                .map(str::to_string))
        };
        match parse_post(&field) {
            Ok(post) => imported.posts.push(post),
            Err(reason) => imported.reject(row + 1, reason),
        }
    }
    Ok(imported)
}

/// The wrong-format error for columns without every required one, naming (some of) those found.
pub(crate) fn missing_column(names: &[&str]) -> Option<FeatureError> {
    let missing = REQUIRED_COLUMNS.iter().find(|c| !names.contains(*c))?;
    let found = excerpt(&names.join(", "), 2 * QUOTE_CHARS);
    Some(FeatureError::WrongFormat {
        format: "canonical posts",
        row: None,
        reason: format!("no `{missing}` column (found: {found})"),
    })
}

/// The frame's rows as posts, for frames this crate wrote (a stored history): no row can fail.
/// A count outside 0–2^53 can only come from a version that stored counts unchecked (2^63 became
/// i64::MIN): it is read as unknown, so one old bad row cannot make its account unimportable.
pub fn stored_posts(frame: &DataFrame) -> Result<Vec<Post>, FeatureError> {
    let mut frame = frame.clone();
    for name in COUNT_COLUMNS {
        let Ok(column) = frame.column(name) else { continue };
        if column.dtype() != &DataType::Int64 {
            continue;
        }
        let counts = column.i64()?;
        let checked: Int64Chunked =
            (0..counts.len()).map(|row| counts.get(row).filter(|c| (0..=MAX_COUNT as i64).contains(c))).collect();
        frame.with_column(checked.with_name(name.into()).into_series().into_column())?;
    }
    let imported = posts_from_frame(&frame)?;
    match imported.errors.into_iter().next() {
        Some(error) => Err(FeatureError::BadRow(error)),
        None => Ok(imported.posts),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_stored_unchecked_by_an_old_version_read_as_unknown() {
        let frame = df!(
            "post_id" => ["1", "2"], "account_id" => ["a", "a"], "platform" => ["x", "x"],
            "created_at" => [1_736_121_600i64, 1_736_125_200], "text" => ["t", "u"],
            "likes" => [i64::MIN, 7], "comments" => [1i64, -1],
        )
        .unwrap();
        let posts = stored_posts(&frame).unwrap();
        let counts: Vec<_> = posts.iter().map(|p| (p.likes, p.comments)).collect();
        assert_eq!(counts, [(None, Some(1)), (Some(7), None)]);
    }
}
