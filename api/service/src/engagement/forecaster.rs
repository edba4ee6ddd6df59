//! The forecaster of each tenant: trained on its digested history, kept on disk beside the
//! store's change token of the history it learnt from, so a restart does not retrain.

use std::path::PathBuf;
use std::sync::Arc;

use eiq_training::TrainingError;
use eiq_training::engagement::{EngagementModel, GbdtParams, train_forecaster};
use polars::prelude::DataFrame;

use crate::tenancy::TenantId;

/// Why no forecaster could be had.
#[derive(Debug, Clone)]
pub(super) enum Failure {
    /// The tenant's history is too small to learn from (the client's to fix, and kept until
    /// the next import).
    NotEnoughHistory(String),
    /// The server's fault (disk, a background task): not kept, the next caller tries again.
    Internal { context: &'static str, detail: String },
}

impl Failure {
    pub(super) fn internal(context: &'static str) -> impl Fn(&dyn std::fmt::Display) -> Failure {
        move |e| Failure::Internal { context, detail: e.to_string() }
    }
}

pub(super) struct Forecaster {
    /// `<data dir>/models/<tenant>/engagement.{json,history}`.
    dir: PathBuf,
    trees: GbdtParams,
}

impl Forecaster {
    pub(super) fn new(dir: PathBuf, trees: GbdtParams) -> Self {
        Self { dir, trees }
    }

    /// From disk when it was trained on history `version`, else trained on `features` now.
    /// `version` is the change token read before `features` were: a model is never kept under a
    /// newer token than the history it was trained on.
    pub(super) fn load_or_train(
        &self,
        tenant: &TenantId,
        version: &str,
        features: &DataFrame,
    ) -> Result<Arc<EngagementModel>, Failure> {
        let dir = self.dir.join(tenant.as_str());
        let (model_path, history_path) = (dir.join("engagement.json"), dir.join("engagement.history"));
        if std::fs::read_to_string(&history_path).is_ok_and(|h| h == version)
            && let Ok(json) = std::fs::read_to_string(&model_path)
            && let Ok(model) = EngagementModel::from_json(&json)
        {
            return Ok(Arc::new(model));
        }
        let model = match train_forecaster(features, &format!("tenant {tenant}"), &self.trees) {
            Ok(model) => model,
            Err(TrainingError::NotEnoughHistory(why)) => return Err(Failure::NotEnoughHistory(why)),
            Err(e) => return Err(Failure::internal("training")(&e)),
        };
        let saved = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&model_path, model.to_json()))
            .and_then(|()| std::fs::write(&history_path, version));
        if let Err(e) = saved {
            tracing::warn!(%tenant, error = %e, "could not keep the trained forecaster on disk");
        }
        Ok(Arc::new(model))
    }
}
