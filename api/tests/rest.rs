//! REST against a real server on the real models, through a real HTTP client.

mod common;

use std::time::Duration;

use base64::Engine;
use common::{cosine, shared, start, wait_ready};
use reqwest::StatusCode;
use serde_json::{Value, json};

async fn post(path: &str, body: Value) -> (StatusCode, Value) {
    shared().await.post_json(path, &body).await
}

fn vector(value: &Value) -> Vec<f32> {
    value.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

#[tokio::test]
async fn embeddings_follow_the_openai_schema() {
    let (status, body) =
        post("/v1/embeddings", json!({"input": ["hello world", "Launch day! 🚀"], "model": "minilm-l6-v2"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["object"], "list");
    assert_eq!(body["model"], "minilm-l6-v2");
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for (index, item) in data.iter().enumerate() {
        assert_eq!(item["object"], "embedding");
        assert_eq!(item["index"], index);
        let v = vector(&item["embedding"]);
        assert_eq!(v.len(), 384);
        assert!((v.iter().map(|x| x * x).sum::<f32>().sqrt() - 1.0).abs() < 1e-4);
    }
    // "hello world" is [CLS] hello world [SEP]: 4 tokens.
    let (_, single) = post("/v1/embeddings", json!({"input": "hello world"})).await;
    assert_eq!(single["usage"]["prompt_tokens"], 4);
    assert_eq!(single["usage"]["total_tokens"], 4);
    assert_eq!(single["model"], "minilm-l6-v2", "the default model");
    // all-MiniLM-L6-v2's published vector for "hello world" starts -0.0345, 0.0310, 0.0067.
    let hello = vector(&single["data"][0]["embedding"]);
    for (got, want) in hello.iter().zip([-0.034_477_3, 0.031_023_2, 0.006_734_9]) {
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }
}

#[tokio::test]
async fn base64_encoding_carries_the_same_floats() {
    let input = json!({"input": ["the same text"], "model": "minilm-l6-v2"});
    let (_, floats) = post("/v1/embeddings", input.clone()).await;
    let mut b64_request = input;
    b64_request["encoding_format"] = json!("base64");
    let (status, encoded) = post("/v1/embeddings", b64_request).await;
    assert_eq!(status, 200);
    let bytes =
        base64::engine::general_purpose::STANDARD.decode(encoded["data"][0]["embedding"].as_str().unwrap()).unwrap();
    let decoded: Vec<f32> = bytes.chunks_exact(4).map(|c| f32::from_le_bytes(c.try_into().unwrap())).collect();
    assert_eq!(decoded, vector(&floats["data"][0]["embedding"]));
}

#[tokio::test]
async fn every_served_model_answers_and_they_agree() {
    let text = "Our spring collection drops Friday, who's ready? #fashion";
    let (_, candle) = post("/v1/embeddings", json!({"input": text, "model": "minilm-l6-v2"})).await;
    let candle = vector(&candle["data"][0]["embedding"]);
    for (model, bound) in [("minilm-l6-v2-onnx", 0.99999), ("minilm-l6-v2-int8", 0.995)] {
        let (status, answer) = post("/v1/embeddings", json!({"input": text, "model": model})).await;
        assert_eq!(status, 200, "{answer}");
        assert_eq!(answer["model"], model);
        let similarity = cosine(&candle, &vector(&answer["data"][0]["embedding"]));
        assert!(similarity > bound, "{model}: {similarity}");
    }
}

#[tokio::test]
async fn client_mistakes_get_clear_4xx_answers() {
    let too_many: Vec<String> = (0..2049).map(|i| format!("post {i}")).collect();
    let cases = [
        (json!({"input": []}), 422, "at least one text"),
        (json!({"input": ["fine", ""]}), 422, "input[1] is empty"),
        (json!({"input": "   "}), 422, "input[0] is empty"),
        (json!({"input": too_many}), 422, "at most 2048"),
        (json!({"input": [[101, 102]]}), 422, "token array"),
        (json!({"input": 42}), 422, "string or an array of strings"),
        (json!({"model": "minilm-l6-v2"}), 422, "missing field `input`"),
        (json!({"input": "x", "encoding_format": "int8"}), 422, "encoding_format"),
        (json!({"input": "x", "dimensions": 128}), 422, "384 dimensions"),
        (json!({"input": "x", "model": "gpt-5"}), 404, "gpt-5"),
    ];
    for (body, status, needle) in cases {
        let (got, answer) = post("/v1/embeddings", body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body} -> {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
        assert!(answer["error"]["type"].is_string() && answer["error"]["code"].is_string());
    }
}

#[tokio::test]
async fn malformed_oversized_and_non_json_bodies_are_refused() {
    let server = shared().await;
    let client = reqwest::Client::new();
    let send = |body: Vec<u8>, content_type: &'static str| {
        client.post(server.url("/v1/embeddings")).header("content-type", content_type).body(body).send()
    };
    let broken = send(b"{\"input\": [\"unterminated".to_vec(), "application/json").await.unwrap();
    assert_eq!(broken.status(), 400);
    let non_utf8 = send(vec![b'{', 0xff, 0xfe, b'}'], "application/json").await.unwrap();
    assert_eq!(non_utf8.status(), 400);
    let not_json = send(b"input=hello".to_vec(), "application/x-www-form-urlencoded").await.unwrap();
    assert_eq!(not_json.status(), 415);
    let huge = serde_json::to_vec(&json!({"input": "a".repeat(3 * 1024 * 1024)})).unwrap();
    let too_large = send(huge, "application/json").await.unwrap();
    assert_eq!(too_large.status(), 413);
    let body: Value = too_large.json().await.unwrap();
    assert_eq!(body["error"]["code"], "body_too_large");
    // The server is still healthy afterwards (on a new connection: after a 413 the server may
    // close the one whose body it refused to read).
    assert_eq!(reqwest::get(server.url("/health")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn concurrent_requests_batch_together_without_mixing_results() {
    let texts: Vec<String> =
        include_str!("../../datasets/tweeteval/sentiment/val_text.txt").lines().take(64).map(String::from).collect();
    let (_, sequential) = post("/v1/embeddings", json!({"input": texts, "model": "minilm-l6-v2"})).await;
    // A trailing space tokenizes the same but is another text to the vector cache, so these are
    // computed again, in batches formed from concurrent requests.
    let requests =
        texts.iter().map(|text| post("/v1/embeddings", json!({"input": format!("{text} "), "model": "minilm-l6-v2"})));
    let answers = futures::future::join_all(requests).await;
    for (index, (status, answer)) in answers.iter().enumerate() {
        assert_eq!(*status, 200);
        let alone = vector(&answer["data"][0]["embedding"]);
        let together = vector(&sequential["data"][index]["embedding"]);
        let delta = alone.iter().zip(&together).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        assert!(delta < 1e-5, "text {index} differs by {delta}");
    }
}

#[tokio::test]
async fn models_health_readiness_metrics_and_openapi() {
    let server = shared().await;
    let client = reqwest::Client::new();
    let get = |path: &str| client.get(server.url(path)).send();

    let models: Value = get("/v1/models").await.unwrap().json().await.unwrap();
    let ids: Vec<&str> = models["data"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(
        ids,
        [
            "minilm-l6-v2",
            "minilm-l6-v2-int8",
            "minilm-l6-v2-onnx",
            "ppocr-v4",
            "smollm2-135m-instruct",
            "tweet-minilm-l6-v1-int8"
        ]
    );
    let precisions: Vec<&str> =
        models["data"].as_array().unwrap().iter().map(|m| m["precision"].as_str().unwrap()).collect();
    assert_eq!(precisions, ["f32", "int8", "f32", "f32", "int8", "int8"]);
    let (ocr, generator) = (&models["data"][3], &models["data"][4]);
    assert_eq!((ocr["task"].as_str(), ocr["backend"].as_str()), (Some("ocr"), Some("onnx")));
    assert_eq!((generator["task"].as_str(), generator["backend"].as_str()), (Some("generation"), Some("gguf")));
    // The OCR weights are PaddleOCR's (Apache-2.0) in an MIT-licensed package.
    assert_eq!(ocr["licence"], "Apache-2.0 AND MIT");
    assert!(
        models["data"]
            .as_array()
            .unwrap()
            .iter()
            .all(|m| m["state"] == "ready" && (m["licence"] == "Apache-2.0" || m["id"] == "ppocr-v4"))
    );
    assert_eq!(get("/health").await.unwrap().status(), 200);
    assert_eq!(get("/ready").await.unwrap().status(), 200);

    post("/v1/embeddings", json!({"input": "count me"})).await;
    post("/v1/embeddings", json!({"input": "x", "model": "invented-by-a-client"})).await;
    let metrics = get("/metrics").await.unwrap().text().await.unwrap();
    assert!(!metrics.contains("invented-by-a-client"), "client-chosen names must not become metric labels");
    assert!(metrics.contains("eiq_embedding_requests_total{model=\"unknown\",outcome=\"error\"}"));
    for name in [
        "eiq_requests_total",
        "eiq_request_seconds_bucket",
        "eiq_embedding_requests_total{model=\"minilm-l6-v2\",outcome=\"ok\"}",
        "eiq_embedding_request_seconds_bucket",
        "eiq_queue_texts{model=\"minilm-l6-v2\"}",
        "eiq_batch_size_bucket",
        "eiq_batch_padded_tokens_bucket",
    ] {
        assert!(metrics.contains(name), "{name} missing from /metrics");
    }

    let openapi: Value = get("/openapi.json").await.unwrap().json().await.unwrap();
    for path in [
        "/v1/embeddings",
        "/v1/models",
        "/v1/analyze",
        "/v1/moderations",
        "/v1alpha1/comments:analyze",
        "/v1/moderation/gate",
        "/health",
        "/ready",
        "/metrics",
    ] {
        assert!(openapi["paths"][path].is_object(), "{path} missing from the OpenAPI document");
    }
    assert!(openapi["components"]["schemas"]["EmbeddingRequest"].is_object());
}

#[tokio::test]
async fn a_full_queue_answers_429_with_retry_after() {
    let server = start(&["--max-queue", "1", "--models", "minilm-l6-v2"]);
    wait_ready(&server).await;
    let response = reqwest::Client::new()
        .post(server.url("/v1/embeddings"))
        .json(&json!({"input": ["one", "two"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 429);
    assert_eq!(response.headers()["retry-after"], "1");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "queue_full");
    server.shutdown_and_wait();
}

#[tokio::test]
async fn missing_model_files_mean_not_ready_and_503_with_the_fix() {
    let empty_cache = tempfile::tempdir().unwrap();
    let server = start(&["--models-dir", empty_cache.path().to_str().unwrap(), "--models", "minilm-l6-v2"]);
    let client = reqwest::Client::new();
    let mut ready = client.get(server.url("/ready")).send().await.unwrap();
    for _ in 0..100 {
        let body: Value = ready.json().await.unwrap();
        if body["status"] == "failed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        ready = client.get(server.url("/ready")).send().await.unwrap();
    }
    let response = client.post(server.url("/v1/embeddings")).json(&json!({"input": "hi"})).send().await.unwrap();
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("eiq models fetch minilm-l6-v2"), "{message}");
    server.shutdown_and_wait();
}

#[tokio::test]
async fn shutdown_drains_requests_already_in_flight() {
    let server = start(&["--models", "minilm-l6-v2"]);
    wait_ready(&server).await;
    let texts: Vec<String> =
        (0..512).map(|i| format!("post number {i} about our product launch and pricing")).collect();
    let request = reqwest::Client::new().post(server.url("/v1/embeddings")).json(&json!({"input": texts})).send();
    let in_flight = tokio::spawn(request);
    tokio::time::sleep(Duration::from_millis(100)).await;
    tokio::task::spawn_blocking(move || server.shutdown_and_wait());
    let response = in_flight.await.unwrap().unwrap();
    assert_eq!(response.status(), 200);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["data"].as_array().unwrap().len(), 512);
}

#[tokio::test]
async fn a_concurrent_mix_of_good_and_hostile_requests_never_gets_a_5xx() {
    let server = shared().await;
    let client = reqwest::Client::new();
    let url = server.url("/v1/embeddings");
    let long_text = "🔥".repeat(20_000);
    let bodies: Vec<(Vec<u8>, &str)> = vec![
        (serde_json::to_vec(&json!({"input": "a normal post"})).unwrap(), "application/json"),
        (serde_json::to_vec(&json!({"input": [long_text.clone(), "x"]})).unwrap(), "application/json"),
        (serde_json::to_vec(&json!({"input": ["\u{0}\u{200b}\u{feff}", "ok"]})).unwrap(), "application/json"),
        (br#"{"input": "\ud800"}"#.to_vec(), "application/json"),
        (br#"{"input": {"nested": true}}"#.to_vec(), "application/json"),
        (vec![0xff; 1024], "application/json"),
        (b"[]".to_vec(), "application/json"),
        (b"null".to_vec(), "application/json"),
        (serde_json::to_vec(&json!({"input": "x", "model": "../../etc/passwd"})).unwrap(), "application/json"),
        (serde_json::to_vec(&json!({"input": "x", "encoding_format": null})).unwrap(), "application/json"),
    ];
    let requests = (0..200).map(|i| {
        let (body, content_type) = bodies[i % bodies.len()].clone();
        client.post(&url).header("content-type", content_type).body(body).send()
    });
    for (i, response) in futures::future::join_all(requests).await.into_iter().enumerate() {
        let response = response.unwrap();
        let status = response.status();
        assert!(!status.is_server_error(), "request kind {}: {status}", i % bodies.len());
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success() || body["error"]["message"].is_string(), "{body}");
    }
    assert_eq!(reqwest::get(server.url("/ready")).await.unwrap().status(), 200);
}

/// The assistant page: its files, with a policy that keeps scripts and requests to this origin,
/// gzipped when asked, revalidated by entity tag; anything else under `/page/` is a short 404.
#[tokio::test]
async fn the_page_is_served_compressed_revalidated_and_locked_down() {
    let server = shared().await;
    let client = reqwest::Client::builder().no_gzip().build().unwrap();
    let page = client.get(server.url("/")).header("accept-encoding", "gzip").send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let headers = page.headers().clone();
    assert_eq!(headers["content-encoding"], "gzip");
    assert!(headers["content-type"].to_str().unwrap().starts_with("text/html"));
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.contains("script-src 'self'") && policy.contains("frame-ancestors 'none'"), "{policy}");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    let zipped = page.bytes().await.unwrap();
    let mut html = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&zipped[..]), &mut html).unwrap();
    assert!(html.contains(r#"<script type="module" src="/page/app.js">"#));

    // Every file the page names is served, with its type; unchanged files cost a 304.
    for (file, kind) in [("app.js", "text/javascript"), ("style.css", "text/css")] {
        let answer = client.get(server.url(&format!("/page/{file}"))).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK, "{file}");
        assert!(answer.headers()["content-type"].to_str().unwrap().starts_with(kind), "{file}");
        assert!(answer.headers().get("content-encoding").is_none(), "gzip only when asked");
        let etag = answer.headers()["etag"].clone();
        let again =
            client.get(server.url(&format!("/page/{file}"))).header("if-none-match", etag).send().await.unwrap();
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{file}");
    }
    for module in ["api.js", "dom.js", "composer.js", "captions.js", "image.js", "timing.js", "publishing.js"] {
        let status = client.get(server.url(&format!("/page/{module}"))).send().await.unwrap().status();
        assert_eq!(status, StatusCode::OK, "{module}");
    }

    // Unknown, traversing and huge names: a 404 that echoes at most a short prefix.
    for name in ["nothing.js", "..%2F..%2Fetc%2Fpasswd", &"a".repeat(5_000)] {
        let answer = client.get(server.url(&format!("/page/{name}"))).send().await.unwrap();
        assert_eq!(answer.status(), StatusCode::NOT_FOUND, "{}", &name[..20.min(name.len())]);
        let body: Value = answer.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.len() < 100 && !message.contains("passwd"), "{message}");
    }
}
