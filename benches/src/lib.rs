//! Shared by the benchmark binaries: the workload and the statistics.

use std::time::Duration;

/// The first `count` tweets of TweetEval's sentiment validation split: real tweet-length text.
pub fn tweets(count: usize) -> Vec<String> {
    let text = include_str!("../../datasets/tweeteval/sentiment/val_text.txt");
    text.lines().map(str::trim).filter(|l| !l.is_empty()).cycle().take(count).map(String::from).collect()
}

/// The value below which `fraction` of `sorted` falls (nearest rank).
pub fn percentile(sorted: &[Duration], fraction: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((fraction * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

pub fn median(values: &mut [f64]) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}
