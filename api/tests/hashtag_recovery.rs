//! Hashtag recovery on public tweets (`eiq_service::hashtags::evaluation`): the history is the
//! TweetEval emoji training tweets that carry hashtags, the queries its validation tweets with
//! their trailing hashtags removed; suggestions (k = 5) must recover a removed tag more often
//! than both baselines, the history's most used tags and BM25 nearest-neighbour voting.
//! `benches/src/bin/hashtag_eval.rs` reports the same figures, and more.

mod common;

use std::time::{Duration, Instant};

use common::history::{import, post};
use common::{start, wait_ready};
use eiq_service::hashtags::evaluation::{Bm25Neighbours, is_hit, most_used_tags, recovery_queries};
use serde_json::json;

const K: usize = 5;

/// One CSV row per tweet, quoted.
fn history_csv(tweets: &[&str]) -> String {
    let mut csv = String::from("post_id,account_id,platform,created_at,text\n");
    for (i, tweet) in tweets.iter().enumerate() {
        let text = tweet.replace('"', "\"\"");
        csv.push_str(&format!("e{i},emoji,x,{},\"{text}\"\n", 1_500_000_000 + i as i64 * 60));
    }
    csv
}

#[tokio::test]
async fn suggestions_recover_removed_hashtags_better_than_both_baselines() {
    let datasets = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets/tweeteval/emoji");
    let train = std::fs::read_to_string(format!("{datasets}/train_text.txt")).unwrap();
    let validation = std::fs::read_to_string(format!("{datasets}/val_text.txt")).unwrap();
    let tagged: Vec<&str> =
        train.lines().filter(|line| !eiq_datasets::twitter_text::extract_hashtags(line).is_empty()).collect();
    let queries = recovery_queries(&validation);
    assert!(queries.len() > 500, "{}", queries.len());

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").to_str().unwrap().to_string();
    let server = start(&["--models", "minilm-l6-v2", "--data-dir", &data]);
    wait_ready(&server).await;
    let (status, body) = import(&server, "eval", "format=csv", history_csv(&tagged).into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let started = Instant::now();
    loop {
        let (_, accounts) = post(&server, "eval", "/v1/posts:search", json!({"text": "x", "k": 1})).await;
        if accounts["indexing"] == false {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(900), "not indexed");
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let popular = most_used_tags(&tagged.join("\n"), K);
    let bm25 = Bm25Neighbours::new(&tagged.join("\n"));
    let (mut ours, mut by_popularity, mut by_bm25) = (0, 0, 0);
    for query in &queries {
        let (status, answer) = post(&server, "eval", "/v1/hashtags:suggest", json!({"text": query.text, "k": K})).await;
        assert_eq!(status, 200, "{answer}");
        let tags: Vec<String> =
            answer["hashtags"].as_array().unwrap().iter().map(|t| t["tag"].as_str().unwrap().to_string()).collect();
        ours += usize::from(is_hit(&tags, &query.removed));
        by_popularity += usize::from(is_hit(&popular, &query.removed));
        by_bm25 += usize::from(is_hit(&bm25.suggest(&query.text, K), &query.removed));
    }
    let rate = |hits: usize| hits as f64 / queries.len() as f64;
    println!(
        "hit@{K} over {} queries: suggestions {:.3}, most used {:.3}, BM25 neighbours {:.3}",
        queries.len(),
        rate(ours),
        rate(by_popularity),
        rate(by_bm25)
    );
    assert!(ours > by_popularity && ours > by_bm25, "ours {ours}, popular {by_popularity}, bm25 {by_bm25}");
    server.shutdown_and_wait();
}
