//! The copies in this folder load, align and de-duplicate as their README says.

use std::path::PathBuf;

use eiq_datasets::{Split, dedup, drop_overlap, load_semeval_dir, load_tweeteval};

fn here(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

#[test]
fn tweeteval_tasks_load_with_their_documented_sizes_and_labels() {
    for (task, train, val, labels) in [
        ("offensive", 11_916, 1_324, vec!["not-offensive", "offensive"]),
        ("hate", 9_000, 1_000, vec!["not-hate", "hate"]),
        ("emotion", 3_257, 374, vec!["anger", "joy", "optimism", "sadness"]),
        ("irony", 2_862, 955, vec!["non_irony", "irony"]),
    ] {
        let dir = here(&format!("tweeteval/{task}"));
        let train_set = load_tweeteval(&dir, Split::Train).unwrap();
        let val_set = load_tweeteval(&dir, Split::Validation).unwrap();
        assert_eq!((train_set.examples.len(), val_set.examples.len()), (train, val), "{task}");
        assert_eq!(train_set.labels, labels, "{task}");
    }
}

#[test]
fn semeval_training_loses_its_near_copies_of_tweeteval_sentiment_validation() {
    let semeval = load_semeval_dir(&here("semeval2017-task4a")).unwrap();
    assert_eq!(semeval.examples.len(), 50_334);
    assert!(semeval.examples.iter().all(|e| !e.text.contains("\\u")), "escapes are decoded");
    let validation = load_tweeteval(&here("tweeteval/sentiment"), Split::Validation).unwrap();
    let (mut train, report) = dedup(semeval.examples);
    assert!(report.exact > 0 && report.near > 0, "{report:?}");
    let dropped = drop_overlap(&mut train, &validation.examples);
    eprintln!("SemEval: {report:?}; {dropped} near-copies of validation dropped; {} left", train.len());
    // The shared README: about 1,800 SemEval lines are near-copies of TweetEval sentiment validation.
    assert!((1_500..=2_100).contains(&dropped), "dropped {dropped}");
}

#[test]
fn recorded_x_api_responses_import_as_posts() {
    let imported = eiq_datasets::load_rtweet_fixtures(&here("rtweet/fixtures")).unwrap();
    let posts = &imported.posts;
    let accounts: std::collections::HashSet<&str> = posts.iter().map(|p| p.account_id.as_str()).collect();
    eprintln!(
        "{} original posts from {} accounts, {} reposts skipped, {} bad rows",
        posts.len(),
        accounts.len(),
        imported.skipped_reposts,
        imported.errors.len()
    );
    assert!(imported.errors.is_empty(), "{:?}", imported.errors);
    let ids: std::collections::HashSet<&str> = posts.iter().map(|p| p.post_id.as_str()).collect();
    assert_eq!(ids.len(), posts.len(), "each post once");
    // Every status in the cassettes with its author, reposts aside, including the originals that
    // reposts and quotes embed: 1,769 from 1,057 accounts.
    assert!(posts.len() > 1_750 && accounts.len() > 1_000, "{} posts, {} accounts", posts.len(), accounts.len());
    // Recorded between 2006 (X's first year) and 2023, with engagement counts.
    assert!(posts.iter().all(|p| (1_136_073_600..1_704_067_200).contains(&p.created_at)));
    assert!(posts.iter().all(|p| p.likes.is_some() && p.shares.is_some() && p.followers.is_some()));
    assert!(posts.iter().any(|p| p.media != eiq_datasets::MediaType::None));
}
