//! Feature rows as the forecaster reads them: the one place a Polars frame becomes plain Rust
//! values, and plain values become the design matrix (ndarray 0.16, linfa's).

use ndarray_linfa::{Array1, Array2};
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::TrainingError;

/// One post's features (`features/README.md`), nulls kept as `None`.
#[derive(Debug, Clone, PartialEq)]
pub struct PostRow {
    pub account_id: String,
    pub platform: String,
    pub media: String,
    pub created_at: i64,
    pub hour: i64,
    pub day_of_week: i64,
    pub hour_of_week: i64,
    pub gap_hours: Option<f64>,
    pub prior_posts: i64,
    pub baseline_mean: Option<f64>,
    pub baseline_recent: Option<f64>,
    pub log_followers: Option<f64>,
    pub chars: i64,
    pub words: i64,
    pub hashtags: i64,
    pub mentions: i64,
    pub urls: i64,
    pub emoji: i64,
    pub questions: i64,
    pub exclamations: i64,
    /// The target; absent for drafts.
    pub log_engagement: Option<f64>,
}

pub fn rows(features: &DataFrame) -> Result<Vec<PostRow>, TrainingError> {
    let text = |name: &str| -> Result<StringChunked, TrainingError> {
        Ok(features.column(name)?.cast(&DataType::String)?.as_materialized_series().str()?.clone())
    };
    let int = |name: &str| -> Result<Int64Chunked, TrainingError> {
        Ok(features.column(name)?.cast(&DataType::Int64)?.as_materialized_series().i64()?.clone())
    };
    let float = |name: &str| -> Result<Float64Chunked, TrainingError> {
        match features.column(name) {
            Ok(column) => Ok(column.cast(&DataType::Float64)?.as_materialized_series().f64()?.clone()),
            // Drafts have no history columns yet.
            Err(_) => Ok(Float64Chunked::full_null(name.into(), features.height())),
        }
    };
    let (account, platform, media) = (text("account_id")?, text("platform")?, text("media")?);
    let ints: Vec<Int64Chunked> = [
        "created_at",
        "hour",
        "day_of_week",
        "hour_of_week",
        "chars",
        "words",
        "hashtags",
        "mentions",
        "urls",
        "emoji",
        "questions",
        "exclamations",
    ]
    .iter()
    .map(|n| int(n))
    .collect::<Result<_, _>>()?;
    let prior = match features.column("prior_posts") {
        Ok(_) => int("prior_posts")?,
        Err(_) => Int64Chunked::full("prior_posts".into(), 0, features.height()),
    };
    let floats: Vec<Float64Chunked> =
        ["gap_hours", "baseline_mean", "baseline_recent", "log_followers", "log_engagement"]
            .iter()
            .map(|n| float(n))
            .collect::<Result<_, _>>()?;
    Ok((0..features.height())
        .map(|i| {
            let n = |c: usize| ints[c].get(i).unwrap_or(0);
            PostRow {
                account_id: account.get(i).unwrap_or("").to_string(),
                platform: platform.get(i).unwrap_or("").to_string(),
                media: media.get(i).unwrap_or("none").to_string(),
                created_at: n(0),
                hour: n(1),
                day_of_week: n(2),
                hour_of_week: n(3),
                chars: n(4),
                words: n(5),
                hashtags: n(6),
                mentions: n(7),
                urls: n(8),
                emoji: n(9),
                questions: n(10),
                exclamations: n(11),
                prior_posts: prior.get(i).unwrap_or(0),
                gap_hours: floats[0].get(i),
                baseline_mean: floats[1].get(i),
                baseline_recent: floats[2].get(i),
                log_followers: floats[3].get(i),
                log_engagement: floats[4].get(i),
            }
        })
        .collect())
}

const MEDIA: [&str; 3] = ["photo", "video", "gif"];

/// How rows become numbers: learned from the training rows (platform vocabulary, fills for
/// missing values) and stored with the model so serving encodes exactly as training did.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Design {
    pub platforms: Vec<String>,
    /// Stand-ins for an unknown baseline (an account's first post) and unknown followers.
    pub fill_baseline: f64,
    pub fill_followers: f64,
    /// A first post's expected log1p(engagement) from its followers: intercept + slope × log_followers.
    pub followers_intercept: f64,
    pub followers_slope: f64,
}

impl Design {
    pub fn learn(rows: &[PostRow]) -> Self {
        let mut platforms: Vec<String> = rows.iter().map(|r| r.platform.clone()).collect();
        platforms.sort();
        platforms.dedup();
        let mean = |values: Vec<f64>| values.iter().sum::<f64>() / values.len().max(1) as f64;
        let fill_baseline = mean(rows.iter().filter_map(|r| r.log_engagement).collect());
        // Least squares of log1p(engagement) on log1p(followers), where both are known.
        let pairs: Vec<(f64, f64)> = rows.iter().filter_map(|r| Some((r.log_followers?, r.log_engagement?))).collect();
        let (mx, my) = (mean(pairs.iter().map(|p| p.0).collect()), mean(pairs.iter().map(|p| p.1).collect()));
        let sxx: f64 = pairs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
        let sxy: f64 = pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
        let followers_slope = if sxx > 1e-9 { sxy / sxx } else { 0.0 };
        Self {
            fill_baseline,
            fill_followers: mx,
            followers_intercept: if pairs.is_empty() { fill_baseline } else { my - followers_slope * mx },
            followers_slope,
            platforms,
        }
    }

