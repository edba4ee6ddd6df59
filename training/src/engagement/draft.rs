//! A draft (text, platform, media, a time) as a feature row: its own features come from the
//! same Polars expressions the history went through; its history features come from the
//! account's state, computed by the definitions the pipeline uses for "previous posts".

use std::collections::HashMap;

use eiq_datasets::{MediaType, Post};
use polars::prelude::*;

use super::rows::{PostRow, rows};
use crate::TrainingError;

#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    pub text: String,
    pub platform: String,
    pub media: MediaType,
    /// Unix seconds, UTC.
    pub at: i64,
}

/// What a new post of the account would know about its past.
#[derive(Debug, Clone, PartialEq)]
pub struct AccountState {
    pub account_id: String,
    pub platform: String,
    pub timezone: Option<String>,
    pub posts: usize,
    pub last_at: Option<i64>,
    /// Mean log1p(engagement) of all posts, and of the last ten.
    pub mean_log: Option<f64>,
    pub recent_log: Option<f64>,
    pub log_followers: Option<f64>,
}

impl AccountState {
    /// From one account's feature rows (`eiq_features::features`, sorted by time).
    pub fn from_features(account: &DataFrame) -> Result<Self, TrainingError> {
        let history = rows(account)?;
        if history.is_empty() {
            return Err(TrainingError::Forecaster("the account has no posts".into()));
        }
        let timezone = account.column("timezone")?.str()?.iter().flatten().last().map(str::to_string);
        Ok(Self::from_rows(&history, timezone))
    }

    /// Every account's state, from a frame of many accounts (sorted by account, then time, as
    /// `eiq_features::features` leaves it).
    pub fn all_from_features(features: &DataFrame) -> Result<HashMap<String, Self>, TrainingError> {
        let all = rows(features)?;
        let zones = features.column("timezone")?.str()?;
        let mut states = HashMap::new();
        let mut start = 0;
        while start < all.len() {
            let end = start + all[start..].iter().take_while(|r| r.account_id == all[start].account_id).count();
            let timezone = zones.get(end - 1).map(str::to_string);
            states.insert(all[start].account_id.clone(), Self::from_rows(&all[start..end], timezone));
            start = end;
        }
        Ok(states)
    }

    /// From one account's rows, sorted by time; `history` must not be empty.
    pub fn from_rows(history: &[PostRow], timezone: Option<String>) -> Self {
        let outcomes: Vec<f64> = history.iter().filter_map(|r| r.log_engagement).collect();
        let recent = &outcomes[outcomes.len().saturating_sub(eiq_features::pipeline::RECENT_POSTS)..];
        let mean = |v: &[f64]| (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64);
        let last = history.last();
        Self {
            account_id: last.map(|r| r.account_id.clone()).unwrap_or_default(),
            platform: last.map(|r| r.platform.clone()).unwrap_or_default(),
            timezone,
            posts: history.len(),
            last_at: last.map(|r| r.created_at),
            mean_log: mean(&outcomes),
            recent_log: mean(recent),
            log_followers: history.iter().rev().find_map(|r| r.log_followers),
        }
    }
}

pub fn draft_rows(state: &AccountState, drafts: &[Draft]) -> Result<Vec<PostRow>, TrainingError> {
    let posts: Vec<Post> = drafts
        .iter()
        .enumerate()
        .map(|(i, draft)| Post {
            post_id: format!("draft-{i}"),
            account_id: state.account_id.clone(),
            platform: draft.platform.clone(),
            created_at: draft.at,
            timezone: state.timezone.clone(),
            text: draft.text.clone(),
            media: draft.media,
            likes: None,
            comments: None,
            shares: None,
            impressions: None,
            followers: None,
        })
        .collect();
    let frame = eiq_features::post_features(eiq_features::posts_to_frame(&posts)?)?;
    Ok(rows(&frame)?
        .into_iter()
        .map(|row| PostRow {
            prior_posts: state.posts as i64,
            // A candidate before the latest post is treated as right after it.
            gap_hours: state.last_at.map(|last| (row.created_at - last).max(0) as f64 / 3600.0),
            baseline_mean: state.mean_log,
            baseline_recent: state.recent_log,
            log_followers: state.log_followers,
            log_engagement: None,
            ..row
        })
        .collect())
}
