//! Writes a training run as a servable model folder: the top layers in f16 (`encoder-top.safetensors`),
//! `heads.json`, the machine-readable `training-report.json`, and a `MODEL_CARD.md`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;

use candle_core::{DType, Tensor};
use eiq_inference::{HeadSpec, HeadsFile};
use serde_json::json;

use crate::run::{TrainReport, TrainedTask};
use crate::{TextTask, TrainingError};

pub const TOP_LAYERS_FILE: &str = "encoder-top.safetensors";
pub const HEADS_FILE: &str = "heads.json";

/// TweetEval test-set leaderboard rows (cardiffnlp/tweeteval README; the paper's Table 3), in
/// the order sentiment, emotion, offensive, hate, irony. Ours are validation scores: the test
/// split is held out, so the comparison is indicative only.
const LEADERBOARD: [(&str, [f64; 5]); 8] = [
    ("TimeLMs-2021", [73.7, 80.2, 82.2, 55.1, 64.5]),
    ("BERTweet", [73.4, 79.3, 79.5, 56.4, 82.1]),
    ("RoBERTa-Retrained", [72.6, 78.5, 80.5, 52.3, 61.7]),
    ("RoBERTa-Base", [71.3, 76.1, 79.5, 46.6, 59.7]),
    ("RoBERTa-Twitter", [69.1, 72.0, 77.1, 49.9, 65.4]),
    ("FastText", [62.9, 65.2, 73.4, 50.6, 63.1]),
    ("LSTM", [58.3, 66.0, 71.7, 52.6, 62.8]),
    ("SVM", [62.9, 64.7, 52.3, 36.7, 61.7]),
];

fn leaderboard_column(task: TextTask) -> usize {
    match task {
        TextTask::Sentiment => 0,
        TextTask::Emotion => 1,
        TextTask::Offensive => 2,
        TextTask::Hate => 3,
        TextTask::Irony => 4,
    }
}

/// Which head a task serves. Every head reads the one served encoder, so with fine-tuned top
/// layers every task serves its fine-tuned head (a frozen head was fitted to the base model's
/// vectors and would be wrong on the fine-tuned ones); the card says where frozen scored higher.
fn served(task: &TrainedTask) -> (&'static str, &eiq_inference::LinearHead, f64) {
    match (&task.fine_tuned_head, &task.report.fine_tuned) {
        (Some(head), Some(result)) => ("fine-tuned", head, result.validation),
        _ => ("frozen", &task.frozen_head, task.report.frozen.validation),
    }
}

pub fn write_bundle(report: &TrainReport, model_id: &str, out: &Path) -> Result<(), TrainingError> {
    std::fs::create_dir_all(out).map_err(TrainingError::io(format!("creating {}", out.display())))?;
    let top: HashMap<String, Tensor> = report
        .served_top_layers
        .iter()
        .map(|(name, tensor)| Ok((name.clone(), tensor.to_dtype(DType::F16)?)))
        .collect::<Result<_, TrainingError>>()?;
    let top_path = out.join(TOP_LAYERS_FILE);
    candle_core::safetensors::save(&top, &top_path)?;
    let top_sha256 =
        eiq_models::sha256_file(&top_path).map_err(TrainingError::io(format!("hashing {}", top_path.display())))?;

    let heads: Vec<HeadSpec> = report
        .tasks
        .iter()
        .map(|task| {
            let (method, head, validation) = served(task);
            let r = &task.report;
            HeadSpec {
                task: r.task.as_str().to_string(),
                labels: r.labels.clone(),
                linear: head.clone(),
                provenance: json!({
                    "method": method,
                    "metric": r.metric,
                    "validation": validation,
                    "frozen_validation": r.frozen.validation,
                    "fine_tuned_validation": r.fine_tuned.as_ref().map(|f| f.validation),
                    "prior_shift": if method == "fine-tuned" { r.fine_tuned.as_ref().map_or(0.0, |f| f.prior_shift) } else { r.frozen.prior_shift },
                    "frozen_alpha": r.frozen_alpha,
                    "encoder": report.encoder_id,
                    "encoder_sha256": report.encoder_sha256,
                    "top_layers_sha256": top_sha256,
                    "data": r.data,
                }),
            }
        })
        .collect();
    let dimensions = heads.first().map_or(0, |h| h.linear.weights.first().map_or(0, Vec::len));
    let heads_json = serde_json::to_string(&HeadsFile { dimensions, heads }).expect("heads serialise");
    write(out, HEADS_FILE, &heads_json)?;

    let training_report = json!({
        "model": model_id,
        "encoder": report.encoder_id,
        "encoder_sha256": report.encoder_sha256,
        "top_layers": report.top_layers,
        "top_layers_sha256": top_sha256,
        "fine_tune": report.fine_tune_config,
        "best_epoch": report.fine_tuned.as_ref().map(|f| f.best_epoch),
        "epochs": report.fine_tuned.as_ref().map(|f| &f.history),
        "tasks": report.tasks.iter().map(|t| &t.report).collect::<Vec<_>>(),
        "seconds": {"encode": report.encode_seconds, "frozen": report.frozen_seconds, "fine_tune": report.fine_tune_seconds},
    });
    write(out, "training-report.json", &serde_json::to_string_pretty(&training_report).expect("report serialises"))?;
    write(out, "MODEL_CARD.md", &model_card(report, model_id, &top_sha256))
}

