//! The post index against a real server and model: similar posts, accounts, the gate's
//! `duplicate` category and hashtag suggestions over REST and gRPC, tenants kept apart, bad
//! input answered with the field, and a server killed with `kill -9` mid-indexing that catches
//! up on restart.

mod common;

use std::time::{Duration, Instant};

use common::history::{get, grpc_client, import, message, post, tenant, wait_indexed};
use common::{TestServer, start, wait_ready};
use eiq_proto::v1::hashtags_client::HashtagsClient;
use eiq_proto::v1::posts_client::PostsClient;
use eiq_proto::v1::{
    GetAccountRequest, ListAccountsRequest, SearchPostsRequest, SuggestHashtagsRequest, search_posts_request,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tonic::Code;

const HEADER: &str =
    "post_id,account_id,platform,created_at,timezone,text,media,likes,comments,shares,impressions,followers\n";

/// Posts of two accounts from the last days: distinct topics, some tagged, one spam tag.
fn history(now: i64) -> String {
    let posts = [
        ("b1", "brand", "x", "Our spring launch is live: the new trail shoes are in stores today #LaunchDay", 900),
        ("b2", "brand", "x", "Behind the scenes at the factory where every trail shoe is stitched #MadeHere", 150),
        ("b3", "brand", "x", "Five tips for your first marathon training block #RunningTips", 300),
        ("b4", "brand", "x", "Weekend sale: half price on last season's jackets #follow4follow", 20),
        (
            "b5",
            "brand",
            "x",
            "Launch week recap: thank you for making the trail shoe launch our biggest #LaunchDay",
            700,
        ),
        ("t1", "team", "bluesky", "Our team volunteered at the river cleanup this morning #CleanRivers", 80),
        ("t2", "team", "bluesky", "Hiring: we are looking for a product designer in Berlin #Hiring", 40),
    ];
    let mut csv = HEADER.to_string();
    for (i, (id, account, platform, text, likes)) in posts.iter().enumerate() {
        let at = now - 86_400 * (posts.len() - i) as i64;
        csv.push_str(&format!("{id},{account},{platform},{at},UTC,\"{text}\",none,{likes},5,3,,1000\n"));
    }
    csv
}

struct Fixture {
    server: TestServer,
    _dir: tempfile::TempDir,
}

fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").to_str().unwrap().to_string();
    let server = start(&["--models", "minilm-l6-v2,tweet-minilm-l6-v1-int8", "--data-dir", &data]);
    Fixture { server, _dir: dir }
}

