//! The feature pipeline against its definitions (features/README.md), on hand-built and
//! synthetic histories.

use eiq_datasets::{MediaType, Post, SyntheticConfig, generate};
use eiq_features::{features, posts_to_frame};
use polars::prelude::*;

fn post(account: &str, id: &str, created_at: i64, text: &str, likes: u64) -> Post {
    Post {
        post_id: id.into(),
        account_id: account.into(),
        platform: "x".into(),
        created_at,
        timezone: Some("Europe/Berlin".into()),
        text: text.into(),
        media: MediaType::None,
        likes: Some(likes),
        comments: None,
        shares: Some(1),
        impressions: None,
        followers: Some(99),
    }
}

fn column_f64(frame: &DataFrame, name: &str) -> Vec<Option<f64>> {
    frame.column(name).unwrap().cast(&DataType::Float64).unwrap().f64().unwrap().iter().collect()
}

#[test]
fn features_follow_their_definitions_across_dst() {
    // 2025-03-28 (Fri) 08:00 UTC = 09:00 CET; 2025-03-31 (Mon) 07:00 UTC = 09:00 CEST.
    let posts = vec![
        post("a", "2", 1_743_404_400, "Morning! #launch #news @team https://x.co/a 🚀🎉 ok?", 9),
        post("a", "1", 1_743_148_800, "first", 0),
        post("b", "9", 1_743_148_800, "other account", 100),
    ];
    let frame = features(posts_to_frame(&posts).unwrap()).unwrap();
    assert_eq!(frame.get_column_names().len(), eiq_features::FEATURE_COLUMNS.len());
    let ids: Vec<&str> = frame.column("post_id").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(ids, ["1", "2", "9"], "sorted by account, then time");
    let ints = |name: &str| column_f64(&frame, name).into_iter().map(|v| v.map(|v| v as i64)).collect::<Vec<_>>();
    assert_eq!(ints("utc_offset_s"), [Some(3600), Some(7200), Some(3600)]);
    assert_eq!(ints("hour_of_week"), [Some(4 * 24 + 9), Some(9), Some(4 * 24 + 9)], "09:00 local both sides of DST");
    assert_eq!(ints("prior_posts"), [Some(0), Some(1), Some(0)]);
    assert_eq!(ints("engagement"), [Some(1), Some(10), Some(101)], "a missing count is 0");
    assert_eq!(ints("hashtags"), [Some(0), Some(2), Some(0)]);
    assert_eq!(ints("mentions"), [Some(0), Some(1), Some(0)]);
    assert_eq!(ints("urls"), [Some(0), Some(1), Some(0)]);
    assert_eq!(ints("emoji"), [Some(0), Some(2), Some(0)]);
    assert_eq!(ints("questions"), [Some(0), Some(1), Some(0)]);
    assert_eq!(ints("words"), [Some(1), Some(7), Some(2)]);
    let gap = column_f64(&frame, "gap_hours");
    assert_eq!(gap[0], None);
    assert!((gap[1].unwrap() - 71.0).abs() < 1e-9, "{gap:?}");
    let baseline = column_f64(&frame, "baseline_mean");
    assert_eq!((baseline[0], baseline[2]), (None, None), "a first post has no baseline");
    assert!((baseline[1].unwrap() - 2f64.ln()).abs() < 1e-12);
    let relative = column_f64(&frame, "relative_engagement");
    assert!((relative[1].unwrap() - (11f64.ln() - 2f64.ln())).abs() < 1e-12);
    let day_part: Vec<&str> = frame.column("day_part").unwrap().str().unwrap().iter().flatten().collect();
    assert_eq!(day_part, ["morning", "morning", "morning"]);
}

#[test]
fn recent_baseline_averages_the_last_ten_previous_posts() {
    let posts: Vec<Post> =
        (0..13).map(|i| post("a", &format!("{i:02}"), 1_743_148_800 + i * 3600, "x", i as u64)).collect();
    let frame = features(posts_to_frame(&posts).unwrap()).unwrap();
    let recent = column_f64(&frame, "baseline_recent");
    let mean = column_f64(&frame, "baseline_mean");
    let log = |likes: u64| ((likes + 1 + 1) as f64).ln();
    // Post 12: the previous ten are posts 2..=11.
    let expected_recent = (2..12).map(log).sum::<f64>() / 10.0;
    let expected_mean = (0..12).map(log).sum::<f64>() / 12.0;
    assert!((recent[12].unwrap() - expected_recent).abs() < 1e-12);
    assert!((mean[12].unwrap() - expected_mean).abs() < 1e-12);
    assert!((recent[1].unwrap() - log(0)).abs() < 1e-12);
}

/// Features of every post at or before `cutoff`, keyed by post id.
fn features_up_to(frame: &DataFrame, cutoff: i64) -> Vec<(String, Vec<String>)> {
    let created = frame.column("created_at").unwrap().i64().unwrap().clone();
    let mask = created.lt_eq(cutoff);
    let kept = frame.filter(&mask).unwrap();
    let ids: Vec<String> = kept.column("post_id").unwrap().str().unwrap().iter().flatten().map(String::from).collect();
    let columns: Vec<Vec<String>> = kept
        .columns()
        .iter()
        .map(|c| {
            let strings = c.cast(&DataType::String).unwrap();
            strings.str().unwrap().iter().map(|v| v.unwrap_or("null").to_string()).collect()
        })
        .collect();
    ids.into_iter().enumerate().map(|(i, id)| (id, columns.iter().map(|c| c[i].clone()).collect())).collect()
}

#[test]
fn no_feature_reads_a_post_after_its_own_time() {
    let synthetic = generate(&SyntheticConfig { accounts: 12, posts_per_account: 80, ..Default::default() });
    let original = features(posts_to_frame(&synthetic.posts).unwrap()).unwrap();
    let times: Vec<i64> = {
        let mut t: Vec<i64> = synthetic.posts.iter().map(|p| p.created_at).collect();
        t.sort_unstable();
        t
    };
    for cutoff in [times[times.len() / 4], times[times.len() / 2], times[times.len() * 9 / 10]] {
        // Rewrite the future: later posts get other outcomes and text, half of them vanish,
        // and new ones appear.
        let mut future: Vec<Post> = synthetic
            .posts
            .iter()
            .enumerate()
            .filter(|(i, p)| p.created_at <= cutoff || i % 2 == 0)
            .map(|(_, p)| p.clone())
            .collect();
        for post in future.iter_mut().filter(|p| p.created_at > cutoff) {
            post.likes = Some(post.likes.unwrap_or(0) * 7 + 13);
            post.text = "changed #later".into();
        }
        future.push(Post { post_id: "zz-new".into(), created_at: cutoff + 1, ..synthetic.posts[0].clone() });
        let changed = features(posts_to_frame(&future).unwrap()).unwrap();
        let (before, after) = (features_up_to(&original, cutoff), features_up_to(&changed, cutoff));
        assert!(before.len() > 100);
        assert_eq!(before, after, "a feature at or before {cutoff} moved when only later posts changed");
    }
    // The check can fail: a feature that did look ahead (the next post's outcome) would differ.
    let peek = original
        .clone()
        .lazy()
        .with_column(col("log_engagement").shift(lit(-1i64)).over([col("account_id")]).unwrap().alias("baseline_mean"))
        .collect()
        .unwrap();
    let cutoff = times[times.len() / 2];
    assert_ne!(features_up_to(&peek, cutoff), features_up_to(&original, cutoff));
}
