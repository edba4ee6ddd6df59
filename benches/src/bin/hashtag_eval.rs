//! Hashtag suggestions: quality (hit@5 on hashtag recovery, against two baselines) and warm
//! latency, in process over the server's own services.
//!
//! - **Public tweets**: history = TweetEval emoji training tweets that carry hashtags (one
//!   tenant); queries = its validation tweets with their trailing run of hashtags removed.
//! - **Within an account**: each rtweet account with at least 10 posts carrying hashtags, split
//!   by time 80/20: the first 80 % is its history, the later posts that carry tags (all of them
//!   removed, since these accounts tag inside the text) the queries.
//!
//! `cargo run --release -p eiq-benches --bin hashtag_eval`

use std::time::{Duration, Instant};

use eiq_benches::{models_ready, percentile, services};
use eiq_datasets::Post;
use eiq_features::HistoryStore;
use eiq_service::Services;
use eiq_service::hashtags::SuggestRequest;
use eiq_service::hashtags::evaluation::{
    Bm25Neighbours, RecoveryQuery, is_hit, most_used_tags, recovery_queries, without_hashtags,
};
use eiq_service::tenancy::{Principal, TenantId};

const K: usize = 5;

fn post(account: &str, id: usize, created_at: i64, text: &str) -> Post {
    Post {
        post_id: format!("p{id}"),
        account_id: account.into(),
        platform: "x".into(),
        created_at,
        timezone: None,
        text: text.into(),
        media: eiq_datasets::MediaType::None,
        likes: None,
        comments: None,
        shares: None,
        impressions: None,
        followers: None,
    }
}

/// Stores `posts` as `tenant`'s history and waits until the index holds them.
async fn index(services: &Services, data: &std::path::Path, tenant: &TenantId, posts: Vec<Post>) -> anyhow::Result<()> {
    let count = posts.len();
    HistoryStore::new(data).merge(tenant.as_str(), posts)?;
    services.index.queue().push(tenant);
    let started = Instant::now();
    while !services.index.is_indexed(tenant)? || services.index.queue().pending() > 0 {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let seconds = started.elapsed().as_secs_f64();
    println!("{tenant}: indexed {count} posts in {seconds:.1} s ({:.0} posts/s)", count as f64 / seconds);
    Ok(())
}

/// hit@K of the suggestions and both baselines, and the suggestion latencies.
async fn evaluate(
    services: &Services,
    principal: &Principal,
    account: Option<&str>,
    history: &str,
    queries: &[RecoveryQuery],
) -> anyhow::Result<(f64, f64, f64, Vec<Duration>)> {
    let popular = most_used_tags(history, K);
    let bm25 = Bm25Neighbours::new(history);
    let (mut ours, mut by_popularity, mut by_bm25) = (0, 0, 0);
    let mut times = Vec::with_capacity(queries.len());
    for query in queries {
        let request = SuggestRequest {
            text: query.text.clone(),
            account_id: account.map(String::from),
            k: Some(K),
            ..SuggestRequest::default()
        };
        let started = Instant::now();
        let suggestions = services.hashtags.suggest(principal, request).await?;
        times.push(started.elapsed());
        let tags: Vec<String> = suggestions.hashtags.into_iter().map(|s| s.tag).collect();
        ours += usize::from(is_hit(&tags, &query.removed));
        by_popularity += usize::from(is_hit(&popular, &query.removed));
        by_bm25 += usize::from(is_hit(&bm25.suggest(&query.text, K), &query.removed));
    }
    let rate = |hits: usize| hits as f64 / queries.len().max(1) as f64;
    times.sort_unstable();
    Ok((rate(ours), rate(by_popularity), rate(by_bm25), times))
}

fn latency(times: &[Duration]) -> String {
    format!(
        "p50 {:.1} ms, p99 {:.1} ms",
        percentile(times, 0.5).as_secs_f64() * 1e3,
        percentile(times, 0.99).as_secs_f64() * 1e3
    )
}

fn main() -> anyhow::Result<()> {
    let dir = tempfile::tempdir()?;
    let data = dir.path().join("data");
    // The runtime (and the indexing worker holding the store) ends before the folder is deleted.
    tokio::runtime::Runtime::new()?.block_on(run(data))
}

async fn run(data: std::path::PathBuf) -> anyhow::Result<()> {
    let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../datasets");
    let services = services(&data, &["minilm-l6-v2"])?;
    models_ready(&services).await?;

    // Public tweets.
    let train = std::fs::read_to_string(format!("{root}/tweeteval/emoji/train_text.txt"))?;
    let validation = std::fs::read_to_string(format!("{root}/tweeteval/emoji/val_text.txt"))?;
    let tagged: Vec<&str> =
        train.lines().filter(|l| !eiq_datasets::twitter_text::extract_hashtags(l).is_empty()).collect();
    let tenant = TenantId::parse("emoji").map_err(|e| anyhow::anyhow!("{e}"))?;
    let posts = tagged.iter().enumerate().map(|(i, t)| post("emoji", i, 1_500_000_000 + i as i64 * 60, t)).collect();
    index(&services, &data, &tenant, posts).await?;
    let principal = Principal::local(tenant);
    let queries = recovery_queries(&validation);
    let history = tagged.join("\n");
    let (_, _, _, cold) = evaluate(&services, &principal, None, &history, &queries).await?;
    let (ours, popular, bm25, warm) = evaluate(&services, &principal, None, &history, &queries).await?;
    println!(
        "public tweets: {} history posts, {} queries; hit@{K}: suggestions {ours:.3}, most used {popular:.3}, BM25 neighbours {bm25:.3}",
        tagged.len(),
        queries.len()
    );
    println!("suggestion latency: first pass {}; warm {}", latency(&cold), latency(&warm));

    // Within each account that tags consistently, split by time.
    let imported = eiq_datasets::load_rtweet_fixtures(std::path::Path::new(&format!("{root}/rtweet/fixtures")))?;
    let mut by_account: std::collections::BTreeMap<String, Vec<Post>> = Default::default();
    for post in imported.posts {
        by_account.entry(post.account_id.clone()).or_default().push(post);
    }
    let has_tags = |post: &Post| !eiq_datasets::twitter_text::extract_hashtags(&post.text).is_empty();
    for (number, (account, mut posts)) in
        by_account.into_iter().filter(|(_, posts)| posts.iter().filter(|p| has_tags(p)).count() >= 10).enumerate()
    {
        posts.sort_by_key(|p| p.created_at);
        let later = posts.split_off(posts.len() * 8 / 10);
        let history: String = posts.iter().map(|p| p.text.replace('\n', " ")).collect::<Vec<_>>().join("\n");
        let queries: Vec<RecoveryQuery> =
            later.iter().filter_map(|p| without_hashtags(&p.text.replace('\n', " "))).collect();
        let tenant = TenantId::parse(&format!("account{number}")).map_err(|e| anyhow::anyhow!("{e}"))?;
        let (history_posts, tagged) = (posts.len(), posts.iter().filter(|p| has_tags(p)).count());
        index(&services, &data, &tenant, posts).await?;
        let principal = Principal::local(tenant);
        let (ours, popular, bm25, _) = evaluate(&services, &principal, Some(&account), &history, &queries).await?;
        println!(
            "within account {account}: {history_posts} history posts ({tagged} tagged), {} queries from the later 20 %; hit@{K}: suggestions {ours:.3}, most used {popular:.3}, BM25 neighbours {bm25:.3}",
            queries.len()
        );
    }
    Ok(())
}
