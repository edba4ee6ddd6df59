//! `eiq batch train`: trains and evaluates the forecaster on each input; writes model and card.

use anyhow::{Context, bail};
use eiq_training::engagement::{EngagementModel, GbdtParams, model_card, train_forecaster};

use super::{load_history, step};
use crate::config::{BatchTrainArgs, HistoryInput};

pub fn run(args: &BatchTrainArgs) -> anyhow::Result<String> {
    if args.model_out.is_some() && args.inputs.len() != 1 {
        bail!("--model-out needs exactly one --input");
    }
    let trees = GbdtParams { trees: args.trees.max(1), ..GbdtParams::default() };
    let mut models: Vec<EngagementModel> = Vec::new();
    for input in &args.inputs {
        let history = HistoryInput {
            input: input.clone(),
            format: None,
            strict: false,
            account_id: None,
            timezone: args.timezone.clone(),
            data: args.data.clone(),
        };
        let imported = load_history(&history)?;
        let posts = eiq_features::posts_to_frame(&imported.posts)?;
        let features = step(&format!("features of {input}"), || Ok(eiq_features::features(posts)?))?;
        let model = step(&format!("training on {input}"), || Ok(train_forecaster(&features, input, &trees)?))?;
        models.push(model);
    }
    let card = model_card(&models.iter().collect::<Vec<_>>());
    if let Some(path) = &args.model_out {
        std::fs::write(path, models[0].to_json()).with_context(|| format!("writing {}", path.display()))?;
    }
    if let Some(path) = &args.card {
        std::fs::write(path, &card).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(card)
}
