//! Forecasting drafts and finding an account's best times, over the tenant's digested history.

use std::sync::Arc;

use eiq_datasets::MediaType;
use eiq_features::best_times::{BestTimes, BestTimesError, BestTimesOptions, Blackout};
use eiq_features::local_time::{offset_at, second_of_week, zone};
use eiq_training::engagement::{Draft, EngagementModel, Forecast, draft_rows};

use super::history::{Digest, HistoryService};
use super::limits::{self, MAX_BLACKOUTS, MAX_CANDIDATES, MAX_TOP_K, check_text, check_time, excerpt};
use crate::error::ServiceError;

/// With no candidate times, the coming week is tried hour by hour.
const DEFAULT_CANDIDATES: usize = 168;

#[derive(Debug, Clone)]
pub struct DraftRequest {
    pub tenant: String,
    pub account_id: String,
    pub text: String,
    pub platform: Option<String>,
    pub media: MediaType,
    /// Unix seconds; empty means every hour of the next week from `now`.
    pub candidate_times: Vec<i64>,
    pub now: i64,
}

#[derive(Debug, Clone)]
pub struct TimedForecast {
    pub at: i64,
    /// `Tue 09:00` in the account's timezone.
    pub local_time: String,
    pub forecast: Forecast,
    /// Against the account's average post: 0.25 = +25 %.
    pub lift: f64,
}

pub struct ForecastAnswer {
    pub account_id: String,
    pub platform: String,
    pub timezone: Option<String>,
    pub forecasts: Vec<TimedForecast>,
    /// Index of the best candidate in `forecasts`.
    pub best: usize,
    pub model: Arc<EngagementModel>,
}

/// A best-times question as both protocols carry it; absent fields take the defaults.
#[derive(Debug, Clone, Default)]
pub struct BestTimesQuery {
    pub platform: Option<String>,
    pub top_k: Option<usize>,
    pub min_spacing_hours: Option<f64>,
    pub resolution_minutes: Option<u32>,
    pub blackouts: Vec<BlackoutWindow>,
}

/// A blackout as sent: a day (`mon` … `sun`, absent for every day) and `HH:MM` times.
#[derive(Debug, Clone)]
pub struct BlackoutWindow {
    pub day: Option<String>,
    pub start: String,
    pub end: String,
}

#[derive(Clone)]
pub struct ForecastService {
    history: HistoryService,
}

impl ForecastService {
    pub fn new(history: HistoryService) -> Self {
        Self { history }
    }

    pub async fn forecast(&self, request: DraftRequest) -> Result<ForecastAnswer, ServiceError> {
        check_text("text", &request.text)?;
        check_account_id(&request.account_id)?;
        if request.candidate_times.len() > MAX_CANDIDATES {
            return Err(ServiceError::InvalidInput(format!("at most {MAX_CANDIDATES} candidate times")));
        }
        for (index, &at) in request.candidate_times.iter().enumerate() {
            check_time(&format!("candidate_times[{index}]"), at)?;
        }
        let digest = self.history.digest(&request.tenant).await?;
        let state = account(&digest, &request.account_id)?.clone();
        let model = self.history.model(&request.tenant).await?;
        let times = match request.candidate_times.is_empty() {
            true => {
                let next_hour = (request.now / 3600 + 1) * 3600;
                (0..DEFAULT_CANDIDATES as i64).map(|h| next_hour + h * 3600).collect()
            }
            false => request.candidate_times.clone(),
        };
        let platform = request.platform.clone().unwrap_or_else(|| state.platform.clone());
        let drafts: Vec<Draft> = times
            .iter()
            .map(|&at| Draft { text: request.text.clone(), platform: platform.clone(), media: request.media, at })
            .collect();
        let worker_model = Arc::clone(&model);
        let worker_state = state.clone();
        let forecasts = tokio::task::spawn_blocking(move || {
            draft_rows(&worker_state, &drafts)
                .map(|rows| rows.iter().map(|row| worker_model.forecast(row)).collect::<Vec<Forecast>>())
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("forecast task: {e}")))?
        .map_err(|e| ServiceError::Internal(e.to_string()))?;
        let tz = zone(state.timezone.as_deref());
        let average = state.mean_log.unwrap_or(model.design.fill_baseline);
        let forecasts: Vec<TimedForecast> = times
            .iter()
            .zip(forecasts)
            .map(|(&at, forecast)| TimedForecast {
                at,
                local_time: week_label(second_of_week(at, offset_at(tz.as_ref(), at))),
                lift: (forecast.log_engagement - average).exp() - 1.0,
                forecast,
            })
            .collect();
        let best = forecasts
            .iter()
            .enumerate()
            .max_by(|a, b| a.1.forecast.log_engagement.total_cmp(&b.1.forecast.log_engagement).then(b.0.cmp(&a.0)))
            .map_or(0, |(i, _)| i);
        Ok(ForecastAnswer {
            account_id: request.account_id,
            platform,
            timezone: state.timezone,
            forecasts,
            best,
            model,
        })
    }

