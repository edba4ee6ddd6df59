//! Training and serving the engagement forecaster.
//!
//! Rows are split by time per account ([`split_by_time`]): the last 20 % are held out and only
//! scored. Hyper-parameters (the ridge penalty, the number of trees) and the choice between the
//! two models are made on a second time split inside the earlier 80 %, never on the held-out
//! rows. The served model is then refitted on every row with those choices.

use linfa::prelude::*;
use ndarray_linfa::{Array1, Array2};
use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use super::baselines::{AccountHourMean, AccountMedian};
use super::gbdt::{Gbdt, GbdtParams};
use super::metrics::{mae, quantile, spearman};
use super::ridge::{PENALTIES, Ridge};
use super::rows::{Design, PostRow, rows};
use super::split::split_by_time;
use crate::TrainingError;

/// Bumped when a stored model can no longer be read.
pub const MODEL_FORMAT: u32 = 1;
/// Fewer labelled posts than this cannot be split three ways meaningfully.
pub const MIN_POSTS: usize = 60;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Predictor {
    Ridge(Ridge),
    Trees { columns: usize, model: Gbdt },
}

impl Predictor {
    fn predict(&self, x: &[f64]) -> f64 {
        match self {
            Predictor::Ridge(ridge) => ridge.predict_one(x),
            Predictor::Trees { columns, model } => model.predict_one(&x[..*columns]),
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Predictor::Ridge(_) => "ridge",
            Predictor::Trees { .. } => "gradient-boosted trees",
        }
    }
}

/// One method's held-out score.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct MethodScore {
    pub method: String,
    /// Over all held-out posts (mostly: which accounts do well).
    pub spearman: f64,
    /// Mean over accounts with at least [`MIN_RANKED`] held-out posts (which of an account's own
    /// posts do well: what choosing between drafts and slots needs); `None` when no account has.
    pub within_account_spearman: Option<f64>,
    pub mae: f64,
}

/// Held-out posts an account needs for its own ranking to be scored.
pub const MIN_RANKED: usize = 5;

fn ranked_accounts(rows: &[&PostRow]) -> usize {
    let mut counts: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    rows.iter().for_each(|r| *counts.entry(&r.account_id).or_default() += 1);
    counts.values().filter(|n| **n >= MIN_RANKED).count()
}

