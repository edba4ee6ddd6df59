//! What a forecaster must beat: the account's median, and the account's mean at that hour of
//! week (what a spreadsheet of past posts would say). Both learn from the training rows only.

use std::collections::HashMap;

use super::metrics::quantile;
use super::rows::PostRow;

pub struct AccountMedian {
    by_account: HashMap<String, f64>,
    overall: f64,
}

impl AccountMedian {
    pub fn fit(train: &[&PostRow]) -> Self {
        let mut values: HashMap<String, Vec<f64>> = HashMap::new();
        for row in train {
            values.entry(row.account_id.clone()).or_default().extend(row.log_engagement);
        }
        let all: Vec<f64> = train.iter().filter_map(|r| r.log_engagement).collect();
        Self {
            by_account: values.into_iter().map(|(a, v)| (a, quantile(&v, 0.5))).collect(),
            overall: quantile(&all, 0.5),
        }
    }

    /// An account with no training posts gets the median of all posts.
    pub fn predict(&self, row: &PostRow) -> f64 {
        self.by_account.get(&row.account_id).copied().unwrap_or(self.overall)
    }
}

pub struct AccountHourMean {
    cells: HashMap<(String, i64), (f64, usize)>,
    median: AccountMedian,
}

impl AccountHourMean {
    pub fn fit(train: &[&PostRow]) -> Self {
        let mut cells: HashMap<(String, i64), (f64, usize)> = HashMap::new();
        for row in train {
            if let Some(y) = row.log_engagement {
                let cell = cells.entry((row.account_id.clone(), row.hour_of_week)).or_default();
                cell.0 += y;
                cell.1 += 1;
            }
        }
        Self { cells, median: AccountMedian::fit(train) }
    }

    /// An hour the account never posted in falls back to the account's median.
    pub fn predict(&self, row: &PostRow) -> f64 {
        match self.cells.get(&(row.account_id.clone(), row.hour_of_week)) {
            Some((sum, n)) => sum / *n as f64,
            None => self.median.predict(row),
        }
    }
}
