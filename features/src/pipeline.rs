//! Post history → one row of features per post, as a Polars lazy plan (definitions in
//! `features/README.md`). Account baselines read only earlier posts: every per-account window is
//! shifted by one row, so a post never sees its own outcome or anything after it.

use eiq_datasets::MAX_COUNT;
use polars::prelude::*;

use crate::FeatureError;
use crate::local_time::utc_offsets;

/// How many previous posts `baseline_recent` averages.
pub const RECENT_POSTS: usize = 10;

/// The feature columns, in output order.
pub const FEATURE_COLUMNS: [&str; 27] = [
    "post_id",
    "account_id",
    "platform",
    "media",
    "created_at",
    "utc_offset_s",
    "hour_of_week",
    "day_of_week",
    "hour",
    "day_part",
    "gap_hours",
    "prior_posts",
    "engagement",
    "log_engagement",
    "baseline_mean",
    "baseline_recent",
    "relative_engagement",
    "log_followers",
    "chars",
    "words",
    "hashtags",
    "mentions",
    "urls",
    "emoji",
    "questions",
    "exclamations",
    "timezone",
];

/// Canonical posts (any order) → features, sorted by account, time and post id.
pub fn features(posts: DataFrame) -> Result<DataFrame, FeatureError> {
    Ok(with_offsets(posts)?
        .lazy()
        .sort(["account_id", "created_at", "post_id"], SortMultipleOptions::default().with_maintain_order(true))
        .with_columns(time_and_text())
        .with_columns(history()?)
        .with_column((col("log_engagement") - col("baseline_mean")).alias("relative_engagement"))
        .select(FEATURE_COLUMNS.map(col))
        .collect()?)
}

/// The features that depend on the post alone (its time, zone and text), for drafts that have
/// no outcome yet: the same expressions as [`features`], so serving cannot drift from training.
pub fn post_features(posts: DataFrame) -> Result<DataFrame, FeatureError> {
    Ok(with_offsets(posts)?.lazy().with_columns(time_and_text()).collect()?)
}

fn with_offsets(mut posts: DataFrame) -> Result<DataFrame, FeatureError> {
    let offsets = {
        let zones = posts.column("timezone")?.str()?;
        let times = posts.column("created_at")?.i64()?;
        utc_offsets(zones.iter().zip(times.iter()).map(|(zone, time)| (zone, time.unwrap_or(0))))
    };
    posts.with_column(Column::new("utc_offset_s".into(), offsets))?;
    Ok(posts)
}

fn time_and_text() -> Vec<Expr> {
    let local = col("created_at") + col("utc_offset_s").cast(DataType::Int64);
    let day_of_week = (local.clone().floor_div(lit(86_400i64)) + lit(3i64)) % lit(7i64);
    let hour = (local % lit(86_400i64)).floor_div(lit(3600i64));
    let count = |pattern: &str| col("text").str().count_matches(lit(pattern), false).cast(DataType::Int64);
    let count_char = |c: &str| col("text").str().count_matches(lit(c), true).cast(DataType::Int64);
    vec![
        (day_of_week.clone() * lit(24i64) + hour.clone()).alias("hour_of_week"),
        day_of_week.alias("day_of_week"),
        hour.clone().alias("hour"),
        when(hour.clone().lt(lit(6i64)))
            .then(lit("night"))
            .when(hour.clone().lt(lit(12i64)))
            .then(lit("morning"))
            .when(hour.lt(lit(18i64)))
            .then(lit("afternoon"))
            .otherwise(lit("evening"))
            .alias("day_part"),
        col("followers").cast(DataType::Float64).log1p().alias("log_followers"),
        col("text").str().len_chars().cast(DataType::Int64).alias("chars"),
        count(r"\S+").alias("words"),
        count(r"#\w+").alias("hashtags"),
        count(r"@\w+").alias("mentions"),
        count(r"https?://\S+").alias("urls"),
        count(r"[\x{1F300}-\x{1FAFF}\x{2600}-\x{27BF}]").alias("emoji"),
        count_char("?").alias("questions"),
        count_char("!").alias("exclamations"),
    ]
}

fn history() -> PolarsResult<Vec<Expr>> {
    let account = [col("account_id")];
    // Imported counts are at most 2^53, so the sum fits an i64 (which Polars would wrap); the clip
    // keeps that true of any frame, such as a history stored before counts were checked.
    let count = |name: &str| col(name).fill_null(lit(0i64)).clip(lit(0i64), lit(MAX_COUNT as i64));
    let engagement = count("likes") + count("comments") + count("shares");
    let log_engagement = engagement.clone().cast(DataType::Float64).log1p();
    let previous = log_engagement.clone().shift(lit(1i64));
    let prior_posts = col("created_at").cum_count(false).over(account.clone())?.cast(DataType::Int64) - lit(1i64);
    let recent = RollingOptionsFixedWindow { window_size: RECENT_POSTS, min_periods: 1, ..Default::default() };
    let previous_time = col("created_at").shift(lit(1i64)).over(account.clone())?;
    Ok(vec![
        ((col("created_at") - previous_time).cast(DataType::Float64) / lit(3600.0)).alias("gap_hours"),
        prior_posts.clone().alias("prior_posts"),
        engagement.alias("engagement"),
        log_engagement.alias("log_engagement"),
        (previous.clone().cum_sum(false).over(account.clone())? / prior_posts.cast(DataType::Float64))
            .alias("baseline_mean"),
        previous.rolling_mean(recent).over(account)?.alias("baseline_recent"),
    ])
}
