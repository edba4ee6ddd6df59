//! One training run: data, cached encoder states, frozen heads, fine-tuning, and the choice per
//! task between them.

use std::path::PathBuf;
use std::time::Instant;

use eiq_models::ResolvedModel;
use serde::Serialize;

use crate::encode::SplitEncoder;
use crate::finetune::{FineTuneConfig, FineTuned, argmax, fine_tune};
use crate::frozen::{FrozenCandidate, train_frozen};
use crate::store::MatrixStore;
use crate::tasks::{DataProvenance, TaskData, load_task};
use crate::{LinearHead, TextTask, TrainingError};

pub struct TrainOptions {
    /// The repository's `datasets/` folder.
    pub datasets: PathBuf,
    /// Where encoder states and sentence vectors are cached between runs.
    pub cache: PathBuf,
    pub tasks: Vec<TextTask>,
    /// Encoder layers trained (the rest stay frozen and cached).
    pub top_layers: usize,
    /// `None` trains the frozen heads only.
    pub fine_tune: Option<FineTuneConfig>,
}

/// Bias shifts tried per head, in units of log class prior: the loss weighting (or its absence)
/// leaves each head leaning toward rare or common classes, and the shift that scores best on
/// validation is kept (a one-parameter calibration, like choosing the regularisation).
const PRIOR_SHIFTS: [f32; 5] = [0.0, -0.5, 0.5, -1.0, 1.0];

#[derive(Debug, Clone, Serialize)]
pub struct HeadResult {
    pub validation: f64,
    pub prior_shift: f32,
}

#[derive(Debug, Clone, Serialize)]
pub struct TaskReport {
    pub task: TextTask,
    pub labels: Vec<String>,
    pub metric: &'static str,
    pub data: DataProvenance,
    pub frozen: HeadResult,
    pub frozen_alpha: f64,
    pub frozen_candidates: Vec<FrozenCandidate>,
    /// Wall time of fitting every frozen candidate for this task.
    pub frozen_seconds: f64,
    pub fine_tuned: Option<HeadResult>,
}

pub struct TrainedTask {
    pub report: TaskReport,
    pub frozen_head: LinearHead,
    pub fine_tuned_head: Option<LinearHead>,
}

pub struct TrainReport {
    pub encoder_id: String,
    pub encoder_sha256: String,
    pub top_layers: usize,
    pub tasks: Vec<TrainedTask>,
    pub fine_tuned: Option<FineTuned>,
    /// The top layers to serve: fine-tuned, or the base model's own when only frozen heads exist.
    pub served_top_layers: std::collections::HashMap<String, candle_core::Tensor>,
    pub fine_tune_config: Option<FineTuneConfig>,
    pub encode_seconds: f64,
    pub frozen_seconds: f64,
    pub fine_tune_seconds: f64,
}

pub fn train(encoder: &ResolvedModel, options: &TrainOptions) -> Result<TrainReport, TrainingError> {
    if let Some(config) = &options.fine_tune {
        config.validate()?;
    }
    let data: Vec<TaskData> =
        options.tasks.iter().map(|&t| load_task(&options.datasets, t)).collect::<Result<_, _>>()?;
    for task in &data {
        tracing::info!(task = task.task.as_str(), provenance = ?task.provenance, "data ready");
    }
    let encoder = SplitEncoder::load(encoder, options.top_layers)?;
    let folder = options.cache.join(&encoder.weights_sha256[..16]);
    let width = encoder.config.hidden_size;
    let mut states = MatrixStore::open(&folder.join(format!("layer-{}-states.f16", encoder.split)), width)?;
    let mut pooled = MatrixStore::open(&folder.join("sentence-vectors.f16"), width)?;

    let started = Instant::now();
    let texts: Vec<&str> =
        data.iter().flat_map(|t| t.train.iter().chain(&t.validation)).map(|e| e.text.as_str()).collect();
    encoder.cache_states(&texts, &mut states)?;
    encoder.cache_pooled(&texts, &states, &mut pooled)?;
    let encode_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let mut tasks = Vec::new();
    for task in &data {
        let task_started = Instant::now();
        let frozen = train_frozen(&encoder, task, &pooled)?;
        let (frozen_head, frozen_result) = calibrate(task, frozen.head, &frozen.validation_logits);
        tasks.push(TrainedTask {
            report: TaskReport {
                task: task.task,
                labels: task.labels.clone(),
                metric: task.task.metric().as_str(),
                data: task.provenance.clone(),
                frozen: frozen_result,
                frozen_alpha: frozen.alpha,
                frozen_candidates: frozen.candidates,
                frozen_seconds: task_started.elapsed().as_secs_f64(),
                fine_tuned: None,
            },
            frozen_head,
            fine_tuned_head: None,
        });
    }
    let frozen_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    let fine_tuned = match &options.fine_tune {
        None => None,
        Some(config) => {
            let mut tuned = fine_tune(&encoder, &data, &states, config)?;
            // Heads and logits come in the order of `data`.
            let heads = std::mem::take(&mut tuned.heads);
            for (((task, trained), head), logits) in
                data.iter().zip(&mut tasks).zip(heads).zip(&tuned.validation_logits)
            {
                let (head, result) = calibrate(task, head, logits);
                trained.fine_tuned_head = Some(head);
                trained.report.fine_tuned = Some(result);
            }
            Some(tuned)
        }
    };
    let fine_tune_seconds = started.elapsed().as_secs_f64();
    let served_top_layers = match &fine_tuned {
        Some(tuned) => tuned.top_layers.clone(),
        None => encoder.top_layer_tensors(),
    };

    Ok(TrainReport {
        encoder_id: encoder.id.clone(),
        encoder_sha256: encoder.weights_sha256.clone(),
        top_layers: options.top_layers,
        tasks,
        fine_tuned,
        served_top_layers,
        fine_tune_config: options.fine_tune.clone(),
        encode_seconds,
        frozen_seconds,
        fine_tune_seconds,
    })
}

/// Picks the prior shift that scores best on validation and folds it into the head's bias.
fn calibrate(task: &TaskData, mut head: LinearHead, validation_logits: &[Vec<f32>]) -> (LinearHead, HeadResult) {
    let mut counts = vec![0f32; task.labels.len()];
    task.train.iter().for_each(|e| counts[e.label] += 1.0);
    let total: f32 = counts.iter().sum();
    let log_prior: Vec<f32> = counts.iter().map(|c| (c.max(1.0) / total).ln()).collect();
    let gold: Vec<usize> = task.validation.iter().map(|e| e.label).collect();
    let mut best = HeadResult { validation: f64::NEG_INFINITY, prior_shift: 0.0 };
    for shift in PRIOR_SHIFTS {
        let predicted: Vec<usize> = validation_logits
            .iter()
            .map(|row| argmax(&row.iter().zip(&log_prior).map(|(l, p)| l + shift * p).collect::<Vec<_>>()))
            .collect();
        let score = task.task.metric().score(&gold, &predicted, task.labels.len());
        // Smaller shifts come first and ties keep them: no calibration unless it helps.
        if score > best.validation {
            best = HeadResult { validation: score, prior_shift: shift };
        }
    }
    head.bias.iter_mut().zip(&log_prior).for_each(|(b, p)| *b += best.prior_shift * p);
    (head, best)
}
