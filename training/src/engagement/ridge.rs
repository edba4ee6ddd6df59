//! The regularised linear baseline: linfa's elastic net with the L1 share at zero (ridge), on
//! standardised columns. Weights are stored in the original scale, so serving is a dot product.

use linfa::prelude::*;
use linfa_elasticnet::ElasticNet;
use ndarray_linfa::{Array1, Array2, Axis};
use serde::{Deserialize, Serialize};

use crate::TrainingError;

/// Penalties tried on the validation split.
pub const PENALTIES: [f64; 5] = [1e-4, 1e-3, 1e-2, 1e-1, 1.0];

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Ridge {
    pub penalty: f64,
    pub intercept: f64,
    pub weights: Vec<f64>,
}

impl Ridge {
    pub fn fit(x: &Array2<f64>, y: &Array1<f64>, penalty: f64) -> Result<Self, TrainingError> {
        let mean = x.mean_axis(Axis(0)).ok_or_else(|| TrainingError::Forecaster("no rows".into()))?;
        let std = x.std_axis(Axis(0), 0.0).mapv(|s| if s > 1e-12 { s } else { 1.0 });
        let standardised = (x - &mean) / &std;
        let model = ElasticNet::params()
            .penalty(penalty)
            .l1_ratio(0.0)
            .tolerance(1e-3)
            .max_iterations(200)
            .fit(&Dataset::new(standardised, y.clone()))
            .map_err(|e| TrainingError::Forecaster(format!("ridge: {e}")))?;
        let weights = model.hyperplane() / &std;
        let intercept = model.intercept() - weights.dot(&mean);
        Ok(Self { penalty, intercept, weights: weights.to_vec() })
    }

    pub fn predict_one(&self, x: &[f64]) -> f64 {
        self.intercept + self.weights.iter().zip(x).map(|(w, v)| w * v).sum::<f64>()
    }
}
