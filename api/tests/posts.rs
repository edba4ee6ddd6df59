//! `POST /v1/posts:check` and the platform rules, over REST and gRPC, on a real server with its
//! own data folder (where tenants' overrides are kept).

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::history::{message, post, send, tenant};
use common::{TestServer, start, wait_ready};
use eiq_proto::v1::posts_client::PostsClient;
use eiq_proto::v1::{CheckPostRequest, ListPlatformsRequest, MediaItem, PlatformOverride, SetPlatformOverrideRequest};
use reqwest::StatusCode;
use serde_json::{Value, json};

struct Fixture {
    server: TestServer,
    _dir: tempfile::TempDir,
}

async fn server() -> &'static TestServer {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    let fixture = FIXTURE.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().to_str().unwrap().to_string();
        Fixture { server: start(&["--models", "minilm-l6-v2", "--data-dir", &data]), _dir: dir }
    });
    wait_ready(&fixture.server).await;
    &fixture.server
}

async fn check(tenant_id: &str, body: Value) -> (StatusCode, Value) {
    post(server().await, tenant_id, "/v1/posts:check", body).await
}

fn rules(body: &Value) -> Vec<&str> {
    body["violations"].as_array().unwrap().iter().map(|v| v["rule"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn each_platform_counts_in_its_own_unit_and_reports_what_it_breaks() {
    let text = "Launch day 🚀 at https://example.com/a/very/long/path/that/x/shortens #Launch @acme";
    let (status, x) = check("acme", json!({"text": text, "platform": "twitter"})).await;
    assert_eq!(status, StatusCode::OK, "{x}");
    assert_eq!(x["platform"], "x");
    assert_eq!(x["length"], json!({"unit": "weighted", "used": 17 + 23 + 14, "limit": 280}));
    assert_eq!(
        (x["valid"].as_bool(), &x["hashtags"], &x["mentions"]),
        (Some(true), &json!(["Launch"]), &json!(["acme"]))
    );
    assert_eq!(x["urls"], json!(["https://example.com/a/very/long/path/that/x/shortens"]));

    let (_, bluesky) = check("acme", json!({"text": "👨‍👩‍👧‍👦".repeat(301), "platform": "bluesky"})).await;
    assert_eq!(
        (bluesky["length"]["unit"].as_str(), bluesky["length"]["used"].as_u64()),
        (Some("graphemes"), Some(301))
    );
    assert_eq!(rules(&bluesky), ["length", "bytes"]);
    let first = &bluesky["violations"][0];
    assert_eq!((first["limit"].as_f64(), first["actual"].as_f64()), (Some(300.0), Some(301.0)));

    let tags = (0..6).map(|i| format!("#tag{i}")).collect::<Vec<_>>().join(" ");
    let media = json!([{"type": "photo", "width": 1080, "height": 1920, "bytes": 200000}]);
    let (_, instagram) = check("acme", json!({"text": tags, "platform": "instagram", "media": media})).await;
    assert_eq!(rules(&instagram), ["hashtags", "media_aspect_ratio"]);
    let (_, tiktok) = check("acme", json!({"text": "", "platform": "tiktok", "title": "t".repeat(91)})).await;
    assert_eq!(rules(&tiktok), ["empty", "title_length", "media_required"]);
}

#[tokio::test]
async fn bad_input_is_a_4xx_that_names_the_field() {
    let (status, body) = check("acme", json!({"text": "hi", "platform": "myspace"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(message(&body).contains("known: x, bluesky, mastodon"), "{body}");
    let (status, body) = check("acme", json!({"text": "hi", "platform": "x", "media": [{"type": "pdf"}]})).await;
    assert_eq!((status, body["error"]["param"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("media[0].type")));
    let (status, body) =
        check("acme", json!({"text": "hi", "platform": "x", "media": [{"type": "photo", "width": 0, "height": 0}]}))
            .await;
    assert_eq!((status, body["error"]["param"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("media[0].width")));
    let (status, _) = check("acme", json!({"text": "a".repeat(262_145), "platform": "facebook"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = check("acme", json!({"text": "hi", "platform": "x", "extra": 1})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let raw = reqwest::Client::new()
        .post(server().await.url("/v1/posts:check"))
        .header("content-type", "application/json")
        .body(b"{\"text\": \"\xff\xfe\", \"platform\": \"x\"}".to_vec());
    let (status, _) = send(server().await, raw).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn hostile_texts_are_answered_quickly() {
    for text in
        ["http://a.".repeat(29_000), "#a#".repeat(87_000), "@a.b-c_".repeat(37_000), "a-".repeat(130_000) + ".com"]
    {
        let started = Instant::now();
        let (status, body) = check("acme", json!({"text": text, "platform": "x"})).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert!(started.elapsed() < Duration::from_secs(5), "{} bytes took {:?}", text.len(), started.elapsed());
    }
}

#[tokio::test]
async fn a_tenants_override_applies_to_it_alone() {
    let server = server().await;
    let put = |tenant_id: &str, platform: &str, body: Value| {
        reqwest::Client::new()
            .put(server.url(&format!("/v1/platforms/{platform}")))
            .header("x-tenant-id", tenant_id)
            .json(&body)
    };
    let long = "a".repeat(800);
    let (status, body) = send(server, put("instance", "mastodon", json!({"limit": 5000}))).await;
    assert_eq!((status, body["limit"].as_u64(), &body["overridden"]), (StatusCode::OK, Some(5000), &json!(["limit"])));
    assert_eq!(check("instance", json!({"text": long, "platform": "mastodon"})).await.1["valid"], true);
    assert_eq!(check("other", json!({"text": long, "platform": "mastodon"})).await.1["valid"], false);
    let listed =
        send(server, reqwest::Client::new().get(server.url("/v1/platforms")).header("x-tenant-id", "instance")).await.1;
    let mastodon = listed["platforms"].as_array().unwrap().iter().find(|p| p["id"] == "mastodon").unwrap().clone();
    assert_eq!((mastodon["limit"].as_u64(), mastodon["source"].as_str().is_some()), (Some(5000), true));
    for bad in [json!({"limit": 0}), json!({"limit": 2_000_000}), json!({"colour": 1})] {
        assert_eq!(send(server, put("instance", "mastodon", bad)).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    }
    assert_eq!(send(server, put("instance", "orkut", json!({}))).await.0, StatusCode::UNPROCESSABLE_ENTITY);
    send(server, put("instance", "mastodon", json!({}))).await;
    assert_eq!(check("instance", json!({"text": long, "platform": "mastodon"})).await.1["valid"], false);
}

#[tokio::test]
async fn grpc_answers_the_same_as_rest() {
    let server = server().await;
    let mut client = PostsClient::connect(format!("http://{}", server.addr)).await.unwrap();
    let request = CheckPostRequest {
        text: "Hello @ann, see example.com #news".into(),
        platform: "x".into(),
        media: vec![MediaItem { r#type: "video".into(), duration_s: Some(200.0), ..Default::default() }],
        title: None,
    };
    let answer = client.check(tenant(request, "grpc")).await.unwrap().into_inner();
    let length = answer.length.unwrap();
    assert_eq!((length.unit.as_str(), length.used, answer.valid), ("weighted", 16 + 23 + 6, false));
    assert_eq!(answer.violations.iter().map(|v| v.rule.as_str()).collect::<Vec<_>>(), ["media_duration"]);
    assert_eq!(
        (answer.hashtags, answer.mentions, answer.urls),
        (vec!["news".to_string()], vec!["ann".to_string()], vec!["example.com".to_string()])
    );

    let unknown = CheckPostRequest { text: "hi".into(), platform: "friendster".into(), ..Default::default() };
    let status = client.check(tenant(unknown, "grpc")).await.unwrap_err();
    assert_eq!(status.code(), tonic::Code::InvalidArgument);
    assert!(status.message().contains("known: x"), "{}", status.message());

    let change = SetPlatformOverrideRequest {
        platform: "threads".into(),
        r#override: Some(PlatformOverride { max_hashtags: Some(3), ..Default::default() }),
    };
    let threads = client.set_platform_override(tenant(change, "grpc")).await.unwrap().into_inner();
    assert_eq!((threads.max_hashtags, threads.overridden), (Some(3), vec!["max_hashtags".to_string()]));
    let listed = client.list_platforms(tenant(ListPlatformsRequest {}, "grpc")).await.unwrap().into_inner();
    assert_eq!(listed.platforms.len(), 10);
    let too_big = SetPlatformOverrideRequest {
        platform: "threads".into(),
        r#override: Some(PlatformOverride { limit: Some(u64::MAX), ..Default::default() }),
    };
    assert_eq!(
        client.set_platform_override(tenant(too_big, "grpc")).await.unwrap_err().code(),
        tonic::Code::InvalidArgument
    );
}
