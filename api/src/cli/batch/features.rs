//! `eiq batch features`: a history → one row of features per post.

use super::{load_history, step, write_frame};
use crate::config::BatchFeaturesArgs;

pub fn run(args: &BatchFeaturesArgs) -> anyhow::Result<String> {
    let imported = load_history(&args.history)?;
    let posts = eiq_features::posts_to_frame(&imported.posts)?;
    let mut features = step("features", || Ok(eiq_features::features(posts)?))?;
    step("writing", || write_frame(&mut features, &args.output))?;
    Ok(format!("{} rows × {} features → {}\n", features.height(), features.width(), args.output.display()))
}
