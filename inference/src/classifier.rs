//! Classification heads on a sentence vector: one small linear layer per task, all fed by the
//! same encoder pass. The heads, their labels and how they were trained live in one JSON file
//! (`heads.json`) beside the encoder, so a served answer can always name where it came from.

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::InferenceError;

/// `logits = weights · x + bias`, `weights` stored `[labels][dimensions]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LinearHead {
    pub weights: Vec<Vec<f32>>,
    pub bias: Vec<f32>,
}

impl LinearHead {
    pub fn logits(&self, x: &[f32]) -> Vec<f32> {
        self.weights
            .iter()
            .zip(&self.bias)
            .map(|(row, b)| row.iter().zip(x).map(|(w, v)| w * v).sum::<f32>() + b)
            .collect()
    }
}

/// One task's head, as stored in `heads.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadSpec {
    pub task: String,
    /// Label names in output order.
    pub labels: Vec<String>,
    #[serde(flatten)]
    pub linear: LinearHead,
    /// How the head was trained and how it scored: method, metric, data hashes, hyper-parameters.
    #[serde(default)]
    pub provenance: serde_json::Value,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HeadsFile {
    /// The sentence-vector width every head expects.
    pub dimensions: usize,
    pub heads: Vec<HeadSpec>,
}

/// One task's answer for one text.
#[derive(Debug, Clone, PartialEq)]
pub struct Prediction {
    /// Index into the head's labels.
    pub label: usize,
    /// Softmax probabilities in label order.
    pub probabilities: Vec<f32>,
}

pub struct Classifier {
    heads: Vec<HeadSpec>,
}

impl Classifier {
    /// Reads and checks `heads.json` for vectors of `dimensions` values.
    pub fn from_file(path: &Path, dimensions: usize) -> Result<Self, InferenceError> {
        let invalid = |reason: String| InferenceError::Backend {
            backend: "heads",
            reason: format!("{}: {reason}", path.display()),
        };
        let text = std::fs::read_to_string(path).map_err(|e| invalid(e.to_string()))?;
        let file: HeadsFile = serde_json::from_str(&text).map_err(|e| invalid(e.to_string()))?;
        check(&file, dimensions).map_err(invalid)?;
        Ok(Self { heads: file.heads })
    }

    /// Checks heads already in memory for vectors of `dimensions` values.
    pub fn new(file: HeadsFile, dimensions: usize) -> Result<Self, InferenceError> {
        check(&file, dimensions).map_err(|reason| InferenceError::Backend { backend: "heads", reason })?;
        Ok(Self { heads: file.heads })
    }

    pub fn heads(&self) -> &[HeadSpec] {
        &self.heads
    }

    pub fn head(&self, task: &str) -> Option<&HeadSpec> {
        self.heads.iter().find(|h| h.task == task)
    }

    /// `task`'s answer for a sentence vector.
    pub fn predict(head: &HeadSpec, vector: &[f32]) -> Prediction {
        let logits = head.linear.logits(vector);
        let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let exps: Vec<f32> = logits.iter().map(|l| (l - max).exp()).collect();
        let total: f32 = exps.iter().sum();
        let probabilities: Vec<f32> = exps.iter().map(|e| e / total).collect();
        let label =
            probabilities.iter().enumerate().fold(0, |best, (i, &p)| if p > probabilities[best] { i } else { best });
        Prediction { label, probabilities }
    }
}

/// Every head fits `dimensions`-wide vectors, has two labels or more and finite weights, and
/// no task has two heads.
fn check(file: &HeadsFile, dimensions: usize) -> Result<(), String> {
    if file.dimensions != dimensions {
        return Err(format!("heads expect {}-dimensional vectors, the encoder gives {dimensions}", file.dimensions));
    }
    for head in &file.heads {
        let rows_ok = head.linear.weights.len() == head.labels.len() && head.linear.bias.len() == head.labels.len();
        let widths_ok = head.linear.weights.iter().all(|row| row.len() == dimensions);
        let finite = head.linear.weights.iter().flatten().chain(&head.linear.bias).all(|v| v.is_finite());
        if head.labels.len() < 2 || !rows_ok || !widths_ok || !finite {
            return Err(format!("head `{}` is malformed", head.task));
        }
        if file.heads.iter().filter(|h| h.task == head.task).count() > 1 {
            return Err(format!("task `{}` has two heads", head.task));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, json: &str) -> std::path::PathBuf {
        let path = dir.join("heads.json");
        std::fs::write(&path, json).unwrap();
        path
    }

    #[test]
    fn predicts_softmax_over_the_linear_layer() {
        let dir = tempfile::tempdir().unwrap();
        let path = write(
            dir.path(),
            r#"{"dimensions": 2, "heads": [{"task": "t", "labels": ["a", "b"], "weights": [[1, 0], [0, 1]], "bias": [0, 0]}]}"#,
        );
        let classifier = Classifier::from_file(&path, 2).unwrap();
        let prediction = Classifier::predict(classifier.head("t").unwrap(), &[0.0, 2.0]);
        assert_eq!(prediction.label, 1);
        let expected = 1.0 / (1.0 + (-2f32).exp());
        assert!((prediction.probabilities[1] - expected).abs() < 1e-6);
        assert!(classifier.head("other").is_none());
    }

    #[test]
    fn rejects_heads_that_do_not_fit_the_encoder() {
        let dir = tempfile::tempdir().unwrap();
        let wrong_width = write(
            dir.path(),
            r#"{"dimensions": 2, "heads": [{"task": "t", "labels": ["a", "b"], "weights": [[1], [0]], "bias": [0, 0]}]}"#,
        );
        assert!(Classifier::from_file(&wrong_width, 2).err().unwrap().to_string().contains("malformed"));
        assert!(Classifier::from_file(&wrong_width, 3).err().unwrap().to_string().contains("3"));
    }
}
