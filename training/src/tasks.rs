//! The five text tasks, their data (de-duplicated, validation kept out of training) and the
//! official TweetEval metric each is scored by.

use std::path::Path;

use eiq_datasets::{DedupReport, Example, Split, dedup, drop_overlap, load_semeval_dir, load_tweeteval};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::TrainingError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TextTask {
    Sentiment,
    Emotion,
    Offensive,
    Hate,
    Irony,
}

/// How TweetEval scores a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    MacroRecall,
    MacroF1,
    /// F1 of label 1 (irony) only.
    PositiveF1,
}

impl TextTask {
    pub const ALL: [TextTask; 5] =
        [TextTask::Sentiment, TextTask::Emotion, TextTask::Offensive, TextTask::Hate, TextTask::Irony];

    pub fn as_str(self) -> &'static str {
        match self {
            TextTask::Sentiment => "sentiment",
            TextTask::Emotion => "emotion",
            TextTask::Offensive => "offensive",
            TextTask::Hate => "hate",
            TextTask::Irony => "irony",
        }
    }

    pub fn parse(name: &str) -> Result<Self, TrainingError> {
        Self::ALL.into_iter().find(|t| t.as_str() == name).ok_or_else(|| {
            let known: Vec<&str> = Self::ALL.iter().map(|t| t.as_str()).collect();
            TrainingError::UnknownTask { name: name.to_string(), known: known.join(", ") }
        })
    }

    pub fn metric(self) -> Metric {
        match self {
            TextTask::Sentiment => Metric::MacroRecall,
            TextTask::Irony => Metric::PositiveF1,
            _ => Metric::MacroF1,
        }
    }
}

impl Metric {
    pub fn as_str(self) -> &'static str {
        match self {
            Metric::MacroRecall => "macro-averaged recall",
            Metric::MacroF1 => "macro-averaged F1",
            Metric::PositiveF1 => "F1 of the irony class",
        }
    }

    /// The score of `predicted` against `gold`, labels in `0..labels`.
    pub fn score(self, gold: &[usize], predicted: &[usize], labels: usize) -> f64 {
        let mut confusion = vec![vec![0usize; labels]; labels];
        for (&g, &p) in gold.iter().zip(predicted) {
            confusion[g][p] += 1;
        }
        let recall = |c: usize| ratio(confusion[c][c], confusion[c].iter().sum());
        let precision = |c: usize| ratio(confusion[c][c], confusion.iter().map(|row| row[c]).sum());
        let f1 = |c: usize| {
            let (p, r) = (precision(c), recall(c));
            if p + r == 0.0 { 0.0 } else { 2.0 * p * r / (p + r) }
        };
        match self {
            Metric::MacroRecall => (0..labels).map(recall).sum::<f64>() / labels as f64,
            Metric::MacroF1 => (0..labels).map(f1).sum::<f64>() / labels as f64,
            Metric::PositiveF1 => f1(1),
        }
    }
}

fn ratio(part: usize, whole: usize) -> f64 {
    if whole == 0 { 0.0 } else { part as f64 / whole as f64 }
}

/// A task's training and validation examples, and what preparing them removed.
#[derive(Debug, Clone)]
pub struct TaskData {
    pub task: TextTask,
    pub labels: Vec<String>,
    pub train: Vec<Example>,
    pub validation: Vec<Example>,
    pub provenance: DataProvenance,
}

#[derive(Debug, Clone, Serialize)]
pub struct DataProvenance {
    pub train_source: String,
    pub validation_source: String,
    pub train_examples: usize,
    pub validation_examples: usize,
    pub exact_duplicates_removed: usize,
    pub near_duplicates_removed: usize,
    pub empty_removed: usize,
    pub validation_overlaps_removed: usize,
    /// sha256 of the prepared examples (`label \t text` lines), so a card names its exact data.
    pub train_sha256: String,
    pub validation_sha256: String,
}

/// Loads `task` from the repository's `datasets/` folder: sentiment trains on the SemEval-2017
/// 4A parts and validates on TweetEval; the others use TweetEval's own train and validation.
pub fn load_task(datasets: &Path, task: TextTask) -> Result<TaskData, TrainingError> {
    let tweeteval = datasets.join("tweeteval").join(task.as_str());
    let validation = load_tweeteval(&tweeteval, Split::Validation)?;
    let (train, train_source) = match task {
        TextTask::Sentiment => (load_semeval_dir(&datasets.join("semeval2017-task4a"))?, "SemEval-2017 Task 4A"),
        _ => (load_tweeteval(&tweeteval, Split::Train)?, "TweetEval train"),
    };
    if train.labels != validation.labels {
        return Err(TrainingError::Data(format!(
            "{}: training labels {:?} differ from validation labels {:?}",
            task.as_str(),
            train.labels,
            validation.labels
        )));
    }
    let (mut examples, report): (Vec<Example>, DedupReport) = dedup(train.examples);
    let overlaps = drop_overlap(&mut examples, &validation.examples);
    let provenance = DataProvenance {
        train_source: train_source.into(),
        validation_source: "TweetEval validation".into(),
        train_examples: examples.len(),
        validation_examples: validation.examples.len(),
        exact_duplicates_removed: report.exact,
        near_duplicates_removed: report.near,
        empty_removed: report.empty,
        validation_overlaps_removed: overlaps,
        train_sha256: examples_sha256(&examples),
        validation_sha256: examples_sha256(&validation.examples),
    };
    Ok(TaskData { task, labels: validation.labels, train: examples, validation: validation.examples, provenance })
}

fn examples_sha256(examples: &[Example]) -> String {
    let mut hasher = Sha256::new();
    for example in examples {
        hasher.update(format!("{}\t{}\n", example.label, example.text));
    }
    hex::encode(hasher.finalize())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_follow_tweeteval_definitions() {
        let gold = [0, 0, 1, 1, 2, 2];
        let predicted = [0, 1, 1, 1, 2, 0];
        // recalls 0.5, 1, 0.5
        assert!((Metric::MacroRecall.score(&gold, &predicted, 3) - 2.0 / 3.0).abs() < 1e-12);
        // precisions 0.5, 2/3, 1 -> F1 0.5, 0.8, 2/3
        let macro_f1 = (0.5 + 0.8 + 2.0 / 3.0) / 3.0;
        assert!((Metric::MacroF1.score(&gold, &predicted, 3) - macro_f1).abs() < 1e-12);
        assert!((Metric::PositiveF1.score(&gold, &predicted, 3) - 0.8).abs() < 1e-12);
        // A class never predicted scores 0, not NaN.
        assert_eq!(Metric::PositiveF1.score(&[1, 1], &[0, 0], 2), 0.0);
    }

    #[test]
    fn unknown_task_names_the_known_ones() {
        let err = TextTask::parse("toxicity").unwrap_err().to_string();
        assert!(err.contains("sentiment") && err.contains("irony"), "{err}");
    }
}
