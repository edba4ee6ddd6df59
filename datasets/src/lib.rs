//! The public data the in-house models learn from, loaded the same way every time.
//!
//! Two formats: TweetEval's aligned `*_text.txt` / `*_labels.txt` / `mapping.txt` folders, and the
//! tab-separated SemEval-2017 Task 4A files (`id \t label \t text`, with `\uXXXX` escapes and stray
//! quotes). Test splits are held out on purpose, so there is no way to ask for one here.
//! Near-copies matter more than exact ones: [`normalize`] is the key both de-duplication and the
//! train/validation overlap check use, so a tweet that differs only by a URL, a mention or
//! punctuation counts as the same tweet.

mod canonical;
mod dedup;
mod error;
mod limits;
mod normalize;
mod posts;
mod rng;
mod rtweet;
mod semeval;
mod synthetic;
mod tweeteval;
pub mod twitter_text;

pub use canonical::{
    MAX_ACCOUNT_ID_BYTES, MAX_COUNT, POST_COLUMNS, REQUIRED_COLUMNS, format_time, format_time_ms, import_csv,
    import_json_lines, now, now_ms, parse_post, parse_time,
};
pub use dedup::{DedupReport, dedup, drop_overlap};
pub use error::DatasetError;
pub use limits::{ImportLimits, LimitExceeded, QUOTE_CHARS, excerpt};
pub use normalize::normalize;
pub use posts::{
    ImportError, Imported, KEPT_ROW_ERRORS, MediaType, NotThisFormat, Post, RowError, import_x_archive,
    import_x_statuses, parse_x_time,
};
pub use rng::SplitMix64;
pub use rtweet::load_rtweet_fixtures;
pub use semeval::load_semeval_dir;
pub use synthetic::{Synthetic, SyntheticConfig, Truth, generate};
pub use tweeteval::{Split, load_tweeteval};

/// One labelled text; `label` indexes the set's `labels`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Example {
    pub text: String,
    pub label: usize,
}

/// Examples with the names of their labels, in label-id order.
#[derive(Debug, Clone)]
pub struct LabeledSet {
    pub labels: Vec<String>,
    pub examples: Vec<Example>,
}
