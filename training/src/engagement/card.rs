//! The forecaster's model card: what it was trained on and how it scored against the baselines.

use super::forecaster::{EngagementModel, Evaluation};
use super::split::HELD_OUT;

pub fn model_card(models: &[&EngagementModel]) -> String {
    let mut card = String::from(
        "# Engagement forecaster: model card\n\n\
         Predicts log1p(likes + comments + shares) of a post from its account's history (baselines over\n\
         previous posts only), its local time, platform, media and text statistics (`features/README.md`).\n\
         Written by `eiq batch train`; every figure below is from that run.\n\n\
         ## Models\n\n\
         - **Trees**: gradient-boosted regression trees with absolute-error loss (LAD boosting), depth 5,\n\
           learning rate 0.05, leaves of at least 20 posts, 80 % of rows per tree, up to 400 trees with the\n\
           number chosen on the validation split (linfa's `Fit`/`Predict` traits; linfa 0.8.1 has no regression tree).\n\
         - **Ridge**: linfa's elastic net with no L1 share on standardised columns, plus one-hot hour of day\n\
           and weekend per platform, and hashtag counts; penalty chosen on the validation split.\n\
         - Both predict the departure from the account's mean log1p engagement over previous posts (a first\n\
           post starts from what its followers predict); the served model is the one with the lower\n\
           validation MAE, refitted on every row.\n\n\
         ## Evaluation\n\n",
    );
    card.push_str(&format!(
        "Each account's last {:.0} % of posts (by time) are held out and only scored; the ridge penalty, the\n\
         number of trees and the served model are chosen on a second time split inside the earlier posts.\n\
         Spearman's ρ over all held-out posts mostly says which accounts do well; ρ within account (the mean\n\
         over accounts with at least {} held-out posts) says which of an account's own posts do well, which is\n\
         what choosing between drafts and slots needs. MAE is in log1p units (0.69 ≈ a factor of 2).\n\n",
        HELD_OUT * 100.0,
        super::forecaster::MIN_RANKED
    ));
    for model in models {
        card.push_str(&section(&model.evaluation));
    }
    card.push_str(
        "## Intended use and limits\n\n\
         - Ranking drafts and slots for one account against its own history; the interval is the 10th–90th\n\
           percentile of validation residuals, so about 80 % of posts should land inside it.\n\
         - Counts are read when the history was collected: recent posts may still be growing.\n\
         - A new account (no history) is forecast from followers and content alone, which is far less certain.\n",
    );
    card
}

fn section(evaluation: &Evaluation) -> String {
    let mut out = format!(
        "### {}\n\n{} posts from {} accounts; {} earlier rows train, {} later rows are held out. Served: **{}** \
         (ridge penalty {}, {} trees). The 80 % interval covered {:.1} % of held-out posts. {} accounts have \
         enough held-out posts for a within-account ρ.\n\n\
         | method | ρ, all held-out posts | ρ within account | MAE |\n|---|---:|---:|---:|\n",
        evaluation.data,
        evaluation.posts,
        evaluation.accounts,
        evaluation.train_rows,
        evaluation.held_out_rows,
        evaluation.served,
        evaluation.ridge_penalty,
        evaluation.trees,
        100.0 * evaluation.interval_coverage,
        evaluation.ranked_accounts
    );
    for score in &evaluation.scores {
        let within = score.within_account_spearman.map_or("–".to_string(), |r| format!("{r:.3}"));
        out.push_str(&format!("| {} | {:.3} | {within} | {:.3} |\n", score.method, score.spearman, score.mae));
    }
    if let (Some(served), Some(median)) = (evaluation.score(&evaluation.served), evaluation.score("account median")) {
        out.push_str(&format!(
            "\nAgainst the account median, the served model is {:+.3} in ρ and {:+.3} in MAE ({:+.1} %).\n\n",
            served.spearman - median.spearman,
            served.mae - median.mae,
            100.0 * (served.mae - median.mae) / median.mae
        ));
    }
    out
}
