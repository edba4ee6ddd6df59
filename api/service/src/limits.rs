//! Every number and size a caller controls has a maximum, and they are all listed here.
//!
//! A hostile client's cheapest attack is a number: `top_k = 4294967295` once asked the
//! allocator for 8.8 TB. So each count, length and time that arrives over REST, gRPC or the CLI
//! is checked against a constant below before any work is done, in the service layer that both
//! protocols call, and the REST schema shows the same constants (`maximum` in `/openapi.json`).
//! Limits that belong to a lower crate (import rows, word-list entries) are defined there and
//! re-exported here, so this file is the one list to read.

use crate::error::ServiceError;

pub use eiq_datasets::{MAX_ACCOUNT_ID_BYTES, MAX_COUNT};
pub use eiq_features::ImportLimits;
pub use eiq_features::best_times::{MAX_BLACKOUTS, MAX_TOP_K};

pub use crate::captions::{
    MAX_GENERATED_TOKENS, MAX_HASHTAGS_WISH, MAX_MODEL_DRAFT_BYTES, MAX_PLATFORMS, MAX_TONE_BYTES, MAX_VARIANTS,
};
pub use crate::hashtags::MAX_SUGGESTED_HASHTAGS;
pub use crate::images::{
    IMAGE_CACHE_ENTRIES, IMAGE_CACHE_PER_TENANT, IMAGE_CACHE_TTL, MAX_ALT_TEXT_CHARS, MAX_IMAGE_ID_BYTES,
};
pub use crate::index::{MAX_PLATFORM_BYTES, MAX_SEARCH_K};
pub use crate::posts::{
    MAX_MEDIA_DURATION_S, MAX_MEDIA_ITEMS, MAX_MEDIA_PIXELS_SIDE, MAX_POST_BYTES, MAX_RULE_VALUE, MAX_TITLE_BYTES,
};
pub use crate::tenants::{MAX_KEY_DAYS, MAX_KEY_NAME_BYTES};
pub use crate::text::{MAX_DUPLICATE_WINDOW_DAYS, MAX_ENTRY_BYTES, MAX_ENTRY_WORDS, MAX_LIST_ENTRIES, MAX_SPELLINGS};

/// Longest text, in bytes, of one item: a post to analyse, gate, embed or forecast. Every
/// platform's post limit is far below; longer texts are documents, not posts.
pub const MAX_TEXT_BYTES: usize = 64 * 1024;
/// Most candidate times in one forecast.
pub const MAX_CANDIDATES: usize = 1_000;
/// Earliest and latest time accepted anywhere (2000-01-01 and 2100-01-01, Unix seconds).
pub const EARLIEST_TIME: i64 = 946_684_800;
pub const LATEST_TIME: i64 = 4_102_444_800;
/// Longest an analysis (model and word lists) may take before the caller is told to retry (503):
/// room for a full default queue (8,192 texts, about 25 s on two cores) to drain. The gate's own,
/// shorter `--gate-timeout-ms` fails closed first.
pub const ANALYSIS_DEADLINE: std::time::Duration = std::time::Duration::from_secs(60);
/// Most characters of a caller's input that an error message quotes back.
pub const MAX_ECHO_CHARS: usize = 40;
/// Longest error message sent to a client, in bytes; longer ones are cut (gRPC carries the
/// message in a header, which clients refuse past a few KiB).
pub const MAX_ERROR_BYTES: usize = 1_024;

/// A short, quoted-safe prefix of caller input for an error message.
pub fn excerpt(text: &str) -> String {
    eiq_datasets::excerpt(text, MAX_ECHO_CHARS)
}

/// Refuses a text over [`MAX_TEXT_BYTES`]; `field` names it in the error (`inputs[3]`).
pub fn check_text(field: &str, text: &str) -> Result<(), ServiceError> {
    if text.len() > MAX_TEXT_BYTES {
        return Err(ServiceError::invalid(
            field,
            format!("{field} is {} bytes; at most {MAX_TEXT_BYTES} are allowed", text.len()),
        ));
    }
    Ok(())
}

/// Refuses a time outside [`EARLIEST_TIME`]–[`LATEST_TIME`].
pub fn check_time(field: &str, seconds: i64) -> Result<(), ServiceError> {
    if !(EARLIEST_TIME..=LATEST_TIME).contains(&seconds) {
        return Err(ServiceError::invalid(
            field,
            format!(
                "{field} ({seconds}) is outside 2000-01-01 – 2100-01-01 (Unix seconds {EARLIEST_TIME}–{LATEST_TIME})"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_and_texts_have_edges() {
        assert!(check_time("at", EARLIEST_TIME).is_ok() && check_time("at", LATEST_TIME).is_ok());
        for bad in [i64::MIN, -1, 0, EARLIEST_TIME - 1, LATEST_TIME + 1, i64::MAX] {
            assert!(check_time("at", bad).is_err(), "{bad}");
        }
        assert!(check_text("text", &"a".repeat(MAX_TEXT_BYTES)).is_ok());
        assert!(check_text("text", &"a".repeat(MAX_TEXT_BYTES + 1)).is_err());
        assert!(excerpt(&"é".repeat(10_000)).chars().count() <= MAX_ECHO_CHARS + 1);
    }
}
