//! Best time to post: expected engagement for every slot of an account's week, in its local
//! time, shrunk toward wider priors where its own history is thin.
//!
//! Each post's residual is `log_engagement − baseline_recent` (how it did against the account's
//! recent form). Slot means are shrunk down a normal–normal hierarchy: no effect → the
//! tenant's hour-of-week means → the platform's → the account's, each level's between-cell
//! variance estimated by the method of moments (empirical Bayes). A slot with many posts speaks
//! for itself; an empty one inherits its platform's pattern, and says how much history it rests on.

use std::collections::HashMap;

use chrono_tz::Tz;
use polars::prelude::*;

use crate::FeatureError;
use crate::local_time::{SECONDS_PER_WEEK, next_occurrence, second_of_week, zone};

const HOURS_PER_WEEK: usize = 168;
/// A 90 % band.
const Z_90: f64 = 1.645;
/// Posts per slot, on average, before a finer grid is used.
const POSTS_PER_FINER_SLOT: usize = 8;
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
/// Most slots one answer may ask for: every 15-minute slot of a week.
pub const MAX_TOP_K: usize = 7 * 24 * 4;
/// Most blackout windows in one question (each is checked against every slot).
pub const MAX_BLACKOUTS: usize = 64;

/// A local-time window in which nothing may be scheduled (`end` may pass midnight).
#[derive(Debug, Clone, PartialEq)]
pub struct Blackout {
    /// Monday = 0; `None` is every day.
    pub day: Option<u8>,
    pub start_minute: u32,
    pub end_minute: u32,
}

impl Blackout {
    /// A blackout from its wire form: a day (`mon` … `sun`, or none for every day) and `HH:MM`
    /// times (`24:00` is the day's end).
    pub fn parse(day: Option<&str>, start: &str, end: &str) -> Result<Self, BestTimesError> {
        const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
        let quote = |text: &str| eiq_datasets::excerpt(text, eiq_datasets::QUOTE_CHARS);
        let day = match day.map(|d| d.trim().to_ascii_lowercase()).filter(|d| !d.is_empty()) {
            None => None,
            Some(name) => Some(DAYS.iter().position(|d| name.starts_with(d)).ok_or_else(|| {
                BestTimesError::InvalidOption(format!(
                    "blackout day `{}` is not one of mon, tue, wed, thu, fri, sat, sun",
                    quote(&name)
                ))
            })? as u8),
        };
        let minute = |text: &str| -> Result<u32, BestTimesError> {
            let bad =
                || BestTimesError::InvalidOption(format!("blackout time `{}` is not HH:MM (00:00–24:00)", quote(text)));
            let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
            let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
            if m >= 60 || h * 60 + m > 1440 {
                return Err(bad());
            }
            Ok(h * 60 + m)
        };
        let (start_minute, end_minute) = (minute(start)?, minute(end)?);
        if start_minute == end_minute {
            return Err(BestTimesError::InvalidOption(format!("blackout {}–{} is empty", quote(start), quote(end))));
        }
        Ok(Blackout { day, start_minute, end_minute })
    }
}

#[derive(Debug, Clone)]
pub struct BestTimesOptions {
    pub top_k: usize,
    pub min_spacing_hours: f64,
    pub blackouts: Vec<Blackout>,
    /// 60, 30 or 15; `None` picks the finest the account's history supports.
    pub resolution_minutes: Option<u32>,
    pub platform: Option<String>,
    /// Unix seconds from which the next occurrence of each slot is given.
    pub now: i64,
}

