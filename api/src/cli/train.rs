//! `eiq train`: fetches the encoder if needed, trains, and writes the servable model folder.

use anyhow::Context;
use eiq_models::{FetchOptions, fetch_with_dependencies};
use eiq_training::finetune::FineTuneConfig;
use eiq_training::{TextTask, TrainOptions, bundle, train};

use crate::config::TrainArgs;

pub fn run(args: &TrainArgs) -> anyhow::Result<String> {
    let tasks = if args.tasks.is_empty() {
        TextTask::ALL.to_vec()
    } else {
        args.tasks.iter().map(|t| TextTask::parse(t)).collect::<Result<_, _>>()?
    };
    let catalogue = args.catalogue.catalogue()?;
    let cache = args.catalogue.cache();
    fetch_with_dependencies(&catalogue, &cache, &args.encoder, &FetchOptions::default())?;
    let encoder = cache.resolve(&catalogue, &args.encoder)?;
    let fine_tune = (!args.frozen_only).then(|| FineTuneConfig {
        epochs: args.epochs,
        batch_size: args.batch_size.max(1),
        encoder_learning_rate: args.encoder_learning_rate,
        head_learning_rate: args.head_learning_rate,
        seed: args.seed,
        ..FineTuneConfig::default()
    });
    let options = TrainOptions {
        datasets: args.datasets.clone(),
        cache: args.cache.clone().unwrap_or_else(|| cache.root().with_file_name("training")),
        tasks,
        top_layers: args.top_layers,
        fine_tune,
    };
    let report = train(&encoder, &options)?;
    bundle::write_bundle(&report, &args.model_id, &args.out)?;
    let manifest_path =
        args.manifest.clone().unwrap_or_else(|| format!("models/catalogue/{}.toml", args.model_id).into());
    std::fs::write(&manifest_path, bundle::manifest(&args.model_id, &args.encoder, &args.out)?)
        .with_context(|| format!("writing {}", manifest_path.display()))?;
    let mut out = String::new();
    for task in &report.tasks {
        let r = &task.report;
        let tuned = r.fine_tuned.as_ref().map_or("-".to_string(), |f| format!("{:.4}", f.validation));
        out.push_str(&format!(
            "{:<10} frozen {:.4}  fine-tuned {tuned}  ({})\n",
            r.task.as_str(),
            r.frozen.validation,
            r.metric
        ));
    }
    out.push_str(&format!(
        "wrote {} and {}; rebuild to serve it (the files are compiled into the binary)\n",
        args.out.display(),
        manifest_path.display()
    ));
    Ok(out)
}