    /// Columns both models read; the trees read only these.
    pub fn tree_columns(&self) -> Vec<String> {
        let mut names: Vec<String> = [
            "baseline_mean",
            "baseline_recent",
            "first_post",
            "log_followers",
            "followers_known",
            "log_prior_posts",
            "log_gap_hours",
            "hour",
            "day_of_week",
            "hour_of_week",
            "chars_per_100",
            "words",
            "hashtags",
            "mentions",
            "urls",
            "emoji",
            "question",
            "exclamations",
            "platform_index",
        ]
        .map(String::from)
        .to_vec();
        names.extend(MEDIA.iter().map(|m| format!("media_{m}")));
        names
    }

    /// All columns: the tree columns, then one-hot encodings a linear model needs to bend
    /// (hashtag counts, and each platform's hour of day and weekend).
    pub fn columns(&self) -> Vec<String> {
        let mut names = self.tree_columns();
        names.extend((1..=4).map(|h| format!("hashtags_{h}")));
        for platform in &self.platforms {
            names.push(format!("{platform}_weekend"));
            names.extend((0..24).map(|h| format!("{platform}_hour_{h}")));
        }
        names
    }

    pub fn encode(&self, row: &PostRow) -> Vec<f64> {
        let platform = self.platforms.iter().position(|p| *p == row.platform);
        let mut x = vec![
            row.baseline_mean.unwrap_or(self.fill_baseline),
            row.baseline_recent.unwrap_or(self.fill_baseline),
            f64::from(row.baseline_mean.is_none()),
            row.log_followers.unwrap_or(self.fill_followers),
            f64::from(row.log_followers.is_some()),
            (row.prior_posts as f64).ln_1p(),
            row.gap_hours.map_or(-1.0, f64::ln_1p),
            row.hour as f64,
            row.day_of_week as f64,
            row.hour_of_week as f64,
            row.chars as f64 / 100.0,
            row.words as f64,
            row.hashtags as f64,
            row.mentions as f64,
            row.urls as f64,
            row.emoji as f64,
            f64::from(row.questions > 0),
            row.exclamations as f64,
            platform.map_or(-1.0, |p| p as f64),
        ];
        x.extend(MEDIA.iter().map(|m| f64::from(row.media == *m)));
        x.extend((1..=4).map(|h| f64::from(row.hashtags.min(4) == h)));
        for p in 0..self.platforms.len() {
            let here = platform == Some(p);
            x.push(f64::from(here && row.day_of_week >= 5));
            x.extend((0..24).map(|h| f64::from(here && row.hour == h)));
        }
        x
    }

    /// What a prediction starts from: the account's mean over previous posts, or, for a first
    /// post, what its followers predict. Models learn the departure from it, so an account's
    /// level comes from its own history and the models spend themselves on time, media and text.
    pub fn offset(&self, row: &PostRow) -> f64 {
        row.baseline_mean.unwrap_or_else(|| {
            self.followers_intercept + self.followers_slope * row.log_followers.unwrap_or(self.fill_followers)
        })
    }

    /// Rows → (design matrix, target − offset, offsets) for linfa; rows without a target are skipped.
    pub fn matrix(&self, rows: &[PostRow]) -> (Array2<f64>, Array1<f64>, Vec<f64>) {
        let labelled: Vec<&PostRow> = rows.iter().filter(|r| r.log_engagement.is_some()).collect();
        let width = self.columns().len();
        let mut x = Array2::zeros((labelled.len(), width));
        for (i, row) in labelled.iter().enumerate() {
            x.row_mut(i).assign(&Array1::from(self.encode(row)));
        }
        let offsets: Vec<f64> = labelled.iter().map(|r| self.offset(r)).collect();
        let y = labelled.iter().zip(&offsets).map(|(r, o)| r.log_engagement.unwrap_or(0.0) - o).collect();
        (x, y, offsets)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn empty_row() -> PostRow {
        PostRow {
            account_id: String::new(),
            platform: "x".into(),
            media: "none".into(),
            created_at: 0,
            hour: 0,
            day_of_week: 0,
            hour_of_week: 0,
            gap_hours: None,
            prior_posts: 0,
            baseline_mean: None,
            baseline_recent: None,
            log_followers: None,
            chars: 0,
            words: 0,
            hashtags: 0,
            mentions: 0,
            urls: 0,
            emoji: 0,
            questions: 0,
            exclamations: 0,
            log_engagement: None,
        }
    }

    #[test]
    fn encoding_has_one_value_per_column_and_fills_missing_history() {
        let design = Design {
            platforms: vec!["instagram".into(), "x".into()],
            fill_baseline: 2.0,
            fill_followers: 7.0,
            followers_intercept: 1.0,
            followers_slope: 0.5,
        };
        let row = PostRow { hour: 9, day_of_week: 6, hashtags: 7, media: "video".into(), ..empty_row() };
        let x = design.encode(&row);
        let columns = design.columns();
        assert_eq!(x.len(), columns.len());
        let value = |name: &str| x[columns.iter().position(|c| c == name).unwrap()];
        assert_eq!((value("baseline_mean"), value("first_post"), value("log_followers")), (2.0, 1.0, 7.0));
        assert_eq!((value("x_hour_9"), value("instagram_hour_9"), value("x_weekend")), (1.0, 0.0, 1.0));
        assert_eq!((value("hashtags_4"), value("media_video"), value("platform_index")), (1.0, 1.0, 1.0));
        assert_eq!(design.tree_columns(), columns[..design.tree_columns().len()]);
        assert_eq!(design.offset(&row), 1.0 + 0.5 * 7.0, "a first post starts from its followers");
        assert_eq!(design.offset(&PostRow { baseline_mean: Some(3.0), ..row }), 3.0);
    }
}
