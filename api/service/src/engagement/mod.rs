//! Engagement: post histories, what is derived from them, and the forecasts and best times that
//! read it.
//!
//! Each piece of state has one owner: [`HistoryService`] the history store and imports,
//! `Generations` the per-generation derived state (digest, forecaster), and `Forecaster` the
//! trained models on disk. [`ForecastService`] only reads.

mod accounts;
mod beneath;
mod forecast;
mod forecaster;
mod generations;
mod history;
mod tags;

use std::path::Path;
use std::sync::Arc;

use eiq_features::{FeatureError, HistoryStore};
use eiq_training::engagement::GbdtParams;

pub use accounts::AccountStats;
pub use forecast::{
    BestTimesQuery, BlackoutWindow, DraftRequest, ForecastAnswer, ForecastService, TimedForecast, parse_media,
};
pub use generations::{Digest, Generations};
pub use history::{HistoryService, ImportReport, ImportRequest, ImportSettings, ImportSlot, ImportSource};
pub use tags::{SHRINK_POSTS, TagLift, TagStat};

use crate::error::ServiceError;

/// The history and forecast services over one data directory, sharing its derived state
/// (`generations`, which the post index reads too); `imported` hears of every stored import.
pub struct Engagement {
    pub history: HistoryService,
    pub forecast: ForecastService,
    pub generations: Generations,
    pub store: Arc<HistoryStore>,
}

pub fn open(data_dir: &Path, settings: ImportSettings, imported: ImportListener) -> Engagement {
    let store = Arc::new(HistoryStore::new(data_dir));
    let forecaster = forecaster::Forecaster::new(data_dir.join("models"), GbdtParams::default());
    let generations = Generations::new(Arc::clone(&store), forecaster);
    Engagement {
        history: HistoryService::new(Arc::clone(&store), settings, generations.clone(), imported),
        forecast: ForecastService::new(generations.clone()),
        generations,
        store,
    }
}

/// Told the tenant of every stored import (the post index queues it for indexing).
pub type ImportListener = Arc<dyn Fn(&crate::tenancy::TenantId) + Send + Sync>;

pub(crate) fn feature_error(error: FeatureError) -> ServiceError {
    match error {
        FeatureError::WrongFormat { .. } | FeatureError::BadRow(_) | FeatureError::InvalidName(_) => {
            ServiceError::invalid_request(error.to_string())
        }
        FeatureError::TooLarge(ref exceeded) => {
            ServiceError::TooLarge { limit: exceeded.limit, message: error.to_string(), hint: None }
        }
        FeatureError::Io { .. } | FeatureError::Polars(_) => ServiceError::internal("history store", error),
    }
}