/// The catalogue manifest of a bundled model, pinning the files `write_bundle` wrote in `dir`.
pub fn manifest(model_id: &str, base: &str, dir: &Path) -> Result<String, TrainingError> {
    let sha = |name: &str| {
        let path = dir.join(name);
        eiq_models::sha256_file(&path).map_err(TrainingError::io(format!("hashing {}", path.display())))
    };
    Ok(format!(
        "# Trained here by `eiq train` (see models/bundled/{model_id}/MODEL_CARD.md) and compiled into the binary:
# the top encoder layers of `{base}`, fine-tuned in f16, and one linear head per task.
id = \"{model_id}\"
task = \"classification\"
backend = \"candle\"
description = \"Sentiment, emotion, offensive language, hate speech and irony of English tweets\"
licence = \"Apache-2.0\"
upstream = \"{base}, fine-tuned on TweetEval and SemEval-2017 4A\"
base = \"{base}\"

[source]
kind = \"bundled\"

[encoder]
pooling = \"mean\"
dimensions = 384
max_sequence_length = 256

[tokenizer]
model = \"{base}\"
file = \"tokenizer.json\"

[[files]]
path = \"{TOP_LAYERS_FILE}\"
role = \"weights\"
sha256 = \"{}\"

[[files]]
path = \"{HEADS_FILE}\"
role = \"heads\"
sha256 = \"{}\"
",
        sha(TOP_LAYERS_FILE)?,
        sha(HEADS_FILE)?
    ))
}

fn write(dir: &Path, name: &str, text: &str) -> Result<(), TrainingError> {
    let path = dir.join(name);
    std::fs::write(&path, text).map_err(TrainingError::io(format!("writing {}", path.display())))
}

