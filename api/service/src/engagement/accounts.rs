//! Per-account facts of a history (posts, first and last post, platforms), computed once per
//! generation with the digest.

use std::collections::{BTreeMap, BTreeSet};

use polars::prelude::DataFrame;

/// One account of a tenant's history.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountStats {
    pub account_id: String,
    pub posts: usize,
    /// Unix seconds.
    pub first_post_at: i64,
    pub last_post_at: i64,
    pub platforms: Vec<String>,
}

/// Every account of a feature frame (`account_id`, `created_at`, `platform`), sorted by id.
pub fn account_stats(features: &DataFrame) -> Result<Vec<AccountStats>, polars::error::PolarsError> {
    let accounts = features.column("account_id")?.str()?;
    let times = features.column("created_at")?.i64()?;
    let platforms = features.column("platform")?.str()?;
    let mut by_account: BTreeMap<&str, (usize, i64, i64, BTreeSet<&str>)> = BTreeMap::new();
    for i in 0..features.height() {
        let (Some(account), Some(time)) = (accounts.get(i), times.get(i)) else { continue };
        let entry = by_account.entry(account).or_insert((0, i64::MAX, i64::MIN, BTreeSet::new()));
        entry.0 += 1;
        entry.1 = entry.1.min(time);
        entry.2 = entry.2.max(time);
        if let Some(platform) = platforms.get(i) {
            entry.3.insert(platform);
        }
    }
    Ok(by_account
        .into_iter()
        .map(|(account, (posts, first, last, platforms))| AccountStats {
            account_id: account.to_string(),
            posts,
            first_post_at: first,
            last_post_at: last,
            platforms: platforms.into_iter().map(str::to_string).collect(),
        })
        .collect())
}
