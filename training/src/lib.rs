//! Training the text-intelligence heads, reproducibly, on this machine's CPUs.
//!
//! The catalogue encoder is cut in two ([`encode`]): its bottom layers run once per text and the
//! output is cached on disk ([`store`]), keyed by the weights' sha256 and the text. On that
//! cache, [`frozen`] fits linfa logistic regressions on the frozen sentence vectors and
//! [`finetune`] trains the top layers plus one head per task with candle. [`run`] compares the
//! two per task on validation and [`bundle`] writes what is served, with its model card.
//!
//! [`engagement`] trains the engagement forecaster on feature rows from `eiq-features`.

pub mod bundle;
pub mod encode;
pub mod engagement;
mod error;
pub mod finetune;
pub mod frozen;
pub mod run;
pub mod store;
pub mod tasks;

pub use eiq_inference::LinearHead;
pub use error::TrainingError;
pub use run::{TrainOptions, TrainReport, train};
pub use tasks::{Metric, TextTask};

/// A progress bar on stderr (hidden when stderr is not a terminal).
pub fn progress(len: usize, message: &str) -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(len as u64);
    bar.set_style(
        indicatif::ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {per_sec} eta {eta} {msg}")
            .expect("a valid template")
            .progress_chars("=> "),
    );
    bar.set_prefix(message.to_string());
    bar
}
