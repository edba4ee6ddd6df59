//! Forecasting drafts and finding an account's best times, over the tenant's digested history.

use std::sync::Arc;

use eiq_datasets::MediaType;
use eiq_features::best_times::{BestTimes, BestTimesError, BestTimesOptions, Blackout};
use eiq_features::local_time::{offset_at, second_of_week, week_label, zone};
use eiq_training::engagement::{AccountState, Draft, EngagementModel, Forecast, draft_rows};

use super::generations::{Digest, Generations};
use crate::error::{Hint, Resource, ServiceError};
use crate::limits::{self, MAX_BLACKOUTS, MAX_CANDIDATES, MAX_TOP_K, check_text, check_time, excerpt};
use crate::tenancy::Principal;

/// With no candidate times, the coming week is tried hour by hour.
const DEFAULT_CANDIDATES: usize = 168;

#[derive(Debug, Clone)]
pub struct DraftRequest {
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

/// Forecasts and best times; reads the tenant's derived state, owns no state of its own.
#[derive(Clone)]
pub struct ForecastService {
    generations: Generations,
}

impl ForecastService {
    pub(super) fn new(generations: Generations) -> Self {
        Self { generations }
    }

    pub async fn forecast(&self, principal: &Principal, request: DraftRequest) -> Result<ForecastAnswer, ServiceError> {
        check_text("text", &request.text)?;
        check_account_id(&request.account_id)?;
        if request.candidate_times.len() > MAX_CANDIDATES {
            return Err(ServiceError::invalid("candidate_times", format!("at most {MAX_CANDIDATES} candidate times")));
        }
        for (index, &at) in request.candidate_times.iter().enumerate() {
            check_time(&format!("candidate_times[{index}]"), at)?;
        }
        let tenant = &principal.tenant;
        let digest = self.generations.digest(tenant).await?;
        let state = account(&digest, &request.account_id)?.clone();
        let model = self.generations.model(tenant).await?;
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
        .map_err(|e| ServiceError::internal("forecast task", e))?
        .map_err(|e| ServiceError::internal("forecast", e))?;
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
        principal: &Principal,
        account_id: &str,
        query: BestTimesQuery,
    ) -> Result<BestTimes, ServiceError> {
        check_account_id(account_id)?;
        if let Some(top_k) = query.top_k.filter(|k| !(1..=MAX_TOP_K).contains(k)) {
            return Err(ServiceError::invalid("top_k", format!("top_k ({top_k}) must be within 1–{MAX_TOP_K}")));
        }
        if query.blackouts.len() > MAX_BLACKOUTS {
            return Err(ServiceError::invalid(
                "blackouts",
                format!("{} blackouts; at most {MAX_BLACKOUTS}", query.blackouts.len()),
            ));
        }
        let defaults = BestTimesOptions::default();
        let options = BestTimesOptions {
            top_k: query.top_k.unwrap_or(defaults.top_k),
            min_spacing_hours: query.min_spacing_hours.unwrap_or(defaults.min_spacing_hours),
            blackouts: query
                .blackouts
                .iter()
                .enumerate()
                .map(|(index, b)| {
                    Blackout::parse(b.day.as_deref(), &b.start, &b.end)
                        .map_err(|e| ServiceError::invalid(format!("blackouts[{index}]"), e.to_string()))
                })
                .collect::<Result<_, _>>()?,
            resolution_minutes: query.resolution_minutes,
            platform: query.platform,
            now: eiq_datasets::now(),
        };
        let digest = self.generations.digest(&principal.tenant).await?;
        account(&digest, account_id)?;
        digest.slots.best_times(account_id, &options).map_err(|e| match e {
            BestTimesError::UnknownAccount(_) | BestTimesError::NoPostsOnPlatform { .. } => ServiceError::NotFound {
                resource: Resource::Account(account_id.to_string()),
                message: e.to_string(),
                hint: None,
            },
            BestTimesError::InvalidOption(_) => ServiceError::invalid_request(e.to_string()),
        })
    }
}

fn account<'a>(digest: &'a Digest, account_id: &str) -> Result<&'a AccountState, ServiceError> {
    digest.states.get(account_id).ok_or_else(|| ServiceError::NotFound {
        resource: Resource::Account(account_id.to_string()),
        message: format!("no history for account `{}`", excerpt(account_id)),
        hint: Some(Hint::ImportHistory),
    })
}

fn check_account_id(account_id: &str) -> Result<(), ServiceError> {
    if account_id.is_empty() || account_id.len() > limits::MAX_ACCOUNT_ID_BYTES {
        return Err(ServiceError::invalid(
            "account_id",
            format!("account_id must be 1–{} bytes, got {}", limits::MAX_ACCOUNT_ID_BYTES, account_id.len()),
        ));
    }
    Ok(())
}

/// `media` as the wire carries it (`none`, `photo`, `video`, `gif`; empty is none).
pub fn parse_media(media: &str) -> Result<MediaType, ServiceError> {
    MediaType::parse(media).map_err(|message| ServiceError::invalid("media", message))
}