#[tokio::test]
async fn similar_posts_duplicates_and_hashtags_over_rest_and_grpc() {
    let f = fixture();
    let s = &f.server;
    wait_ready(s).await;
    let now = chrono::Utc::now().timestamp();
    for name in ["acme", "rival"] {
        let (status, body) = import(s, name, "format=csv", history(now).into_bytes()).await;
        assert_eq!(status, 200, "{body}");
    }
    // Only acme has this post: the other tenant must never see it.
    let secret = format!(
        "{HEADER}secret,brand,x,{},UTC,Quarterly numbers embargoed until Friday #EmbargoWatch,none,1,1,1,,1000\n",
        now - 3_600
    );
    assert_eq!(import(s, "acme", "format=csv", secret.into_bytes()).await.0, 200);

    let accounts = wait_indexed(s, "acme", Duration::from_secs(120)).await;
    let brand = accounts["accounts"].as_array().unwrap().iter().find(|a| a["account_id"] == "brand").unwrap().clone();
    assert_eq!((brand["posts"].as_u64(), brand["platforms"].clone()), (Some(6), json!(["x"])));
    assert!(brand["first_post_at"].as_str().unwrap() < brand["last_post_at"].as_str().unwrap());
    wait_indexed(s, "rival", Duration::from_secs(60)).await;
    let (status, one) = get(s, "acme", "/v1/accounts/team").await;
    assert_eq!((status, one["posts"].as_u64(), one["indexed_posts"].as_u64()), (StatusCode::OK, Some(2), Some(2)));

    // Similar posts: nearest first, with outcome and lift.
    let (status, found) =
        post(s, "acme", "/v1/posts:search", json!({"text": "new trail running shoes launched", "k": 3})).await;
    assert_eq!(status, 200, "{found}");
    let results = found["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert!(["b1", "b5"].contains(&results[0]["post_id"].as_str().unwrap()), "{found}");
    assert!(results[0]["score"].as_f64() >= results[1]["score"].as_f64());
    assert!(
        results[0]["engagement"].as_f64().unwrap() > 0.0 && results[0]["created_at"].as_str().unwrap().ends_with('Z')
    );
    assert_eq!(found["indexing"], false);
    // Filters: account, platform, time.
    let (_, team) = post(s, "acme", "/v1/posts:search", json!({"text": "trail shoes", "account_id": "team"})).await;
    assert!(team["results"].as_array().unwrap().iter().all(|r| r["account_id"] == "team"), "{team}");
    let (_, bluesky) = post(s, "acme", "/v1/posts:search", json!({"text": "trail shoes", "platform": "bluesky"})).await;
    assert_eq!(bluesky["results"].as_array().unwrap().len(), 2, "{bluesky}");
    let since = now - 86_400 * 3;
    let (_, recent) = post(s, "acme", "/v1/posts:search", json!({"text": "shoes", "since": since, "k": 100})).await;
    assert!(recent["results"].as_array().unwrap().iter().all(|r| r["post_id"] != "b1"), "{recent}");

    // Tenants are apart: acme finds its secret post, rival only its own posts.
    let query = json!({"text": "Quarterly numbers embargoed until Friday #EmbargoWatch"});
    let (_, mine) = post(s, "acme", "/v1/posts:search", query.clone()).await;
    assert_eq!(mine["results"][0]["post_id"], "secret");
    assert!(mine["results"][0]["score"].as_f64().unwrap() > 0.99);
    let (_, theirs) = post(s, "rival", "/v1/posts:search", query).await;
    assert!(theirs["results"].as_array().unwrap().iter().all(|r| r["post_id"] != "secret"), "{theirs}");
    assert_eq!(theirs["results"].as_array().unwrap().len(), 7);
    let (status, _) = get(s, "nobody", "/v1/accounts").await;
    assert_eq!(status, 404);
    // ... and neither its duplicates nor its hashtags reach the other tenant.
    let repeat = json!({"text": "Quarterly numbers embargoed until Friday #EmbargoWatch", "account_id": "brand"});
    let (_, verdict) = post(s, "rival", "/v1/moderation/gate", repeat).await;
    assert!(verdict["reasons"].as_array().unwrap().iter().all(|r| r["category"] != "duplicate"), "{verdict}");
    let draft = json!({"text": "Quarterly numbers are embargoed until Friday", "account_id": "brand", "k": 30});
    let (_, mine) = post(s, "acme", "/v1/hashtags:suggest", draft.clone()).await;
    let history_tags = |answer: &Value| -> Vec<String> {
        let tags = answer["hashtags"].as_array().unwrap().iter();
        tags.filter(|t| t["sources"].as_array().unwrap().contains(&json!("history")))
            .map(|t| t["tag"].as_str().unwrap().to_string())
            .collect()
    };
    assert!(history_tags(&mine).contains(&"#EmbargoWatch".to_string()), "{mine}");
    let (_, theirs) = post(s, "rival", "/v1/hashtags:suggest", draft).await;
    assert!(!history_tags(&theirs).contains(&"#EmbargoWatch".to_string()), "{theirs}");

    // Bad input: 422 naming the field, 404 for an unknown account.
    for (body, field) in [
        (json!({"text": "x", "k": 0}), "k"),
        (json!({"text": "x", "k": 101}), "k"),
        (json!({"vector": [0.1, 0.2]}), "vector"),
        (json!({"text": "x", "since": 2_000_000_000, "until": 1_900_000_000}), "until"),
        (json!({"text": "x", "since": "yesterday"}), "since"),
        (json!({"text": "a".repeat(70_000)}), "text"),
        (json!({}), "text"),
    ] {
        let (status, error) = post(s, "acme", "/v1/posts:search", body.clone()).await;
        assert_eq!(status, 422, "{body} → {error}");
        assert_eq!(error["error"]["param"], field, "{error}");
    }
    let (status, error) = post(s, "acme", "/v1/posts:search", json!({"text": "x", "account_id": "ghost"})).await;
    assert_eq!(status, 404);
    assert!(message(&error).contains("ghost"));

    // The gate's duplicate category: the same account's recent post, named in the reason.
    let repeat = "Our spring launch is live: the new trail shoes are in stores today #LaunchDay";
    let (status, verdict) =
        post(s, "acme", "/v1/moderation/gate", json!({"text": repeat, "account_id": "brand"})).await;
    assert_eq!(status, 200, "{verdict}");
    assert_eq!(verdict["decision"], "review", "{verdict}");
    let reason = verdict["reasons"].as_array().unwrap().iter().find(|r| r["category"] == "duplicate").unwrap();
    assert!(reason["detail"].as_str().unwrap().contains("b1"), "{reason}");
    assert!(verdict["scores"]["duplicate"].as_f64().unwrap() > 0.95);
    let strict =
        json!({"text": repeat, "account_id": "brand", "policy": {"thresholds": {"duplicate": {"block": 0.9}}}});
    assert_eq!(post(s, "acme", "/v1/moderation/gate", strict).await.1["decision"], "block");
    for request in [json!({"text": repeat}), json!({"text": repeat, "account_id": "team"})] {
        let (_, verdict) = post(s, "acme", "/v1/moderation/gate", request).await;
        assert!(verdict["reasons"].as_array().unwrap().iter().all(|r| r["category"] != "duplicate"), "{verdict}");
    }

    // Hashtags: from this account's history (with its lift), never a tag the draft has, never spam.
    let draft =
        json!({"text": "The trail shoe launch continues with new colours this week", "account_id": "brand", "k": 5});
    let (status, tags) = post(s, "acme", "/v1/hashtags:suggest", draft).await;
    assert_eq!(status, 200, "{tags}");
    let list = tags["hashtags"].as_array().unwrap();
    let launch = list.iter().find(|t| t["tag"] == "#LaunchDay").unwrap_or_else(|| panic!("{tags}"));
    assert!(launch["sources"].as_array().unwrap().contains(&json!("history")));
    assert_eq!(launch["posts"], 2);
    assert!(launch["lift"].is_number());
    assert_eq!(tags["history"], "account");
    assert!(list.len() <= 5 && list.iter().all(|t| t["tag"] != "#follow4follow"));
    let (_, own) =
        post(s, "acme", "/v1/hashtags:suggest", json!({"text": "Trail shoe launch #LaunchDay", "account_id": "brand"}))
            .await;
    assert!(
        own["hashtags"].as_array().unwrap().iter().all(|t| t["tag"].as_str().unwrap().to_lowercase() != "#launchday")
    );
    let (_, sale) = post(
        s,
        "acme",
        "/v1/hashtags:suggest",
        json!({"text": "Half price jackets this weekend", "account_id": "brand", "k": 30}),
    )
    .await;
    assert!(sale["hashtags"].as_array().unwrap().iter().all(|t| t["tag"] != "#follow4follow"), "{sale}");
    let (_, threads) =
        post(s, "acme", "/v1/hashtags:suggest", json!({"text": "Trail shoes launch", "platform": "threads"})).await;
    assert_eq!((threads["limit"].as_u64(), threads["hashtags"].as_array().unwrap().len()), (Some(1), 1), "{threads}");
    // No history: text and corpus only, and the answer says so.
    let (status, cold) = post(
        s,
        "newcomer",
        "/v1/hashtags:suggest",
        json!({"text": "Sunset at the beach with friends", "platform": "instagram"}),
    )
    .await;
    assert_eq!(status, 200, "{cold}");
    assert_eq!((cold["history"].as_str(), cold["limit"].as_u64()), (Some("none"), Some(5)));
    assert!(
        !cold["notes"].as_array().unwrap().is_empty() && !cold["hashtags"].as_array().unwrap().is_empty(),
        "{cold}"
    );
    assert!(
        cold["hashtags"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| !t["sources"].as_array().unwrap().contains(&json!("history")))
    );
    for (body, status, field) in [
        (json!({"text": "x", "k": 0}), 422, Some("k")),
        (json!({"text": "x", "k": 31}), 422, Some("k")),
        (json!({"text": "  "}), 422, Some("text")),
        (json!({"text": "x", "platform": "myspace"}), 422, Some("platform")),
        (json!({"text": "x", "account_id": "ghost"}), 404, None),
    ] {
        let (got, error) = post(s, "acme", "/v1/hashtags:suggest", body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body} → {error}");
        if let Some(field) = field {
            assert_eq!(error["error"]["param"], field, "{error}");
        }
    }

    // gRPC: the same operations and codes.
    let mut posts = PostsClient::connect(format!("http://{}", s.addr)).await.unwrap();
    let search = SearchPostsRequest {
        query: Some(search_posts_request::Query::Text("river cleanup volunteers".into())),
        k: 1,
        ..Default::default()
    };
    let answer = posts.search(tenant(search, "acme")).await.unwrap().into_inner();
    assert_eq!(answer.results[0].post_id, "t1");
    let wrong = SearchPostsRequest {
        query: Some(search_posts_request::Query::Vector(Default::default())),
        ..Default::default()
    };
    assert_eq!(posts.search(tenant(wrong, "acme")).await.unwrap_err().code(), Code::InvalidArgument);
    let mut engagement = grpc_client(s).await;
    let listed = engagement.list_accounts(tenant(ListAccountsRequest {}, "acme")).await.unwrap().into_inner();
    assert_eq!(listed.accounts.len(), 2);
    let missing = engagement.get_account(tenant(GetAccountRequest { account_id: "ghost".into() }, "acme")).await;
    assert_eq!(missing.unwrap_err().code(), Code::NotFound);
    let mut hashtags = HashtagsClient::connect(format!("http://{}", s.addr)).await.unwrap();
    let request = SuggestHashtagsRequest {
        text: "trail shoes launch".into(),
        account_id: "brand".into(),
        k: 3,
        ..Default::default()
    };
    let suggested = hashtags.suggest(tenant(request, "acme")).await.unwrap().into_inner();
    assert!(!suggested.hashtags.is_empty() && suggested.hashtags.len() <= 3);
    let bad = SuggestHashtagsRequest { text: "x".into(), k: 99, ..Default::default() };
    assert_eq!(hashtags.suggest(tenant(bad, "acme")).await.unwrap_err().code(), Code::InvalidArgument);
    s.shutdown_and_wait();
}

#[tokio::test]
async fn concurrent_imports_and_searches_never_fail_the_server() {
    let f = fixture();
    let s = &f.server;
    wait_ready(s).await;
    let imports = (0..4).map(|round| async move {
        import(s, "busy", "format=csv", many_posts(&format!("acct{round}"), 300).into_bytes()).await.0
    });
    let searches = (0..40).map(|i| async move {
        let body = json!({"text": format!("coffee near the river {i}"), "k": 5});
        let search = post(s, "busy", "/v1/posts:search", body).await.0;
        let tags = post(s, "busy", "/v1/hashtags:suggest", json!({"text": "coffee by the river"})).await.0;
        let gate = post(s, "busy", "/v1/moderation/gate", json!({"text": "coffee", "account_id": "acct0"})).await.0;
        [search, tags, gate]
    });
    let (imported, searched) = tokio::join!(futures::future::join_all(imports), futures::future::join_all(searches));
    assert!(imported.iter().all(|status| *status == 200), "{imported:?}");
    // Before the first import lands the tenant has no history (404); a full queue is 429; never a 5xx.
    assert!(searched.iter().flatten().all(|status| !status.is_server_error()), "{searched:?}");
    // Once indexing settles, every post is there exactly once.
    let accounts = wait_indexed(s, "busy", Duration::from_secs(120)).await;
    let accounts = accounts["accounts"].as_array().unwrap();
    assert_eq!(accounts.len(), 4);
    assert!(accounts.iter().all(|a| a["posts"] == 300 && a["indexed_posts"] == 300), "{accounts:?}");
    s.shutdown_and_wait();
}

/// `count` posts of `account`, each with its own words, for indexing that takes a while.
fn many_posts(account: &str, count: usize) -> String {
    let words =
        ["river", "launch", "coffee", "garden", "concert", "harbour", "library", "marathon", "sunrise", "recipe"];
    let mut csv = HEADER.to_string();
    for i in 0..count {
        let text = format!(
            "Post {i} about the {} and the {} near the {} {}",
            words[i % 10],
            words[(i / 10) % 10],
            words[(i / 100) % 10],
            i * 7919 % 10_007
        );
        csv.push_str(&format!(
            "{account}-{i},{account},x,{},UTC,{text},none,{},1,1,,1000\n",
            1_736_121_600 + i as i64 * 600,
            i % 40
        ));
    }
    csv
}

/// The server as its own process, so it can be killed for real.
fn spawn_server(data: &std::path::Path, port: u16) -> std::process::Child {
    std::process::Command::new(env!("CARGO_BIN_EXE_eiq"))
        .args(["serve", "--models", "minilm-l6-v2", "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap()
}

async fn accounts_of(base: &str) -> Option<Value> {
    let response =
        reqwest::Client::new().get(format!("{base}/v1/accounts")).header("x-tenant-id", "acme").send().await.ok()?;
    (response.status() == 200).then_some(response.json().await.ok()?)
}

#[tokio::test]
async fn a_server_killed_while_indexing_catches_up_on_restart() {
    common::ensure_models_fetched();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let mut server = spawn_server(&data, port);
    let started = Instant::now();
    while client.get(format!("{base}/ready")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(started.elapsed() < Duration::from_secs(120), "server not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let posts = 6_000;
    let response = client
        .post(format!("{base}/v1/history:import?format=csv"))
        .header("x-tenant-id", "acme")
        .body(many_posts("brand", posts))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    // Kill it once indexing has started and before it is done.
    let started = Instant::now();
    let indexed_at_kill = loop {
        if let Some(accounts) = accounts_of(&base).await {
            let indexed = accounts["accounts"][0]["indexed_posts"].as_u64().unwrap_or(0);
            if indexed > 0 {
                break indexed;
            }
        }
        assert!(started.elapsed() < Duration::from_secs(120), "indexing never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    server.kill().unwrap(); // SIGKILL
    server.wait().unwrap();
    assert!(indexed_at_kill < posts as u64, "indexing finished before the kill; make the history longer");

    let mut server = spawn_server(&data, port);
    let started = Instant::now();
    let caught_up = loop {
        if let Some(accounts) = accounts_of(&base).await
            && accounts["accounts"][0]["indexed_posts"].as_u64() == Some(posts as u64)
        {
            break accounts;
        }
        assert!(started.elapsed() < Duration::from_secs(300), "never caught up");
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(caught_up["accounts"][0]["posts"].as_u64(), Some(posts as u64));
    // The index matches the history: posts from the start, the middle and the end find themselves.
    for i in [0, posts / 2, posts - 1] {
        let csv = many_posts("brand", i + 1);
        let text = csv.lines().last().unwrap().split(',').nth(5).unwrap().to_string();
        let found: Value = client
            .post(format!("{base}/v1/posts:search"))
            .header("x-tenant-id", "acme")
            .json(&json!({"text": text, "k": 1}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(found["results"][0]["post_id"], format!("brand-{i}"), "{found}");
    }
    server.kill().unwrap();
    server.wait().unwrap();
}
