//! What one import may cost, and how much of its input an error may quote.
//!
//! A history file is small on the wire but can ask for far more work or memory than its size
//! suggests: a CSV header of a million columns, a Parquet file whose 100 KB decode to millions of
//! rows. Every importer checks [`ImportLimits`] as early as it can and refuses a file over one
//! whole, with [`LimitExceeded`], so a caller can answer "too large" rather than "wrong format".
//!
//! Errors name the value that was wrong, and that value is the client's input: unquoted, a
//! 50 MB row would come back as a 50 MB error. [`excerpt`] keeps every quote short and printable.

/// Limits on one imported file. The defaults suit any single account's history with room to
/// spare; an operator importing a bigger archive raises them explicitly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImportLimits {
    /// Rows (CSV records, JSON lines, statuses, Parquet rows) in one file.
    pub max_rows: usize,
    /// Columns in a CSV header or a Parquet schema.
    pub max_columns: usize,
    /// Uncompressed bytes of the Parquet columns an import reads, as the file's metadata declares
    /// them (the text formats cannot decode to much more than their own size).
    pub max_decoded_bytes: u64,
}

impl ImportLimits {
    /// A million posts: decades of a busy account.
    pub const DEFAULT_MAX_ROWS: usize = 1_000_000;
    /// The canonical schema has 12 columns; exports from other tools add some, not thousands.
    pub const DEFAULT_MAX_COLUMNS: usize = 256;
    /// 256 MiB: a million posts of ordinary length, decoded.
    pub const DEFAULT_MAX_DECODED_BYTES: u64 = 256 << 20;
}

impl Default for ImportLimits {
    fn default() -> Self {
        Self {
            max_rows: Self::DEFAULT_MAX_ROWS,
            max_columns: Self::DEFAULT_MAX_COLUMNS,
            max_decoded_bytes: Self::DEFAULT_MAX_DECODED_BYTES,
        }
    }
}

/// A file over one of the [`ImportLimits`]: refused whole, not row by row.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("too large: {}", describe(.what, *.limit, *.found))]
pub struct LimitExceeded {
    /// What was counted: `rows`, `columns`, `uncompressed bytes`.
    pub what: &'static str,
    pub limit: u64,
    /// The file's count when it is known up front (Parquet metadata, a parsed JSON array);
    /// `None` when reading stopped as soon as the limit was passed.
    pub found: Option<u64>,
}

impl LimitExceeded {
    pub(crate) fn rows(limit: usize, found: Option<usize>) -> Self {
        Self { what: "rows", limit: limit as u64, found: found.map(|n| n as u64) }
    }
}

fn describe(what: &str, limit: u64, found: Option<u64>) -> String {
    match found {
        Some(found) => format!("{found} {what}, over the limit of {limit}"),
        None => format!("more than the limit of {limit} {what}"),
    }
}

/// How many characters of a value an error message quotes.
pub const QUOTE_CHARS: usize = 48;

/// The start of `text`, at most `max_chars` characters, ending in `…` when cut. Control
/// characters (newlines, terminal escapes) are written as escapes, so a quote stays on one line
/// and cannot drive a terminal or forge a log line; an escape counts as the characters it shows.
pub fn excerpt(text: &str, max_chars: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max_chars * 4));
    let mut used = 0;
    for c in text.chars() {
        let shown: String = match c.is_control() {
            true => c.escape_debug().collect(),
            false => c.into(),
        };
        let width = shown.chars().count();
        if used + width > max_chars {
            out.push('…');
            break;
        }
        out.push_str(&shown);
        used += width;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn excerpts_are_short_printable_and_cut_at_a_character() {
        assert_eq!(excerpt("hello", 5), "hello");
        assert_eq!(excerpt("hello, world", 5), "hello…");
        assert_eq!(excerpt("ééééé", 2), "éé…");
        assert_eq!(excerpt("a\nb\u{1b}[31m", 20), "a\\nb\\u{1b}[31m");
        assert_eq!(excerpt("ab\ncd", 3), "ab…", "an escape is not split");
        assert_eq!(excerpt(&"x".repeat(50_000_000), QUOTE_CHARS).chars().count(), QUOTE_CHARS + 1);
    }

    #[test]
    fn a_limit_says_what_was_counted() {
        let known = LimitExceeded { what: "rows", limit: 10, found: Some(12) };
        assert_eq!(known.to_string(), "too large: 12 rows, over the limit of 10");
        assert_eq!(LimitExceeded::rows(10, None).to_string(), "too large: more than the limit of 10 rows");
    }
}
