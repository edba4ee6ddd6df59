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

/// The response bodies of one vcr cassette (rtweet's recorded API calls), gzipped or not.
fn cassette_bodies(path: &std::path::Path) -> Vec<String> {
    let bytes = std::fs::read(path).unwrap();
    let text = if path.extension().is_some_and(|e| e == "gz") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&bytes[..]), &mut text).unwrap();
        text
    } else {
        String::from_utf8(bytes).unwrap()
    };
    let cassette: serde_json::Value = serde_json::from_str(&text).unwrap();
    cassette["http_interactions"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|i| i["response"]["body"]["string"].as_str().map(String::from))
        .collect()
}

#[test]
fn recorded_x_api_responses_import_as_posts() {
    let dir = here("rtweet/fixtures");
    let mut posts = std::collections::HashMap::new();
    let (mut reposts, mut errors) = (0, Vec::new());
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        for body in cassette_bodies(&path) {
            // Some recorded calls answer users or errors, not statuses: not this importer's format.
            let Ok(imported) = eiq_datasets::import_x_statuses(&body) else { continue };
            reposts += imported.skipped_reposts;
            errors.extend(imported.errors.into_iter().map(|e| (path.clone(), e)));
            for post in imported.posts {
                posts.insert(post.post_id.clone(), post);
            }
        }
    }
    let accounts: std::collections::HashSet<&str> = posts.values().map(|p| p.account_id.as_str()).collect();
    eprintln!(
        "{} original posts from {} accounts, {reposts} reposts skipped, {} bad rows",
        posts.len(),
        accounts.len(),
        errors.len()
    );
    assert!(errors.is_empty(), "{errors:?}");
    assert!(posts.len() > 1_300 && accounts.len() > 700, "{} posts, {} accounts", posts.len(), accounts.len());
    // Recorded between 2006 (X's first year) and 2023, with engagement counts.
    assert!(posts.values().all(|p| (1_136_073_600..1_704_067_200).contains(&p.created_at)));
    assert!(posts.values().all(|p| p.likes.is_some() && p.shares.is_some() && p.followers.is_some()));
    assert!(posts.values().any(|p| p.media != eiq_datasets::MediaType::None));
}
