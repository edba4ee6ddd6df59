//! Partial fine-tuning: the encoder's top layers and one linear head per task, trained together
//! with candle on the cached output of the frozen bottom layers (each step costs the top layers
//! only). Tasks share the top layers, so serving stays one encoder pass for every head.

use std::collections::HashMap;
use std::time::Instant;

use candle_core::{DType, Device, Tensor, Var};
use candle_nn::{AdamW, Optimizer, ParamsAdamW, VarBuilder, VarMap};
use eiq_inference::BertLayers;
use half::f16;
use serde::Serialize;

use crate::encode::{SplitEncoder, StateBatch, chunks_by_tokens};
use crate::store::{MatrixStore, TextKey};
use crate::tasks::TaskData;
use crate::{LinearHead, TrainingError, progress};
use eiq_datasets::SplitMix64;

#[derive(Debug, Clone, Serialize)]
pub struct FineTuneConfig {
    pub epochs: usize,
    pub batch_size: usize,
    pub encoder_learning_rate: f64,
    pub head_learning_rate: f64,
    pub weight_decay: f64,
    /// Fraction of steps over which the learning rates warm up linearly; they then decay to 0.
    pub warmup: f64,
    pub seed: u64,
}

impl Default for FineTuneConfig {
    fn default() -> Self {
        Self {
            epochs: 3,
            batch_size: 32,
            encoder_learning_rate: 1e-4,
            head_learning_rate: 2e-3,
            weight_decay: 0.01,
            warmup: 0.05,
            seed: 17,
        }
    }
}

