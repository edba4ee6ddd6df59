//! Post history in one canonical schema, and the Polars pipelines that turn it into features.
//!
//! Importers for every supported format return canonical posts and a report of bad rows
//! ([`import`]); histories are stored as Parquet per tenant and account ([`store`]); the feature
//! pipeline ([`pipeline`]) computes per-post features with no look-ahead; [`best_times`] turns
//! features into an expected-engagement week per account, shrunk toward wider priors.

pub mod best_times;
mod error;
pub mod import;
pub mod io;
pub mod local_time;
pub mod pipeline;
mod schema;
pub mod store;

pub use eiq_datasets::{ImportLimits, LimitExceeded};
pub use error::FeatureError;
pub use import::{HistoryFormat, ImportOptions, import_bytes};
pub use pipeline::{FEATURE_COLUMNS, features, post_features};
pub use schema::{posts_from_frame, posts_to_frame, stored_posts};
pub use store::{AccountMerge, HistoryStore};
