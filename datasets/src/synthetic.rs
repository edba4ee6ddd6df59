//! A seeded post history with known truth: the effects the forecaster and best-time analysis
//! must recover are planted, so tests can check recovery rather than plausibility.
//!
//! log1p(engagement) = account baseline (from followers) + account growth × years
//!   + seasonality[platform][local hour of week] + media + hashtags + question + length
//!   + heavy-tailed noise (Student's t, 3 degrees of freedom).
//!
//! Accounts live in a spread of timezones, northern and southern DST and half-hour offsets
//! included; times are drawn in local time and converted to UTC through the tz database, so
//! an effect planted at "Tuesday 09:00 local" stays there across DST changes.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime, TimeZone};
use chrono_tz::Tz;

use crate::posts::{MediaType, Post};
use crate::rng::SplitMix64;

pub const PLATFORMS: [&str; 3] = ["x", "instagram", "linkedin"];
pub const TIMEZONES: [&str; 8] = [
    "America/New_York",
    "America/Los_Angeles",
    "Europe/London",
    "Europe/Berlin",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "UTC",
];
const MEDIA: [(MediaType, f64, f64); 4] = [
    // (type, share of posts, planted effect)
    (MediaType::None, 0.50, 0.0),
    (MediaType::Photo, 0.30, 0.30),
    (MediaType::Video, 0.15, 0.45),
    (MediaType::Gif, 0.05, 0.10),
];
/// Effect of 0, 1, 2, 3 and 4 hashtags: some help, many hurt.
const HASHTAG_EFFECT: [f64; 5] = [0.0, 0.15, 0.25, 0.20, 0.05];
const QUESTION_EFFECT: f64 = 0.20;
/// Per 100 characters beyond 100.
const LENGTH_EFFECT: f64 = -0.15;
const NOISE_SCALE: f64 = 0.45;
const SECONDS_PER_YEAR: f64 = 365.25 * 86_400.0;

#[derive(Debug, Clone)]
pub struct SyntheticConfig {
    pub accounts: usize,
    pub posts_per_account: usize,
    pub seed: u64,
    /// Unix seconds of the first day (UTC midnight).
    pub start: i64,
    pub days: u32,
}

impl Default for SyntheticConfig {
    fn default() -> Self {
        // 2025-01-06, a Monday; a year spans both DST changes in both hemispheres.
        Self { accounts: 200, posts_per_account: 300, seed: 7, start: 1_736_121_600, days: 364 }
    }
}

#[derive(Debug, Clone)]
pub struct AccountTruth {
    pub account_id: String,
    pub platform: &'static str,
    pub timezone: &'static str,
    pub followers: u64,
    pub baseline: f64,
    pub growth_per_year: f64,
}

/// What was planted.
#[derive(Debug, Clone)]
pub struct Truth {
    pub accounts: Vec<AccountTruth>,
    pub question_effect: f64,
    pub length_effect_per_100_chars: f64,
    pub hashtag_effect: [f64; 5],
}

impl Truth {
    /// The planted effect of posting at a local hour of week (Monday 00:00 = 0) on a platform.
    pub fn seasonality(platform: &str, hour_of_week: usize) -> f64 {
        seasonality(platform, hour_of_week)
    }

    pub fn media_effect(media: MediaType) -> f64 {
        MEDIA.iter().find(|(m, _, _)| *m == media).map_or(0.0, |(_, _, effect)| *effect)
    }

    /// Hours of week from best to worst for a platform.
    pub fn best_hours(platform: &str) -> Vec<usize> {
        let mut hours: Vec<usize> = (0..168).collect();
        hours.sort_by(|a, b| seasonality(platform, *b).total_cmp(&seasonality(platform, *a)));
        hours
    }
}

pub struct Synthetic {
    pub posts: Vec<Post>,
    pub truth: Truth,
}

