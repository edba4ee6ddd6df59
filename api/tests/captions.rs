//! `POST /v1/captions:generate` and gRPC `Captions` on a real server with the real caption model
//! (SmolLM2-135M-Instruct on candle): every variant fits its platform and keeps the draft's links
//! and mentions, a seed reproduces the answer, streams stream, a caller that leaves stops its
//! generation, a full queue is 429, and without the model the draft is fitted by rules.

mod common;

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use common::history::{message, post, tenant};
use common::{TestServer, start, wait_ready};
use eiq_proto::v1::captions_client::CaptionsClient;
use eiq_proto::v1::{GenerateCaptionsRequest, caption_stream_event};
use futures::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};

const MODELS: &str = "minilm-l6-v2,tweet-minilm-l6-v1-int8,smollm2-135m-instruct";
const DRAFT: &str = "We just opened our second coffee shop on Main Street! Come by this weekend for a free pastry with any drink. Details: https://example.com/opening?ref=x thanks @beanco";

async fn server() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    let server = SERVER.get_or_init(|| start(&["--models", MODELS]));
    wait_ready(server).await;
    server
}

async fn captions(server: &TestServer, body: Value) -> (StatusCode, Value) {
    post(server, "captions", "/v1/captions:generate", body).await
}

fn assert_fits_and_keeps_the_draft(variant: &Value) {
    let text = variant["text"].as_str().unwrap();
    assert_eq!(variant["valid"], true, "{variant}");
    assert!(variant["length"]["used"].as_u64() <= variant["length"]["limit"].as_u64(), "{variant}");
    assert!(text.contains("https://example.com/opening?ref=x") && text.contains("@beanco"), "{text:?}");
    let urls = eiq_datasets::twitter_text::extract_urls(text);
    let mentions = eiq_datasets::twitter_text::extract_mentions(text);
    assert!(urls.iter().all(|u| u.value == "https://example.com/opening?ref=x"), "an added link: {text:?}");
    assert!(mentions.iter().all(|m| m.value == "beanco"), "an added mention: {text:?}");
    assert_ne!(variant["gate"]["decision"], "block", "{variant}");
}

#[tokio::test]
async fn variants_fit_their_platforms_keep_links_and_mentions_and_a_seed_repeats_them() {
    let server = server().await;
    let body = json!({"text": DRAFT, "platforms": ["x", "bluesky"], "variants": 1, "seed": 11, "tone": "warm"});
    let started = Instant::now();
    let (status, first) = captions(server, body.clone()).await;
    assert_eq!(status, StatusCode::OK, "{first}");
    eprintln!("2 captions in {:?}: {first}", started.elapsed());
    assert_eq!((first["method"].as_str(), first["model"].as_str()), (Some("model"), Some("smollm2-135m-instruct")));
    let variants = first["variants"].as_array().unwrap();
    assert_eq!(variants.len(), 2);
    for variant in variants {
        assert_fits_and_keeps_the_draft(variant);
        assert!(variant["similarity"].as_f64().unwrap() > 0.3, "{variant}");
    }
    assert!(first["usage"]["generated_tokens"].as_u64().unwrap() > 0);
    let (_, again) = captions(server, body).await;
    let texts =
        |answer: &Value| answer["variants"].as_array().unwrap().iter().map(|v| v["text"].clone()).collect::<Vec<_>>();
    assert_eq!(texts(&again), texts(&first), "the same seed gives the same variants");
}

