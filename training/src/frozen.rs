//! Linear heads on the frozen encoder's sentence vectors: multinomial logistic regression with
//! linfa, its L2 strength chosen on validation.

use linfa::Dataset;
use linfa::prelude::Fit;
use linfa_logistic::MultiLogisticRegression;
use ndarray_linfa::{Array1, Array2};
use serde::Serialize;

use crate::encode::SplitEncoder;
use crate::store::MatrixStore;
use crate::tasks::TaskData;
use crate::{LinearHead, TrainingError};

/// L2 strengths tried. linfa's loss sums over examples and the inputs are unit vectors (small
/// components, so useful weights are large): the useful strengths are small.
pub const ALPHAS: [f64; 6] = [0.001, 0.01, 0.1, 1.0, 10.0, 100.0];
const MAX_ITERATIONS: u64 = 300;

#[derive(Debug, Clone, Serialize)]
pub struct FrozenCandidate {
    pub alpha: f64,
    pub validation: f64,
}

pub struct FrozenHead {
    pub head: LinearHead,
    pub alpha: f64,
    pub candidates: Vec<FrozenCandidate>,
    pub validation_logits: Vec<Vec<f32>>,
}

/// Fits one head per alpha and keeps the best on validation.
pub fn train_frozen(
    encoder: &SplitEncoder,
    task: &TaskData,
    pooled: &MatrixStore,
) -> Result<FrozenHead, TrainingError> {
    let features = |texts: &mut dyn Iterator<Item = &str>| -> Result<Array2<f64>, TrainingError> {
        let rows: Vec<Vec<f64>> = texts
            .map(|text| {
                let row = pooled.get(&encoder.key(text)).ok_or_else(|| TrainingError::Data("uncached text".into()))?;
                Ok(row.iter().map(|v| f64::from(v.to_f32())).collect())
            })
            .collect::<Result<_, TrainingError>>()?;
        let width = pooled.width();
        Array2::from_shape_vec((rows.len(), width), rows.concat()).map_err(|e| TrainingError::Linfa(e.to_string()))
    };
    let train_x = features(&mut task.train.iter().map(|e| e.text.as_str()))?;
    let train_y: Array1<usize> = task.train.iter().map(|e| e.label).collect();
    let validation_x = features(&mut task.validation.iter().map(|e| e.text.as_str()))?;
    let gold: Vec<usize> = task.validation.iter().map(|e| e.label).collect();
    let dataset = Dataset::new(train_x, train_y);

    let mut best: Option<(f64, LinearHead, f64, Vec<Vec<f32>>)> = None;
    let mut candidates = Vec::new();
    for alpha in ALPHAS {
        let model = MultiLogisticRegression::default()
            .alpha(alpha)
            .max_iterations(MAX_ITERATIONS)
            .fit(&dataset)
            .map_err(|e| TrainingError::Linfa(e.to_string()))?;
        if model.classes() != (0..task.labels.len()).collect::<Vec<_>>() {
            return Err(TrainingError::Data(format!("{}: a label never occurs in training", task.task.as_str())));
        }
        // linfa's parameters are [features, classes]; a head is [classes][features].
        let head = LinearHead {
            weights: model.params().columns().into_iter().map(|c| c.iter().map(|&v| v as f32).collect()).collect(),
            bias: model.intercept().iter().map(|&v| v as f32).collect(),
        };
        let logits: Vec<Vec<f32>> = validation_x
            .rows()
            .into_iter()
            .map(|r| head.logits(&r.iter().map(|&v| v as f32).collect::<Vec<_>>()))
            .collect();
        let predicted: Vec<usize> = logits.iter().map(|l| crate::finetune::argmax(l)).collect();
        let validation = task.task.metric().score(&gold, &predicted, task.labels.len());
        tracing::info!(task = task.task.as_str(), alpha, validation, "frozen head");
        candidates.push(FrozenCandidate { alpha, validation });
        if best.as_ref().is_none_or(|(score, ..)| validation > *score) {
            best = Some((validation, head, alpha, logits));
        }
    }
    let (_, head, alpha, validation_logits) = best.expect("at least one alpha");
    Ok(FrozenHead { head, alpha, candidates, validation_logits })
}
