//! What each hashtag did for engagement, per account and for the tenant: computed once per
//! history generation (with the digest), read by hashtag suggestions.
//!
//! A tag's *lift* is the mean `relative_engagement` of the posts that carry it (each post's log
//! engagement against its account's baseline before it, from the feature pipeline), shrunk toward
//! zero by post count: `mean × n / (n + SHRINK_POSTS)`. A tag used once that happened to go
//! viral is not yet evidence; one used on forty posts that all beat the baseline is.

use std::collections::HashMap;

use polars::prelude::*;

/// Posts of prior weight toward "no effect" in a tag's lift.
pub const SHRINK_POSTS: f64 = 5.0;

/// One tag's record.
#[derive(Debug, Clone, PartialEq)]
pub struct TagStat {
    /// Its most used spelling (`ActOnClimate`), without `#`.
    pub spelling: String,
    pub posts: usize,
    /// Shrunk mean relative engagement (log scale); `exp(lift) - 1` is the share above baseline.
    pub lift: f64,
}

/// Tags by lower-cased key, per account and for the whole tenant.
#[derive(Debug, Clone, Default)]
pub struct TagLift {
    pub accounts: HashMap<String, HashMap<String, TagStat>>,
    pub tenant: HashMap<String, TagStat>,
}

impl TagLift {
    /// The account's record of `key` (lower-cased), else the tenant's.
    pub fn get(&self, account: Option<&str>, key: &str) -> Option<&TagStat> {
        account.and_then(|a| self.accounts.get(a)).and_then(|tags| tags.get(key)).or_else(|| self.tenant.get(key))
    }
}

/// The tag table of a history: `posts` (canonical, with `text`) and its `features`.
pub fn tag_lift(posts: &DataFrame, features: &DataFrame) -> PolarsResult<TagLift> {
    let accounts = posts.column("account_id")?.str()?;
    let ids = posts.column("post_id")?.str()?;
    let texts = posts.column("text")?.str()?;
    let (mut tag_accounts, mut tag_posts, mut tag_keys) = (Vec::new(), Vec::new(), Vec::new());
    // Spelling counts per key, to name each tag as it is most often written.
    let mut spellings: HashMap<String, HashMap<String, usize>> = HashMap::new();
    for i in 0..posts.height() {
        let (Some(account), Some(id), Some(text)) = (accounts.get(i), ids.get(i), texts.get(i)) else { continue };
        let mut seen = std::collections::HashSet::new();
        for tag in eiq_datasets::twitter_text::extract_hashtags(text) {
            let key = tag.value.to_lowercase();
            *spellings.entry(key.clone()).or_default().entry(tag.value).or_default() += 1;
            if seen.insert(key.clone()) {
                tag_accounts.push(account.to_string());
                tag_posts.push(id.to_string());
                tag_keys.push(key);
            }
        }
    }
    let rows = tag_keys.len();
    let tags = DataFrame::new(
        rows,
        vec![
            Column::new("account_id".into(), tag_accounts),
            Column::new("post_id".into(), tag_posts),
            Column::new("tag".into(), tag_keys),
        ],
    )?;
    let outcomes = features.select(["account_id", "post_id", "relative_engagement"])?;
    let joined = tags.lazy().join(
        outcomes.lazy(),
        [col("account_id"), col("post_id")],
        [col("account_id"), col("post_id")],
        JoinArgs::new(JoinType::Left),
    );
    let shrunk = |mean: Expr| {
        let n = len().cast(DataType::Float64);
        (mean.fill_null(lit(0.0)) * n.clone() / (n + lit(SHRINK_POSTS))).alias("lift")
    };
    let per_account = joined
        .clone()
        .group_by([col("account_id"), col("tag")])
        .agg([len().alias("posts"), shrunk(col("relative_engagement").mean())])
        .collect()?;
    let per_tenant = joined
        .group_by([col("tag")])
        .agg([len().alias("posts"), shrunk(col("relative_engagement").mean())])
        .collect()?;

    let spelling = |key: &str| {
        spellings
            .get(key)
            .and_then(|counts| counts.iter().max_by(|a, b| a.1.cmp(b.1).then(b.0.cmp(a.0))).map(|(s, _)| s.clone()))
            .unwrap_or_else(|| key.to_string())
    };
    let stat = |frame: &DataFrame, i: usize| -> PolarsResult<Option<(String, TagStat)>> {
        let key = frame.column("tag")?.str()?.get(i).map(str::to_string);
        let posts = frame.column("posts")?.cast(&DataType::UInt64)?.u64()?.get(i).unwrap_or(0) as usize;
        let lift = frame.column("lift")?.f64()?.get(i).filter(|l| l.is_finite()).unwrap_or(0.0);
        Ok(key.map(|key| {
            let spelling = spelling(&key);
            (key, TagStat { spelling, posts, lift })
        }))
    };
    let mut table = TagLift::default();
    let account_column = per_account.column("account_id")?.str()?.clone();
    for i in 0..per_account.height() {
        if let (Some(account), Some((key, stat))) = (account_column.get(i), stat(&per_account, i)?) {
            table.accounts.entry(account.to_string()).or_default().insert(key, stat);
        }
    }
    for i in 0..per_tenant.height() {
        if let Some((key, stat)) = stat(&per_tenant, i)? {
            table.tenant.insert(key, stat);
        }
    }
    Ok(table)
}