#[tokio::test]
async fn server_sent_events_stream_text_then_variants_then_the_answer() {
    let server = server().await;
    let response = reqwest::Client::new()
        .post(server.url("/v1/captions:generate"))
        .header("accept", "text/event-stream")
        .json(&json!({"text": DRAFT, "platforms": ["threads"], "seed": 3, "hashtags": 2}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    let body = response.text().await.unwrap();
    let events: Vec<&str> = body.lines().filter_map(|line| line.strip_prefix("event: ")).collect();
    assert!(events.first() == Some(&"text") && events.last() == Some(&"done"), "{events:?}");
    assert_eq!(events.iter().filter(|e| **e == "variant").count(), 1, "{events:?}");
    let done = body.lines().rev().find_map(|line| line.strip_prefix("data: ")).unwrap();
    let done: Value = serde_json::from_str(done).unwrap();
    let variant = &done["variants"][0];
    assert_fits_and_keeps_the_draft(variant);
    assert!(variant["hashtags"].as_array().unwrap().len() <= 1, "Threads allows one topic tag: {variant}");
}

fn generations(metrics: &str, outcome: &str) -> f64 {
    metrics
        .lines()
        .filter(|line| line.starts_with("eiq_generations_total{") && line.contains(&format!("outcome=\"{outcome}\"")))
        .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
        .sum()
}

#[tokio::test]
async fn a_client_that_goes_away_stops_its_generation() {
    let server = server().await;
    let metrics = || async { reqwest::get(server.url("/metrics")).await.unwrap().text().await.unwrap() };
    let before = generations(&metrics().await, "cancelled");
    let mut response = reqwest::Client::new()
        .post(server.url("/v1/captions:generate"))
        .header("accept", "text/event-stream")
        .json(&json!({"text": "Write a long, detailed announcement of our annual conference.", "platforms": ["facebook"], "seed": 5}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let chunk = response.chunk().await.unwrap().unwrap();
    assert!(String::from_utf8_lossy(&chunk).contains("event: text"));
    let left_at = Instant::now();
    drop(response);
    loop {
        if generations(&metrics().await, "cancelled") > before {
            break;
        }
        assert!(left_at.elapsed() < Duration::from_secs(10), "the generation did not stop after its client left");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("cancelled {:?} after the client left", left_at.elapsed());
}

#[tokio::test]
async fn bad_requests_are_4xx_naming_the_field() {
    let server = server().await;
    for (body, param) in [
        (json!({"text": "", "platforms": ["x"]}), "text"),
        (json!({"text": "hi", "platforms": []}), "platforms"),
        (json!({"text": "hi", "platforms": ["myspace"]}), "platforms[0]"),
        (json!({"text": "hi", "platforms": ["x"], "variants": 6}), "variants"),
        (json!({"text": "hi", "platforms": ["x"], "hashtags": 31}), "hashtags"),
    ] {
        let (status, answer) = captions(server, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_eq!(answer["error"]["param"].as_str(), Some(param), "{body}: {}", message(&answer));
    }
    let (status, _) = captions(server, json!({"text": "hi", "platforms": ["x"], "hashtags": "many"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    // A draft longer than the model reads is fitted by rules, and the answer says why.
    let (status, answer) =
        captions(server, json!({"text": "Big launch today. ".repeat(3_600), "platforms": ["linkedin"]})).await;
    assert_eq!((status, answer["method"].as_str()), (StatusCode::OK, Some("rules")), "{answer}");
    assert!(answer["reason"].as_str().unwrap().contains("up to 3072"), "{answer}");
    assert_eq!(answer["variants"][0]["valid"], true);
    // The generator is not an encoder.
    let (status, answer) =
        post(server, "captions", "/v1/embeddings", json!({"input": "hi", "model": "smollm2-135m-instruct"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{answer}");
    assert!(message(&answer).contains("is a generator, not an encoder"), "{answer}");
}

#[tokio::test]
async fn grpc_streams_and_answers_like_rest() {
    let server = server().await;
    let mut client = CaptionsClient::connect(format!("http://{}", server.addr)).await.unwrap();
    let request = GenerateCaptionsRequest {
        text: DRAFT.into(),
        platforms: vec!["mastodon".into()],
        seed: Some(21),
        ..Default::default()
    };
    let mut stream = client.generate_stream(tenant(request.clone(), "captions")).await.unwrap().into_inner();
    let (mut texts, mut done) = (0, None);
    while let Some(event) = stream.next().await {
        match event.unwrap().event.unwrap() {
            caption_stream_event::Event::Text(_) => texts += 1,
            caption_stream_event::Event::Variant(_) => {}
            caption_stream_event::Event::Done(answer) => done = Some(answer),
        }
    }
    let done = done.unwrap();
    assert!(texts > 0 && done.method == "model");
    let unary = client.generate(tenant(request, "captions")).await.unwrap().into_inner();
    assert_eq!(unary.variants[0].text, done.variants[0].text, "the same seed over both calls");
    assert!(unary.variants[0].valid);
    let bad = GenerateCaptionsRequest { text: "hi".into(), platforms: vec!["myspace".into()], ..Default::default() };
    assert_eq!(client.generate(tenant(bad, "captions")).await.unwrap_err().code(), tonic::Code::InvalidArgument);
}

#[tokio::test]
async fn a_full_generation_queue_is_429_with_retry_after() {
    let server = start(&["--models", MODELS, "--max-generation-queue", "1"]);
    wait_ready(&server).await;
    let body =
        json!({"text": "Write a long announcement of our annual conference.", "platforms": ["facebook"], "seed": 1});
    let requests = (0..4).map(|_| {
        let request = reqwest::Client::new().post(server.url("/v1/captions:generate")).json(&body);
        async { request.send().await.unwrap() }
    });
    let responses = futures::future::join_all(requests).await;
    let refused: Vec<_> = responses.iter().filter(|r| r.status() == StatusCode::TOO_MANY_REQUESTS).collect();
    assert!(!refused.is_empty(), "{:?}", responses.iter().map(|r| r.status()).collect::<Vec<_>>());
    assert!(refused.iter().all(|r| r.headers().contains_key("retry-after")));
    assert!(responses.iter().all(|r| r.status() == StatusCode::OK || r.status() == StatusCode::TOO_MANY_REQUESTS));
    server.shutdown_and_wait();
}

#[tokio::test]
async fn without_the_model_captions_are_the_draft_fitted_by_rules() {
    let server = start(&["--models", "minilm-l6-v2,tweet-minilm-l6-v1-int8"]);
    wait_ready(&server).await;
    let long = format!("{} {}", "Our biggest sale of the year starts now, with deals on every shelf.".repeat(8), DRAFT);
    let (status, answer) =
        captions(&server, json!({"text": long, "platforms": ["x", "instagram"], "variants": 3})).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    assert_eq!(answer["method"], "rules");
    assert!(answer["reason"].as_str().unwrap().contains("smollm2-135m-instruct"), "{answer}");
    for variant in answer["variants"].as_array().unwrap() {
        assert_fits_and_keeps_the_draft(variant);
        assert_eq!(variant["origin"], "fitted_draft");
    }
    server.shutdown_and_wait();
}