fn within_account_spearman(rows: &[&PostRow], predicted: &[f64]) -> Option<f64> {
    let mut by_account: std::collections::HashMap<&str, (Vec<f64>, Vec<f64>)> = std::collections::HashMap::new();
    for (row, p) in rows.iter().zip(predicted) {
        let entry = by_account.entry(&row.account_id).or_default();
        entry.0.push(*p);
        entry.1.push(row.log_engagement.unwrap_or(0.0));
    }
    let scores: Vec<f64> =
        by_account.values().filter(|(p, _)| p.len() >= MIN_RANKED).map(|(p, a)| spearman(p, a)).collect();
    (!scores.is_empty()).then(|| scores.iter().sum::<f64>() / scores.len() as f64)
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Evaluation {
    pub data: String,
    pub posts: usize,
    pub accounts: usize,
    pub train_rows: usize,
    pub held_out_rows: usize,
    /// Ridge, trees, account median, account × hour-of-week mean, on the held-out rows.
    pub scores: Vec<MethodScore>,
    pub served: String,
    pub ridge_penalty: f64,
    pub trees: usize,
    /// Share of held-out posts inside the 80 % interval.
    pub interval_coverage: f64,
    /// Accounts with at least [`MIN_RANKED`] held-out posts (those the within-account ρ averages).
    pub ranked_accounts: usize,
}

impl Evaluation {
    pub fn score(&self, method: &str) -> Option<&MethodScore> {
        self.scores.iter().find(|s| s.method == method)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct EngagementModel {
    pub format: u32,
    pub design: Design,
    pub predictor: Predictor,
    /// 10th and 90th percentiles of validation residuals (actual − predicted), in log1p units.
    pub residual_low: f64,
    pub residual_high: f64,
    pub evaluation: Evaluation,
}

/// A forecast in log1p units and in engagements, with an 80 % interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Forecast {
    pub log_engagement: f64,
    pub engagement: f64,
    pub low: f64,
    pub high: f64,
}

impl EngagementModel {
    pub fn forecast(&self, row: &PostRow) -> Forecast {
        let y = self.design.offset(row) + self.predictor.predict(&self.design.encode(row));
        let engagements = |v: f64| v.exp_m1().max(0.0);
        Forecast {
            log_engagement: y,
            engagement: engagements(y),
            low: engagements(y + self.residual_low),
            high: engagements(y + self.residual_high),
        }
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("the model serialises")
    }

    pub fn from_json(json: &str) -> Result<Self, TrainingError> {
        let model: Self =
            serde_json::from_str(json).map_err(|e| TrainingError::Forecaster(format!("model file: {e}")))?;
        if model.format != MODEL_FORMAT {
            return Err(TrainingError::Forecaster(format!(
                "model format {} is not {MODEL_FORMAT}: retrain with `eiq batch train`",
                model.format
            )));
        }
        Ok(model)
    }
}

/// Trains on a feature frame (`eiq_features::features`); `data` names it in the report.
pub fn train_forecaster(
    features: &DataFrame,
    data: &str,
    trees: &GbdtParams,
) -> Result<EngagementModel, TrainingError> {
    let all: Vec<PostRow> = rows(features)?.into_iter().filter(|r| r.log_engagement.is_some()).collect();
    if all.len() < MIN_POSTS {
        return Err(TrainingError::NotEnoughHistory(format!("{} posts with counts; need {MIN_POSTS}", all.len())));
    }
    let (train_idx, held_idx) = split_by_time(&all);
    let train: Vec<PostRow> = train_idx.iter().map(|&i| all[i].clone()).collect();
    let held: Vec<&PostRow> = held_idx.iter().map(|&i| &all[i]).collect();
    let (fit_idx, valid_idx) = split_by_time(&train);
    if held.is_empty() || valid_idx.is_empty() {
        return Err(TrainingError::NotEnoughHistory("no account has two or more posts to hold one out".into()));
    }
    let pick = |idx: &[usize]| idx.iter().map(|&i| train[i].clone()).collect::<Vec<_>>();
    let (fit, valid) = (pick(&fit_idx), pick(&valid_idx));

    let design = Design::learn(&train);
    // Targets are departures from each row's offset (`Design::offset`); scores compare them too,
    // which ranks models exactly as comparing the log1p values would.
    let (x_fit, y_fit, _) = design.matrix(&fit);
    let (x_valid, y_valid, _) = design.matrix(&valid);
    let tree_columns = design.tree_columns().len();
    let trees_of = |x: &Array2<f64>| x.slice(ndarray_linfa::s![.., ..tree_columns]).to_owned();

    // Choices on the validation split.
    let mut ridge_choice = (f64::INFINITY, PENALTIES[0]);
    for penalty in PENALTIES {
        let ridge = Ridge::fit(&x_fit, &y_fit, penalty)?;
        let error = mae(&predict_all(&Predictor::Ridge(ridge), &x_valid), y_valid.as_slice().unwrap_or(&[]));
        if error < ridge_choice.0 {
            ridge_choice = (error, penalty);
        }
    }
    let gbdt = fit_trees(trees, &trees_of(&x_fit), &y_fit)?;

    let staged = gbdt.staged_loss(trees.loss, &trees_of(&x_valid), &y_valid);
    let best_trees = staged.iter().enumerate().min_by(|a, b| a.1.total_cmp(b.1)).map_or(1, |(i, _)| i + 1);
    let trees_valid = Predictor::Trees { columns: tree_columns, model: gbdt.truncated(best_trees) };
    let trees_error = mae(&predict_all(&trees_valid, &x_valid), y_valid.as_slice().unwrap_or(&[]));
    let use_trees = trees_error <= ridge_choice.0;
    let chosen_valid = match use_trees {
        true => trees_valid,
        false => Predictor::Ridge(Ridge::fit(&x_fit, &y_fit, ridge_choice.1)?),
    };
    let residuals: Vec<f64> =
        predict_all(&chosen_valid, &x_valid).iter().zip(y_valid.iter()).map(|(p, y)| y - p).collect();
    let (residual_low, residual_high) = (quantile(&residuals, 0.1), quantile(&residuals, 0.9));

    // Scores on the held-out rows, each model fitted on every earlier row.
    let final_trees = GbdtParams { trees: best_trees, ..trees.clone() };
    let fit_both = |rows: &[PostRow]| -> Result<(Predictor, Predictor), TrainingError> {
        let (x, y, _) = design.matrix(rows);
        Ok((
            Predictor::Ridge(Ridge::fit(&x, &y, ridge_choice.1)?),
            Predictor::Trees { columns: tree_columns, model: fit_trees(&final_trees, &trees_of(&x), &y)? },
        ))
    };
    let (ridge, gbdt) = fit_both(&train)?;

    let held_rows: Vec<PostRow> = held.iter().map(|r| (*r).clone()).collect();
    let (x_held, _, offsets) = design.matrix(&held_rows);
    let actual: Vec<f64> = held.iter().filter_map(|r| r.log_engagement).collect();
    let in_log = |departures: Vec<f64>| departures.iter().zip(&offsets).map(|(d, o)| d + o).collect::<Vec<f64>>();
    let train_refs: Vec<&PostRow> = train.iter().collect();
    let (median, hour_mean) = (AccountMedian::fit(&train_refs), AccountHourMean::fit(&train_refs));
    let score = |method: &str, predicted: Vec<f64>| MethodScore {
        method: method.into(),
        spearman: spearman(&predicted, &actual),
        within_account_spearman: within_account_spearman(&held, &predicted),
        mae: mae(&predicted, &actual),
    };
    let served_held = in_log(predict_all(if use_trees { &gbdt } else { &ridge }, &x_held));
    let covered =
        served_held.iter().zip(&actual).filter(|(p, y)| (*p + residual_low..=*p + residual_high).contains(y)).count();
    let scores = vec![
        score("ridge", in_log(predict_all(&ridge, &x_held))),
        score("trees", in_log(predict_all(&gbdt, &x_held))),
        score("account median", held.iter().map(|r| median.predict(r)).collect()),
        score("account × hour-of-week mean", held.iter().map(|r| hour_mean.predict(r)).collect()),
    ];
    let mut accounts: Vec<&str> = all.iter().map(|r| r.account_id.as_str()).collect();
    accounts.sort_unstable();
    accounts.dedup();
    let evaluation = Evaluation {
        data: data.to_string(),
        posts: all.len(),
        accounts: accounts.len(),
        train_rows: train.len(),
        held_out_rows: held.len(),
        scores,
        served: if use_trees { "trees" } else { "ridge" }.into(),
        ridge_penalty: ridge_choice.1,
        trees: best_trees,
        interval_coverage: covered as f64 / actual.len().max(1) as f64,
        ranked_accounts: ranked_accounts(&held),
    };

    // Served: the chosen model refitted on every row, encoded as training encoded.
    let design = Design::learn(&all);
    let (x_all, y_all, _) = design.matrix(&all);
    let predictor = match use_trees {
        true => Predictor::Trees { columns: tree_columns, model: fit_trees(&final_trees, &trees_of(&x_all), &y_all)? },
        false => Predictor::Ridge(Ridge::fit(&x_all, &y_all, ridge_choice.1)?),
    };
    Ok(EngagementModel { format: MODEL_FORMAT, design, predictor, residual_low, residual_high, evaluation })
}

fn fit_trees(params: &GbdtParams, x: &Array2<f64>, y: &Array1<f64>) -> Result<Gbdt, TrainingError> {
    params.fit(&Dataset::new(x.clone(), y.clone())).map_err(|e| TrainingError::Forecaster(e.to_string()))
}

fn predict_all(predictor: &Predictor, x: &Array2<f64>) -> Vec<f64> {
    x.rows().into_iter().map(|row| predictor.predict(&row.to_vec())).collect()
}