pub fn generate(config: &SyntheticConfig) -> Synthetic {
    let mut rng = SplitMix64::new(config.seed);
    let mut posts = Vec::with_capacity(config.accounts * config.posts_per_account);
    let mut accounts = Vec::with_capacity(config.accounts);
    for a in 0..config.accounts {
        let followers = 10f64.powf(2.0 + 4.0 * rng.uniform()).round() as u64;
        let account = AccountTruth {
            account_id: format!("acct-{a:05}"),
            platform: PLATFORMS[rng.below(PLATFORMS.len())],
            timezone: TIMEZONES[rng.below(TIMEZONES.len())],
            followers,
            baseline: 0.55 * (followers as f64).ln() - 1.5 + 0.4 * rng.normal(),
            growth_per_year: 0.2 + 0.3 * rng.normal(),
        };
        let zone: Tz = account.timezone.parse().expect("the list holds IANA names");
        let mut times: Vec<i64> =
            (0..config.posts_per_account).map(|_| local_post_time(&mut rng, &zone, config)).collect();
        times.sort_unstable();
        for (i, created_at) in times.into_iter().enumerate() {
            posts.push(post(&mut rng, &account, &zone, i, created_at, config.start));
        }
        accounts.push(account);
    }
    let truth = Truth {
        accounts,
        question_effect: QUESTION_EFFECT,
        length_effect_per_100_chars: LENGTH_EFFECT,
        hashtag_effect: HASHTAG_EFFECT,
    };
    Synthetic { posts, truth }
}

/// Local hour of week (Monday 00:00 = 0) of a UTC time in a zone.
pub fn local_hour_of_week(zone: &Tz, created_at: i64) -> usize {
    let local = zone.timestamp_opt(created_at, 0).single().expect("UTC times map to one local time").naive_local();
    let days = local.and_utc().timestamp().div_euclid(86_400);
    ((days + 3).rem_euclid(7) * 24 + local.and_utc().timestamp().rem_euclid(86_400) / 3600) as usize
}

/// People post mostly in their waking hours, but at every hour sometimes, so every slot has data.
fn local_post_time(rng: &mut SplitMix64, zone: &Tz, config: &SyntheticConfig) -> i64 {
    let start = chrono::DateTime::from_timestamp(config.start, 0).expect("a valid start").date_naive();
    let day = start + chrono::Days::new(rng.below(config.days.max(1) as usize) as u64);
    let hour = if rng.uniform() < 0.6 { 8 + rng.below(15) } else { rng.below(24) } as u32;
    let minute = rng.below(60) as u32;
    to_utc(zone, day, hour, minute)
}

/// A local wall-clock time in UTC: in a DST gap the clock has jumped, so take the hour after;
/// in an overlap, the first of the two.
fn to_utc(zone: &Tz, day: NaiveDate, hour: u32, minute: u32) -> i64 {
    let local = NaiveDateTime::new(day, NaiveTime::from_hms_opt(hour, minute, 0).expect("valid clock"));
    match zone.from_local_datetime(&local) {
        chrono::LocalResult::Single(t) | chrono::LocalResult::Ambiguous(t, _) => t.timestamp(),
        chrono::LocalResult::None => {
            let later = local + chrono::Duration::hours(1);
            zone.from_local_datetime(&later).earliest().map_or(later.and_utc().timestamp(), |t| t.timestamp())
        }
    }
}

const WORDS: [&str; 24] = [
    "launch",
    "team",
    "today",
    "new",
    "product",
    "thanks",
    "week",
    "update",
    "live",
    "read",
    "story",
    "great",
    "data",
    "design",
    "event",
    "join",
    "us",
    "our",
    "customers",
    "release",
    "tips",
    "guide",
    "love",
    "morning",
];
const EMOJI: [&str; 5] = ["🚀", "🎉", "🔥", "☀", "✨"];

fn post(rng: &mut SplitMix64, account: &AccountTruth, zone: &Tz, index: usize, created_at: i64, start: i64) -> Post {
    let mut words: Vec<String> = (0..3 + rng.below(38)).map(|_| WORDS[rng.below(WORDS.len())].to_string()).collect();
    let hashtags = [0, 0, 0, 1, 1, 2, 2, 3, 4][rng.below(9)];
    words.extend((0..hashtags).map(|_| format!("#{}", WORDS[rng.below(WORDS.len())])));
    if rng.uniform() < 0.2 {
        words.push(format!("@{}", WORDS[rng.below(WORDS.len())]));
    }
    if rng.uniform() < 0.3 {
        words.push(format!("https://example.com/{}", rng.below(10_000)));
    }
    if rng.uniform() < 0.2 {
        words.push(EMOJI[rng.below(EMOJI.len())].to_string());
    }
    let question = rng.uniform() < 0.25;
    let mut text = words.join(" ");
    if question {
        text.push('?');
    }
    let draw = rng.uniform();
    let mut cumulative = 0.0;
    let media = MEDIA
        .iter()
        .find(|(_, share, _)| {
            cumulative += share;
            draw < cumulative
        })
        .map_or(MediaType::None, |(m, _, _)| *m);
    let chars = text.chars().count() as f64;
    let log_engagement = account.baseline
        + account.growth_per_year * (created_at - start) as f64 / SECONDS_PER_YEAR
        + seasonality(account.platform, local_hour_of_week(zone, created_at))
        + Truth::media_effect(media)
        + HASHTAG_EFFECT[hashtags]
        + if question { QUESTION_EFFECT } else { 0.0 }
        + LENGTH_EFFECT * (chars - 100.0) / 100.0
        + NOISE_SCALE * rng.student_t(3);
    let total = log_engagement.clamp(0.0, 16.0).exp_m1().round() as u64;
    let likes = (total as f64 * 0.75).round() as u64;
    let shares = ((total as f64 * 0.18).round() as u64).min(total - likes);
    let impressions = (account.followers as f64 * 0.1 * (0.5 * rng.normal()).exp()).round() as u64 + total;
    Post {
        post_id: format!("{}-{index:05}", account.account_id),
        account_id: account.account_id.clone(),
        platform: account.platform.to_string(),
        created_at,
        timezone: Some(account.timezone.to_string()),
        text,
        media,
        likes: Some(likes),
        comments: Some(total - likes - shares),
        shares: Some(shares),
        impressions: Some(impressions),
        followers: Some(account.followers),
    }
}