impl FineTuneConfig {
    pub fn validate(&self) -> Result<(), TrainingError> {
        if self.epochs == 0 || self.batch_size == 0 {
            return Err(TrainingError::Data("fine-tuning needs at least one epoch and one text per batch".into()));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct EpochReport {
    pub epoch: usize,
    /// Validation score per task (in the order trained), official metric.
    pub validation: Vec<f64>,
    pub mean: f64,
    pub seconds: f64,
}

pub struct FineTuned {
    /// The trained top layers, named as in the base checkpoint.
    pub top_layers: HashMap<String, Tensor>,
    /// One head per task, in the order trained, on the served (unit-length) sentence vector.
    pub heads: Vec<LinearHead>,
    pub best_epoch: usize,
    pub history: Vec<EpochReport>,
    /// Validation logits per task at the best epoch, for choosing each head's prior correction.
    pub validation_logits: Vec<Vec<Vec<f32>>>,
}

/// The unit-length sentence vector is scaled by √width before the heads during training, so
/// the head weights start at a sensible scale; the factor is folded into the exported weights.
fn pooled_scale(width: usize) -> f64 {
    (width as f64).sqrt()
}

pub fn fine_tune(
    encoder: &SplitEncoder,
    tasks: &[TaskData],
    states: &MatrixStore,
    config: &FineTuneConfig,
) -> Result<FineTuned, TrainingError> {
    config.validate()?;
    let device = Device::Cpu;
    let width = encoder.config.hidden_size;
    let layers = encoder.split..encoder.config.num_hidden_layers;

    let top_vars = VarMap::new();
    {
        let mut data = top_vars.data().lock().expect("var map lock");
        for (name, tensor) in encoder.top_layer_tensors() {
            data.insert(name, Var::from_tensor(&tensor)?);
        }
    }
    // Rebuilt every step: the fused QKV and transposed weights are derived from the variables,
    // so they must be derived again after each update (cheap next to a forward pass).
    let load_top = |differentiable| {
        let vars = VarBuilder::from_varmap(&top_vars, DType::F32, &device);
        BertLayers::load(vars, &encoder.config, layers.clone(), differentiable)
    };
    let heads: Vec<(Var, Var)> = tasks
        .iter()
        .map(|t| {
            let k = t.labels.len();
            Ok((Var::zeros((width, k), DType::F32, &device)?, Var::zeros(k, DType::F32, &device)?))
        })
        .collect::<Result<_, TrainingError>>()?;
    let class_weights: Vec<Tensor> = tasks
        .iter()
        .map(|t| {
            let mut counts = vec![0f32; t.labels.len()];
            t.train.iter().for_each(|e| counts[e.label] += 1.0);
            let total: f32 = counts.iter().sum();
            let k = counts.len() as f32;
            let weights: Vec<f32> = counts.iter().map(|&c| total / (k * c.max(1.0))).collect();
            Ok(Tensor::new(weights, &device)?)
        })
        .collect::<Result<_, TrainingError>>()?;

    // Batches of similar length (little padding), each from one task; their order is shuffled.
    let train_keys: Vec<Vec<TextKey>> =
        tasks.iter().map(|t| t.train.iter().map(|e| encoder.key(&e.text)).collect()).collect();
    let mut batches: Vec<(usize, Vec<usize>)> = Vec::new();
    for (t, keys) in train_keys.iter().enumerate() {
        let mut order: Vec<usize> = (0..keys.len()).collect();
        order.sort_by_key(|&i| states.get(&keys[i]).map_or(0, <[f16]>::len));
        batches.extend(order.chunks(config.batch_size).map(|c| (t, c.to_vec())));
    }

    let mut encoder_optimizer = AdamW::new(
        top_vars.all_vars(),
        ParamsAdamW { lr: config.encoder_learning_rate, weight_decay: config.weight_decay, ..Default::default() },
    )?;
    let head_vars: Vec<Var> = heads.iter().flat_map(|(w, b)| [w.clone(), b.clone()]).collect();
    let mut head_optimizer =
        AdamW::new(head_vars, ParamsAdamW { lr: config.head_learning_rate, weight_decay: 0.0, ..Default::default() })?;

    let total_steps = (batches.len() * config.epochs).max(1);
    let warmup_steps = ((total_steps as f64 * config.warmup) as usize).max(1);
    let mut rng = SplitMix64::new(config.seed);
    let scale = pooled_scale(width);
    let mut history = Vec::new();
    let mut best: Option<(f64, FineTuned)> = None;
    let mut step = 0usize;
    for epoch in 1..=config.epochs {
        let started = Instant::now();
        rng.shuffle(&mut batches);
        let bar = progress(batches.len(), &format!("fine-tuning epoch {epoch}/{}", config.epochs));
        let mut running_loss = 0f64;
        for (n, (t, members)) in batches.iter().enumerate() {
            let factor = if step < warmup_steps {
                (step + 1) as f64 / warmup_steps as f64
            } else {
                (total_steps - step) as f64 / (total_steps - warmup_steps).max(1) as f64
            };
            encoder_optimizer.set_learning_rate(config.encoder_learning_rate * factor);
            head_optimizer.set_learning_rate(config.head_learning_rate * factor);

            let matrices = members
                .iter()
                .map(|&i| states.get(&train_keys[*t][i]).ok_or_else(|| TrainingError::Data("uncached text".into())))
                .collect::<Result<Vec<_>, _>>()?;
            let batch = StateBatch::new(&matrices, width)?;
            let top = load_top(true)?;
            let hidden = top.forward(&batch.hidden, &batch.mask, batch.padded)?;
            let pooled = (batch.mean_pool_normalized(&hidden)? * scale)?;
            let (w, b) = &heads[*t];
            let logits = pooled.matmul(w.as_tensor())?.broadcast_add(b.as_tensor())?;
            let labels: Vec<usize> = members.iter().map(|&i| tasks[*t].train[i].label).collect();
            let loss = weighted_cross_entropy(&logits, &labels, &class_weights[*t])?;
            let grads = loss.backward()?;
            encoder_optimizer.step(&grads)?;
            head_optimizer.step(&grads)?;
            step += 1;

            running_loss += f64::from(loss.to_scalar::<f32>()?);
            bar.inc(1);
            if n % 50 == 49 {
                bar.set_message(format!("loss {:.4}", running_loss / 50.0));
                running_loss = 0.0;
            }
        }
        bar.finish();

        // Validation with the inference path's fused ops.
        let served = load_top(false)?;
        let mut validation = Vec::new();
        let mut validation_logits = Vec::new();
        for (t, task) in tasks.iter().enumerate() {
            let (w, b) = &heads[t];
            let logits = validation_logits_for(encoder, task, states, &served, |pooled| {
                Ok((pooled * scale)?.matmul(w.as_tensor())?.broadcast_add(b.as_tensor())?)
            })?;
            let gold: Vec<usize> = task.validation.iter().map(|e| e.label).collect();
            let predicted: Vec<usize> = logits.iter().map(|row| argmax(row)).collect();
            validation.push(task.task.metric().score(&gold, &predicted, task.labels.len()));
            validation_logits.push(logits);
        }
        let mean = validation.iter().sum::<f64>() / validation.len() as f64;
        let report = EpochReport { epoch, validation, mean, seconds: started.elapsed().as_secs_f64() };
        tracing::info!(epoch, mean, scores = ?report.validation, seconds = report.seconds, "fine-tuning epoch done");
        history.push(report);
        if best.as_ref().is_none_or(|(score, _)| mean > *score) {
            let snapshot = FineTuned {
                top_layers: top_vars
                    .data()
                    .lock()
                    .expect("var map lock")
                    .iter()
                    .map(|(name, var)| Ok((name.clone(), var.as_tensor().copy()?)))
                    .collect::<Result<_, TrainingError>>()?,
                heads: heads
                    .iter()
                    .map(|(w, b)| {
                        Ok(LinearHead {
                            // [width, k] on the scaled vector -> [k][width] on the unit vector.
                            weights: (w.as_tensor() * scale)?.t()?.to_vec2::<f32>()?,
                            bias: b.as_tensor().to_vec1::<f32>()?,
                        })
                    })
                    .collect::<Result<_, TrainingError>>()?,
                best_epoch: epoch,
                history: Vec::new(),
                validation_logits,
            };
            best = Some((mean, snapshot));
        }
    }
    let (_, mut tuned) = best.expect("at least one epoch");
    tuned.history = history;
    Ok(tuned)
}

/// Runs `top` over a task's validation texts from the cache and returns `head`'s logits per text.
fn validation_logits_for(
    encoder: &SplitEncoder,
    task: &TaskData,
    states: &MatrixStore,
    top: &BertLayers,
    head: impl Fn(&Tensor) -> Result<Tensor, TrainingError>,
) -> Result<Vec<Vec<f32>>, TrainingError> {
    let width = encoder.config.hidden_size;
    let mut order: Vec<(usize, &[f16])> = task
        .validation
        .iter()
        .enumerate()
        .map(|(i, e)| {
            states.get(&encoder.key(&e.text)).map(|m| (i, m)).ok_or_else(|| TrainingError::Data("uncached text".into()))
        })
        .collect::<Result<_, _>>()?;
    order.sort_by_key(|(_, m)| m.len());
    let mut logits = vec![Vec::new(); order.len()];
    for chunk in chunks_by_tokens(&order, |(_, m)| m.len() / width) {
        let matrices: Vec<&[f16]> = chunk.iter().map(|(_, m)| *m).collect();
        let batch = StateBatch::new(&matrices, width)?;
        let hidden = top.forward(&batch.hidden, &batch.mask, batch.padded)?;
        let rows = head(&batch.mean_pool_normalized(&hidden)?)?.to_vec2::<f32>()?;
        for ((i, _), row) in chunk.iter().zip(rows) {
            logits[*i] = row;
        }
    }
    Ok(logits)
}

/// Mean cross-entropy with per-class weights (classes weighted by inverse frequency, so the
/// macro-averaged metrics TweetEval uses are what the loss optimises).
fn weighted_cross_entropy(logits: &Tensor, labels: &[usize], class_weights: &Tensor) -> Result<Tensor, TrainingError> {
    let (batch, classes) = logits.dims2()?;
    let weights = class_weights.to_vec1::<f32>()?;
    let mut picked = vec![0f32; batch * classes];
    let mut total = 0f32;
    for (row, &label) in labels.iter().enumerate() {
        picked[row * classes + label] = weights[label];
        total += weights[label];
    }
    let picked = Tensor::from_vec(picked, (batch, classes), logits.device())?;
    let log_probabilities = candle_nn::ops::log_softmax(logits, 1)?;
    Ok(((log_probabilities * picked)?.sum_all()? * (-1.0 / f64::from(total)))?)
}

pub fn argmax(row: &[f32]) -> usize {
    row.iter().enumerate().fold(0, |best, (i, &v)| if v > row[best] { i } else { best })
}