    pub async fn best_times(
        &self,
        tenant: &str,
        account_id: &str,
        query: BestTimesQuery,
    ) -> Result<BestTimes, ServiceError> {
        check_account_id(account_id)?;
        if let Some(top_k) = query.top_k.filter(|k| !(1..=MAX_TOP_K).contains(k)) {
            return Err(ServiceError::InvalidInput(format!("top_k ({top_k}) must be within 1–{MAX_TOP_K}")));
        }
        if query.blackouts.len() > MAX_BLACKOUTS {
            return Err(ServiceError::InvalidInput(format!(
                "{} blackouts; at most {MAX_BLACKOUTS}",
                query.blackouts.len()
            )));
        }
        let defaults = BestTimesOptions::default();
        let options = BestTimesOptions {
            top_k: query.top_k.unwrap_or(defaults.top_k),
            min_spacing_hours: query.min_spacing_hours.unwrap_or(defaults.min_spacing_hours),
            blackouts: query
                .blackouts
                .iter()
                .map(|b| parse_blackout(b.day.as_deref(), &b.start, &b.end))
                .collect::<Result<_, _>>()?,
            resolution_minutes: query.resolution_minutes,
            platform: query.platform,
            now: now(),
        };
        let digest = self.history.digest(tenant).await?;
        account(&digest, account_id)?;
        digest.slots.best_times(account_id, &options).map_err(|e| match e {
            BestTimesError::UnknownAccount(_) | BestTimesError::NoPostsOnPlatform { .. } => {
                ServiceError::NotFound(e.to_string())
            }
            BestTimesError::InvalidOption(_) => ServiceError::InvalidInput(e.to_string()),
        })
    }
}

fn account<'a>(
    digest: &'a Digest,
    account_id: &str,
) -> Result<&'a eiq_training::engagement::AccountState, ServiceError> {
    digest.states.get(account_id).ok_or_else(|| no_history(account_id))
}

/// The answer for an account (or a whole tenant) with no stored history.
pub(super) fn no_history(account_id: &str) -> ServiceError {
    ServiceError::NotFound(format!(
        "no history for account `{}`; import it first (POST /v1/history:import)",
        excerpt(account_id)
    ))
}

fn check_account_id(account_id: &str) -> Result<(), ServiceError> {
    if account_id.is_empty() || account_id.len() > limits::MAX_ACCOUNT_ID_BYTES {
        return Err(ServiceError::InvalidInput(format!(
            "account_id must be 1–{} bytes, got {}",
            limits::MAX_ACCOUNT_ID_BYTES,
            account_id.len()
        )));
    }
    Ok(())
}

/// `Tue 09:00` from seconds since local Monday 00:00.
pub fn week_label(second_of_week: i64) -> String {
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    let minute = second_of_week / 60;
    format!("{} {:02}:{:02}", DAYS[(minute / 1440) as usize % 7], minute % 1440 / 60, minute % 60)
}

/// `none`, `photo`, `video`, `gif` (empty is none).
pub fn parse_media(media: &str) -> Result<MediaType, ServiceError> {
    match media.to_ascii_lowercase().as_str() {
        "" | "none" => Ok(MediaType::None),
        "photo" => Ok(MediaType::Photo),
        "video" => Ok(MediaType::Video),
        "gif" => Ok(MediaType::Gif),
        other => {
            Err(ServiceError::InvalidInput(format!("media `{}` is not one of none, photo, video, gif", excerpt(other))))
        }
    }
}

/// A blackout from its wire form: a day (`mon` … `sun`, or none for every day) and `HH:MM` times.
pub fn parse_blackout(day: Option<&str>, start: &str, end: &str) -> Result<Blackout, ServiceError> {
    const DAYS: [&str; 7] = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"];
    let day = match day.map(|d| d.trim().to_ascii_lowercase()).filter(|d| !d.is_empty()) {
        None => None,
        Some(name) => Some(DAYS.iter().position(|d| name.starts_with(d)).ok_or_else(|| {
            ServiceError::InvalidInput(format!(
                "blackout day `{}` is not one of mon, tue, wed, thu, fri, sat, sun",
                excerpt(&name)
            ))
        })? as u8),
    };
    let minute = |text: &str| -> Result<u32, ServiceError> {
        let bad =
            || ServiceError::InvalidInput(format!("blackout time `{}` is not HH:MM (00:00–24:00)", excerpt(text)));
        let (h, m) = text.trim().split_once(':').ok_or_else(bad)?;
        let (h, m): (u32, u32) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
        if m >= 60 || h * 60 + m > 1440 {
            return Err(bad());
        }
        Ok(h * 60 + m)
    };
    let (start_minute, end_minute) = (minute(start)?, minute(end)?);
    if start_minute == end_minute {
        return Err(ServiceError::InvalidInput(format!("blackout {}–{} is empty", excerpt(start), excerpt(end))));
    }
    Ok(Blackout { day, start_minute, end_minute })
}

/// Unix seconds from `1709539200` or RFC 3339 (`2024-03-04T08:00:00Z`), within 2000–2100.
pub fn parse_time(text: &str) -> Result<i64, ServiceError> {
    eiq_datasets::parse_time(text.trim()).map_err(ServiceError::InvalidInput)
}

/// RFC 3339 in UTC.
pub fn format_time(seconds: i64) -> String {
    chrono::DateTime::from_timestamp(seconds, 0)
        .map_or_else(|| seconds.to_string(), |t| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
}

pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}