/// Each platform's week: where its audience is, by local hour; zero mean over the week.
fn seasonality(platform: &str, hour_of_week: usize) -> f64 {
    let raw = |how: usize| {
        let (day, hour) = (how / 24, (how % 24) as f64);
        let bump = |centre: f64, width: f64| (-((hour - centre) / width).powi(2) / 2.0).exp();
        let weekend = day >= 5;
        let night = -0.6 * bump(3.0, 2.0);
        match platform {
            "linkedin" if weekend => -0.6 + night,
            "linkedin" => 0.7 * bump(9.0, 1.2) * if (1..=3).contains(&day) { 1.0 } else { 0.6 } + night,
            "instagram" => 0.6 * bump(20.0, 1.5) + 0.2 * bump(7.0, 1.0) + if weekend { 0.2 } else { 0.0 } + night,
            _ => 0.5 * bump(9.0, 1.0) + 0.4 * bump(12.5, 1.0) - if weekend { 0.2 } else { 0.0 } + night,
        }
    };
    let mean = (0..168).map(raw).sum::<f64>() / 168.0;
    raw(hour_of_week) - mean
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_history() {
        let config = SyntheticConfig { accounts: 3, posts_per_account: 50, ..Default::default() };
        let (a, b) = (generate(&config), generate(&config));
        assert_eq!(a.posts, b.posts);
        let other = generate(&SyntheticConfig { seed: 8, ..config });
        assert_ne!(a.posts, other.posts);
    }

    #[test]
    fn local_times_respect_dst() {
        let berlin: Tz = "Europe/Berlin".parse().unwrap();
        // 2025-03-30 02:30 does not exist in Berlin: the clock jumps to 03:00 CEST (01:00 UTC).
        let day = NaiveDate::from_ymd_opt(2025, 3, 30).unwrap();
        assert_eq!(to_utc(&berlin, day, 2, 30), 1_743_298_200);
        // 09:00 local is 08:00 UTC in winter and 07:00 UTC in summer: the same hour of week.
        let winter = to_utc(&berlin, NaiveDate::from_ymd_opt(2025, 1, 7).unwrap(), 9, 0);
        let summer = to_utc(&berlin, NaiveDate::from_ymd_opt(2025, 7, 8).unwrap(), 9, 0);
        assert_eq!((winter % 86_400) / 3600, 8);
        assert_eq!((summer % 86_400) / 3600, 7);
        assert_eq!(local_hour_of_week(&berlin, winter), 24 + 9);
        assert_eq!(local_hour_of_week(&berlin, summer), 24 + 9);
    }

    #[test]
    fn every_platform_has_a_distinct_best_hour() {
        let best: Vec<usize> = PLATFORMS.iter().map(|p| Truth::best_hours(p)[0]).collect();
        assert_eq!(best[0] % 24, 9, "x: mornings");
        assert_eq!(best[1] % 24, 20, "instagram: evenings");
        assert!((24..96).contains(&best[2]) && best[2] % 24 == 9, "linkedin: Tue–Thu 09:00, got {}", best[2]);
        for platform in PLATFORMS {
            let mean = (0..168).map(|h| Truth::seasonality(platform, h)).sum::<f64>() / 168.0;
            assert!(mean.abs() < 1e-9);
        }
    }
}