impl Default for BestTimesOptions {
    fn default() -> Self {
        Self {
            top_k: 5,
            min_spacing_hours: 3.0,
            blackouts: Vec::new(),
            resolution_minutes: None,
            platform: None,
            now: 0,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// Minutes since local Monday 00:00.
    pub start_minute: u32,
    /// `Tue 09:00`, local.
    pub label: String,
    /// The next time this slot comes round after `now`, as Unix seconds (DST-aware).
    pub next_at: i64,
    /// Expected engagement (likes + comments + shares) of a post here, at the account's current form.
    pub expected_engagement: f64,
    /// Expected change against the account's average slot, e.g. 0.25 = +25 %, with a 90 % band.
    pub lift: f64,
    pub lift_low: f64,
    pub lift_high: f64,
    /// The account's own posts in this slot.
    pub posts: usize,
    /// How much of the estimate is the account's own history (0 = all prior, 1 = all own).
    pub history_weight: f64,
    pub blacked_out: bool,
}

#[derive(Debug, Clone)]
pub struct BestTimes {
    pub account_id: String,
    pub platform: String,
    pub timezone: Option<String>,
    pub resolution_minutes: u32,
    pub account_posts: usize,
    pub top: Vec<Slot>,
    /// Every slot of the week, in order.
    pub grid: Vec<Slot>,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum BestTimesError {
    #[error("unknown account `{0}`")]
    UnknownAccount(String),
    #[error("account `{account}` has no posts on platform `{platform}`")]
    NoPostsOnPlatform { account: String, platform: String },
    #[error("{0}")]
    InvalidOption(String),
}

/// Running mean and count.
#[derive(Debug, Clone, Copy, Default)]
struct Cell {
    n: usize,
    sum: f64,
}

impl Cell {
    fn add(&mut self, value: f64) {
        self.n += 1;
        self.sum += value;
    }
    fn mean(&self) -> f64 {
        if self.n == 0 { 0.0 } else { self.sum / self.n as f64 }
    }
}

/// A posterior: mean and variance of a slot effect.
#[derive(Debug, Clone, Copy)]
struct Estimate {
    mean: f64,
    variance: f64,
    weight: f64,
}

struct AccountPosts {
    platform: String,
    timezone: Option<String>,
    /// (platform, second of week, residual), for posts with a baseline.
    residuals: Vec<(String, i64, f64)>,
    /// Log engagement of the last posts, for the account's current form.
    recent: Vec<f64>,
    posts: usize,
}

/// One tenant's history, digested once for any number of best-time questions.
pub struct TenantSlots {
    accounts: HashMap<String, AccountPosts>,
    /// Posterior hour-of-week effects per platform (and for all platforms under "").
    platform_hours: HashMap<String, Vec<Estimate>>,
    noise_variance: f64,
}

impl TenantSlots {
    /// From the feature frame of all the tenant's accounts.
    pub fn new(features: &DataFrame) -> Result<Self, FeatureError> {
        let accounts_column = features.column("account_id")?.str()?;
        let platforms = features.column("platform")?.str()?;
        let zones = features.column("timezone")?.str()?;
        let created = features.column("created_at")?.i64()?;
        let offsets = features.column("utc_offset_s")?.i32()?;
        let log_engagement = features.column("log_engagement")?.f64()?;
        let baseline = features.column("baseline_recent")?.f64()?;
        let mut accounts: HashMap<String, AccountPosts> = HashMap::new();
        let mut all: Vec<(String, usize, f64)> = Vec::new();
        for row in 0..features.height() {
            let (Some(account), Some(platform), Some(time), Some(y)) =
                (accounts_column.get(row), platforms.get(row), created.get(row), log_engagement.get(row))
            else {
                continue;
            };
            let entry = accounts.entry(account.to_string()).or_insert_with(|| AccountPosts {
                platform: platform.to_string(),
                timezone: None,
                residuals: Vec::new(),
                recent: Vec::new(),
                posts: 0,
            });
            entry.posts += 1;
            entry.timezone = zones.get(row).map(str::to_string);
            entry.recent.push(y);
            if entry.recent.len() > crate::pipeline::RECENT_POSTS {
                entry.recent.remove(0);
            }
            if let Some(base) = baseline.get(row) {
                let second = second_of_week(time, offsets.get(row).unwrap_or(0));
                entry.residuals.push((platform.to_string(), second, y - base));
                all.push((platform.to_string(), (second / 3600) as usize, y - base));
            }
        }
        let noise_variance = variance(all.iter().map(|(_, _, r)| *r)).max(1e-6);
        // Level 1: all platforms' hours, shrunk toward no effect.
        let mut overall = vec![Cell::default(); HOURS_PER_WEEK];
        let mut by_platform: HashMap<String, Vec<Cell>> = HashMap::new();
        for (platform, hour, r) in &all {
            overall[*hour].add(*r);
            by_platform.entry(platform.clone()).or_insert_with(|| vec![Cell::default(); HOURS_PER_WEEK])[*hour].add(*r);
        }
        let flat = vec![Estimate { mean: 0.0, variance: 0.0, weight: 0.0 }; HOURS_PER_WEEK];
        let overall = shrink(&overall, &flat, noise_variance);
        // Level 2: each platform's hours, shrunk toward level 1.
        let mut platform_hours: HashMap<String, Vec<Estimate>> =
            by_platform.iter().map(|(p, cells)| (p.clone(), shrink(cells, &overall, noise_variance))).collect();
        platform_hours.insert(String::new(), overall);
        Ok(Self { accounts, platform_hours, noise_variance })
    }

    pub fn accounts(&self) -> impl Iterator<Item = &str> {
        self.accounts.keys().map(String::as_str)
    }

    pub fn best_times(&self, account_id: &str, options: &BestTimesOptions) -> Result<BestTimes, BestTimesError> {
        let account = self.accounts.get(account_id).ok_or_else(|| BestTimesError::UnknownAccount(account_id.into()))?;
        let platform = options.platform.clone().unwrap_or_else(|| account.platform.clone());
        let residuals: Vec<(i64, f64)> =
            account.residuals.iter().filter(|(p, _, _)| *p == platform).map(|(_, s, r)| (*s, *r)).collect();
        if options.platform.is_some() && residuals.is_empty() && account.platform != platform {
            return Err(BestTimesError::NoPostsOnPlatform { account: account_id.into(), platform });
        }
        let resolution = match options.resolution_minutes {
            Some(m @ (15 | 30 | 60)) => m,
            Some(other) => {
                return Err(BestTimesError::InvalidOption(format!(
                    "resolution_minutes must be 15, 30 or 60, not {other}"
                )));
            }
            None => [15, 30]
                .into_iter()
                .find(|m| residuals.len() >= POSTS_PER_FINER_SLOT * (SECONDS_PER_WEEK as usize / (*m as usize * 60)))
                .unwrap_or(60),
        };
        if !(1..=MAX_TOP_K).contains(&options.top_k) || !(0.0..=84.0).contains(&options.min_spacing_hours) {
            return Err(BestTimesError::InvalidOption(format!(
                "top_k must be within 1–{MAX_TOP_K} and min_spacing_hours within 0–84"
            )));
        }
        if options.blackouts.len() > MAX_BLACKOUTS {
            return Err(BestTimesError::InvalidOption(format!("at most {MAX_BLACKOUTS} blackouts")));
        }
        let slots = SECONDS_PER_WEEK as usize / (resolution as usize * 60);
        let mut cells = vec![Cell::default(); slots];
        for (second, r) in &residuals {
            cells[(*second / (resolution as i64 * 60)) as usize].add(*r);
        }
        let hours = self.platform_hours.get(&platform).unwrap_or(&self.platform_hours[""]);
        let per_hour = 60 / resolution as usize;
        let prior: Vec<Estimate> = (0..slots).map(|s| hours[s / per_hour]).collect();
        let estimates = shrink(&cells, &prior, self.noise_variance);
        let average = estimates.iter().map(|e| e.mean).sum::<f64>() / slots as f64;
        let form = account.recent.iter().sum::<f64>() / account.recent.len().max(1) as f64;
        let tz: Option<Tz> = zone(account.timezone.as_deref());
        let grid: Vec<Slot> = estimates
            .iter()
            .zip(&cells)
            .enumerate()
            .map(|(s, (estimate, cell))| {
                let start_minute = (s * resolution as usize) as u32;
                let sd = estimate.variance.sqrt();
                let lift = |z: f64| (estimate.mean - average + z * sd).exp() - 1.0;
                Slot {
                    start_minute,
                    label: format!(
                        "{} {:02}:{:02}",
                        DAYS[start_minute as usize / 1440],
                        start_minute % 1440 / 60,
                        start_minute % 60
                    ),
                    next_at: next_occurrence(tz.as_ref(), start_minute as i64 * 60, options.now),
                    expected_engagement: (form + estimate.mean).exp_m1().max(0.0),
                    lift: lift(0.0),
                    lift_low: lift(-Z_90),
                    lift_high: lift(Z_90),
                    posts: cell.n,
                    history_weight: estimate.weight,
                    blacked_out: options.blackouts.iter().any(|b| b.covers(start_minute, resolution)),
                }
            })
            .collect();
        let top = pick_spaced(&grid, options.top_k, options.min_spacing_hours);
        Ok(BestTimes {
            account_id: account_id.to_string(),
            platform,
            timezone: account.timezone.clone(),
            resolution_minutes: resolution,
            account_posts: account.posts,
            top,
            grid,
        })
    }
}

impl Blackout {
    /// Whether any minute of the slot `[start, start + length)` falls in the window.
    fn covers(&self, start: u32, length: u32) -> bool {
        (start..start + length).any(|minute| {
            let (day, clock) = ((minute / 1440) as u8, minute % 1440);
            let today = self.day.is_none_or(|d| d == day);
            let yesterday = self.day.is_none_or(|d| (d + 1) % 7 == day);
            if self.start_minute <= self.end_minute {
                today && (self.start_minute..self.end_minute).contains(&clock)
            } else {
                (today && clock >= self.start_minute) || (yesterday && clock < self.end_minute)
            }
        })
    }
}

/// The best slots by expected engagement, no two closer than the spacing (round the week).
fn pick_spaced(grid: &[Slot], k: usize, spacing_hours: f64) -> Vec<Slot> {
    let mut order: Vec<&Slot> = grid.iter().filter(|s| !s.blacked_out).collect();
    order.sort_by(|a, b| b.lift.total_cmp(&a.lift).then(a.start_minute.cmp(&b.start_minute)));
    let spacing = (spacing_hours * 60.0) as i64;
    let week = SECONDS_PER_WEEK / 60;
    let mut picked: Vec<Slot> = Vec::with_capacity(k.min(grid.len()));
    for slot in order {
        let far_enough = picked.iter().all(|p| {
            let d = (p.start_minute as i64 - slot.start_minute as i64).rem_euclid(week);
            d.min(week - d) >= spacing
        });
        if far_enough {
            picked.push(slot.clone());
            if picked.len() == k {
                break;
            }
        }
    }
    picked
}

/// Normal–normal shrinkage of cell means toward a prior, with the between-cell variance τ²
/// estimated from the cells themselves: E[(ȳ − μ)²] = τ² + σ²/n.
fn shrink(cells: &[Cell], prior: &[Estimate], noise_variance: f64) -> Vec<Estimate> {
    let spread: Vec<f64> = cells
        .iter()
        .zip(prior)
        .filter(|(c, _)| c.n > 0)
        .map(|(c, p)| (c.mean() - p.mean).powi(2) - noise_variance / c.n as f64)
        .collect();
    let tau2 = (spread.iter().sum::<f64>() / spread.len().max(1) as f64).max(1e-4);
    cells
        .iter()
        .zip(prior)
        .map(|(cell, prior)| {
            let precision = cell.n as f64 / noise_variance;
            let weight = precision / (precision + 1.0 / tau2);
            Estimate {
                mean: weight * cell.mean() + (1.0 - weight) * prior.mean,
                variance: 1.0 / (precision + 1.0 / tau2) + (1.0 - weight).powi(2) * prior.variance,
                weight,
            }
        })
        .collect()
}

fn variance(values: impl Iterator<Item = f64> + Clone) -> f64 {
    let (n, sum) = values.clone().fold((0usize, 0.0), |(n, s), v| (n + 1, s + v));
    if n < 2 {
        return 1.0;
    }
    let mean = sum / n as f64;
    values.map(|v| (v - mean).powi(2)).sum::<f64>() / (n - 1) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blackouts_cover_their_minutes_and_wrap_midnight() {
        let lunch = Blackout { day: Some(1), start_minute: 12 * 60, end_minute: 13 * 60 };
        assert!(lunch.covers(1440 + 12 * 60, 60));
        assert!(lunch.covers(1440 + 11 * 60 + 30, 60), "a slot that runs into the window");
        assert!(!lunch.covers(12 * 60, 60), "Monday is free");
        let night = Blackout { day: None, start_minute: 22 * 60, end_minute: 6 * 60 };
        assert!(night.covers(23 * 60, 60) && night.covers(1440 + 5 * 60, 60));
        assert!(night.covers(5 * 60, 60), "Sunday night into Monday");
        assert!(!night.covers(6 * 60, 60) && !night.covers(21 * 60, 60));
    }

    #[test]
    fn shrinkage_trusts_many_posts_and_falls_back_on_none() {
        let prior = vec![Estimate { mean: 0.5, variance: 0.01, weight: 0.0 }; 3];
        let mut cells = vec![Cell::default(); 3];
        (0..400).for_each(|_| cells[0].add(1.0));
        (0..400).for_each(|_| cells[2].add(0.0));
        cells[1] = Cell::default();
        let estimates = shrink(&cells, &prior, 0.25);
        assert!((estimates[0].mean - 1.0).abs() < 0.01 && estimates[0].weight > 0.98);
        assert_eq!(estimates[1].mean, 0.5, "no posts: the prior");
        assert_eq!(estimates[1].weight, 0.0);
        assert!(estimates[1].variance > estimates[0].variance);
    }

    #[test]
    fn picks_respect_spacing_round_the_week() {
        let slot = |start_minute: u32, lift: f64| Slot {
            start_minute,
            label: String::new(),
            next_at: 0,
            expected_engagement: 0.0,
            lift,
            lift_low: 0.0,
            lift_high: 0.0,
            posts: 0,
            history_weight: 0.0,
            blacked_out: false,
        };
        let grid = vec![slot(0, 0.9), slot(60, 0.8), slot(10_020, 0.7), slot(600, 0.5)];
        let picked: Vec<u32> = pick_spaced(&grid, 3, 3.0).iter().map(|s| s.start_minute).collect();
        assert_eq!(picked, [0, 600], "60 is an hour after 0; 10,020 is an hour before it, round the week");
    }
}