fn model_card(report: &TrainReport, model_id: &str, top_sha256: &str) -> String {
    let mut card = String::new();
    let fine_tuned = report.fine_tuned.is_some();
    let _ = writeln!(card, "# {model_id}: sentiment, emotion, offensive language, hate speech and irony in tweets\n");
    let _ = writeln!(
        card,
        "Linear heads on `{}` (sha256 `{}`), English tweets. {} One encoder pass serves every head. \
         Generated by `eiq train`; do not edit by hand.\n",
        report.encoder_id,
        report.encoder_sha256,
        if fine_tuned {
            format!(
                "The top {} encoder layers were fine-tuned on all tasks at once and ship in f16 \
                 (`{TOP_LAYERS_FILE}`, sha256 `{top_sha256}`); the other layers are the base model's.",
                report.top_layers
            )
        } else {
            "The encoder is the base model, unchanged.".to_string()
        },
    );
    let _ = writeln!(card, "## Validation scores (TweetEval's official metric per task)\n");
    let _ = writeln!(
        card,
        "| task | labels | metric | frozen encoder + logistic regression | partial fine-tuning | served |"
    );
    let _ = writeln!(card, "|---|---|---|---:|---:|---|");
    for task in &report.tasks {
        let r = &task.report;
        let (method, _, _) = served(task);
        let tuned = r.fine_tuned.as_ref().map_or("not run".to_string(), |f| format!("{:.3}", f.validation));
        let _ = writeln!(
            card,
            "| {} | {} | {} | {:.3} (alpha {}) | {} | {} |",
            r.task.as_str(),
            r.labels.join(", "),
            r.metric,
            r.frozen.validation,
            r.frozen_alpha,
            tuned,
            method
        );
    }
    let _ = writeln!(
        card,
        "\nScores are on TweetEval's validation splits, which also chose the L2 strength, the epoch and a \
         per-head bias shift of {{-1, -0.5, 0, 0.5, 1}} × log class prior. The test splits are held out from \
         this repository and were never used.\n"
    );
    let _ = writeln!(card, "## Against the TweetEval leaderboard\n");
    let _ = writeln!(
        card,
        "The leaderboard rows are **test-set** scores (cardiffnlp/tweeteval README, × 100); ours are validation \
         scores, so the comparison is indicative only (HatEval's test set in particular is known to differ from its \
         training data).\n"
    );
    let tasks: Vec<TextTask> = report.tasks.iter().map(|t| t.report.task).collect();
    let _ = writeln!(card, "| model | {} |", tasks.iter().map(|t| t.as_str()).collect::<Vec<_>>().join(" | "));
    let _ = writeln!(card, "|---|{}", "---:|".repeat(tasks.len()));
    let ours: Vec<String> = report.tasks.iter().map(|t| format!("**{:.1}**", served(t).2 * 100.0)).collect();
    let _ = writeln!(card, "| {model_id} (validation) | {} |", ours.join(" | "));
    for (name, row) in LEADERBOARD {
        let cells: Vec<String> = tasks.iter().map(|&t| format!("{:.1}", row[leaderboard_column(t)])).collect();
        let _ = writeln!(card, "| {name} (test) | {} |", cells.join(" | "));
    }
    let _ = writeln!(card, "\n## Data\n");
    let _ = writeln!(
        card,
        "De-duplicated by exact and by normalised text (lower-case; URLs, @mentions and punctuation removed; \
         whitespace collapsed); training examples whose normalised text occurs in validation are dropped. \
         Sources and licences: `datasets/README.md`.\n"
    );
    let _ = writeln!(
        card,
        "| task | train (source) | removed: exact / near / empty / validation overlap | validation | train sha256 | validation sha256 |"
    );
    let _ = writeln!(card, "|---|---|---|---:|---|---|");
    for task in &report.tasks {
        let d = &task.report.data;
        let _ = writeln!(
            card,
            "| {} | {} ({}) | {} / {} / {} / {} | {} | `{}` | `{}` |",
            task.report.task.as_str(),
            d.train_examples,
            d.train_source,
            d.exact_duplicates_removed,
            d.near_duplicates_removed,
            d.empty_removed,
            d.validation_overlaps_removed,
            d.validation_examples,
            &d.train_sha256[..16],
            &d.validation_sha256[..16]
        );
    }
    let _ = writeln!(card, "\n## Training\n");
    let encoding = if report.encode_seconds < 1.0 {
        "this run found every text in the cache".to_string()
    } else {
        format!("encoding took {:.0} s on this machine's 2 CPU cores", report.encode_seconds)
    };
    let _ = writeln!(
        card,
        "- Encoder states of the bottom layers are computed once and cached (f16) by weights sha256 and text; \
           {encoding}."
    );
    let _ = writeln!(
        card,
        "- Frozen heads: multinomial logistic regression (linfa-logistic, L-BFGS) on the unit-length mean-pooled \
           sentence vector, L2 strength from {:?} chosen on validation; {:.0} s for all tasks.",
        crate::frozen::ALPHAS,
        report.frozen_seconds
    );
    let per_task: Vec<String> =
        report.tasks.iter().map(|t| format!("{} {:.0} s", t.report.task.as_str(), t.report.frozen_seconds)).collect();
    let _ = writeln!(card, "  - per task (every L2 strength): {}.", per_task.join(", "));
    if let (Some(tuned), Some(config)) = (&report.fine_tuned, &report.fine_tune_config) {
        let _ = writeln!(
            card,
            "- Fine-tuning (candle, CPU): top {} layers + one linear head per task, class-balanced cross-entropy, \
               batches of {} texts from one task each, AdamW (encoder lr {}, heads lr {}, weight decay {}), \
               linear warm-up over {}% of steps then linear decay, {} epochs, seed {}; best epoch {} by mean \
               validation score; {:.0} s.",
            report.top_layers,
            config.batch_size,
            config.encoder_learning_rate,
            config.head_learning_rate,
            config.weight_decay,
            config.warmup * 100.0,
            config.epochs,
            config.seed,
            tuned.best_epoch,
            report.fine_tune_seconds
        );
        for epoch in &tuned.history {
            let scores: Vec<String> = epoch.validation.iter().map(|v| format!("{v:.3}")).collect();
            let _ = writeln!(
                card,
                "  - epoch {}: {} (mean {:.3}, {:.0} s)",
                epoch.epoch,
                scores.join(", "),
                epoch.mean,
                epoch.seconds
            );
        }
    }
    let _ = writeln!(card, "\n## Limits\n");
    let _ = writeln!(
        card,
        "- English tweets only; other languages and long-form text are outside the training data.\n\
         - `offensive` follows OLID (insults, threats, profanity aimed at someone); `hate` follows HatEval \
           (hate against immigrants and women only): neither covers self-harm, sexual content, violence or \
           illicit activity, and the API never claims those categories.\n\
         - Scores are probabilities from a linear head; thresholds belong in a moderation policy, not here."
    );
    card
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_manifest_pins_the_written_files_and_parses() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(TOP_LAYERS_FILE), b"layers").unwrap();
        std::fs::write(dir.path().join(HEADS_FILE), b"{}").unwrap();
        let text = manifest("tweet-test", "minilm-l6-v2", dir.path()).unwrap();
        let parsed = eiq_models::Manifest::parse(&text, "generated").unwrap();
        assert_eq!(parsed.base.as_deref(), Some("minilm-l6-v2"));
        assert_eq!(parsed.task, eiq_models::Task::Classification);
        let heads = parsed.file(eiq_models::FileRole::Heads).unwrap();
        assert_eq!(heads.sha256, eiq_models::sha256_file(&dir.path().join(HEADS_FILE)).unwrap());
    }
}
