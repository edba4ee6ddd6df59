//! Text intelligence and the moderation gate against a real server on the trained model, over
//! REST (our schema, OpenAI's and Perspective's) and gRPC.

mod common;

use common::{shared, start, wait_ready};
use eiq_proto::v1::text_intelligence_client::TextIntelligenceClient;
use eiq_proto::v1::{self as pb, gate_request};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tonic::Code;
use tonic::transport::Channel;

async fn post(path: &str, body: Value) -> (StatusCode, Value) {
    shared().await.post_json(path, &body).await
}

async fn grpc() -> TextIntelligenceClient<Channel> {
    let server = shared().await;
    TextIntelligenceClient::connect(format!("http://{}", server.addr)).await.unwrap()
}

/// The default text model: the fine-tuned encoder on ONNX Runtime.
const TEXT_MODEL: &str = "tweet-minilm-l6-v1-int8";

fn score(value: &Value) -> f64 {
    value.as_f64().unwrap()
}

#[tokio::test]
async fn analyze_answers_every_task_with_probabilities_and_provenance() {
    let inputs = [
        "I absolutely love this new phone, best purchase all year!",
        "This is the worst customer service I have ever had. Never again.",
        "shut up you stupid fucking idiot",
    ];
    let (status, body) = post("/v1/analyze", json!({"inputs": inputs})).await;
    assert_eq!(status, 200, "{body}");
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    let labels = [
        ("sentiment", vec!["negative", "neutral", "positive"]),
        ("emotion", vec!["anger", "joy", "optimism", "sadness"]),
        ("offensive", vec!["not-offensive", "offensive"]),
        ("hate", vec!["not-hate", "hate"]),
        ("irony", vec!["non_irony", "irony"]),
    ];
    for result in results {
        for (task, names) in &labels {
            let scores = result[task]["scores"].as_object().unwrap();
            assert_eq!(
                scores.keys().map(String::as_str).collect::<std::collections::BTreeSet<_>>(),
                names.iter().copied().collect()
            );
            let total: f64 = scores.values().map(score).sum();
            assert!((total - 1.0).abs() < 1e-4, "{task}: probabilities sum to {total}");
            let label = result[task]["label"].as_str().unwrap();
            let best = scores.iter().max_by(|a, b| score(a.1).total_cmp(&score(b.1))).unwrap().0;
            assert_eq!(label, best, "{task}: the label is the most probable one");
        }
    }
    assert_eq!(results[0]["sentiment"]["label"], "positive");
    assert_eq!(results[0]["emotion"]["label"], "joy");
    assert_eq!(results[1]["sentiment"]["label"], "negative");
    assert_eq!(results[2]["offensive"]["label"], "offensive");
    assert!(score(&results[2]["offensive"]["scores"]["offensive"]) > 0.8);
    assert!(score(&results[0]["offensive"]["scores"]["offensive"]) < 0.2);
    // Profanity spans in code points, with the text they cover.
    let spans = results[2]["spans"].as_array().unwrap();
    assert!(spans.iter().any(|s| s["category"] == "profanity" && s["text"] == "fucking"), "{spans:?}");
    assert!(results[0]["spans"].as_array().unwrap().is_empty());

    for (task, _) in &labels {
        let model = &body["models"][task];
        assert_eq!(model["model"], TEXT_MODEL);
        assert_eq!(model["version"].as_str().unwrap().len(), 12);
        // The int8 variant's own validation scores, measured on its own vectors.
        assert_eq!(model["precision"], "int8");
        assert!(model["method"].as_str().unwrap().contains("int8"), "{task}: {model}");
        assert!(score(&model["validation"]) > 0.5, "{task}: {model}");
    }

    let (_, only) = post("/v1/analyze", json!({"inputs": "just one", "tasks": ["sentiment"]})).await;
    assert_eq!(only["results"][0].as_object().unwrap().keys().collect::<Vec<_>>(), ["sentiment", "spans"]);
    assert_eq!(only["models"].as_object().unwrap().len(), 1);
}

#[tokio::test]
async fn analyze_refuses_bad_input_clearly() {
    let cases = [
        (json!({"inputs": []}), 422, "at least one text"),
        (json!({"inputs": ["ok", " "]}), 422, "inputs[1] is empty"),
        (json!({"inputs": "x", "tasks": ["toxicity"]}), 422, "unknown task `toxicity`"),
        (json!({"inputs": "x", "tasks": []}), 422, "at least one task"),
        (json!({"inputs": [1, 2]}), 422, "token array"),
        (json!({"input": "x"}), 422, "unknown field"),
    ];
    for (body, status, needle) in cases {
        let (got, answer) = post("/v1/analyze", body.clone()).await;
        assert_eq!(got.as_u16(), status, "{body} -> {answer}");
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{body}: {message}");
    }
}

#[tokio::test]
async fn moderations_follow_openai_and_never_claim_unbacked_categories() {
    let (status, body) = post(
        "/v1/moderations",
        json!({"input": ["have a lovely day", {"type": "text", "text": "you are a worthless piece of shit"}], "model": "omni-moderation-latest"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(body["id"].as_str().unwrap().starts_with("modr-"));
    assert!(body["model"].as_str().unwrap().starts_with(&format!("{TEXT_MODEL}@")));
    let results = body["results"].as_array().unwrap();
    assert_eq!(results.len(), 2);
    for result in results {
        for map in ["categories", "category_scores", "category_applied_input_types"] {
            assert_eq!(result[map].as_object().unwrap().len(), 13, "{map}");
        }
        for unbacked in ["self-harm", "sexual/minors", "violence", "illicit", "harassment/threatening"] {
            assert_eq!(result["categories"][unbacked], false);
            assert_eq!(result["category_scores"][unbacked], 0.0);
            assert_eq!(result["category_applied_input_types"][unbacked], json!([]));
        }
        assert_eq!(result["category_applied_input_types"]["harassment"], json!(["text"]));
    }
    assert_eq!(results[0]["flagged"], false);
    assert_eq!(results[1]["flagged"], true);
    assert_eq!(results[1]["categories"]["harassment"], true);

    let (status, image) =
        post("/v1/moderations", json!({"input": [{"type": "image_url", "image_url": {"url": "x"}}]})).await;
    assert_eq!(status, 422);
    assert!(image["error"]["message"].as_str().unwrap().contains("text only"));
}

#[tokio::test]
async fn perspective_requests_get_perspective_answers_and_errors() {
    let text = "what a load of crap, you moron";
    let (status, body) = post(
        "/v1alpha1/comments:analyze",
        json!({
            "comment": {"text": text, "type": "PLAIN_TEXT"},
            "requestedAttributes": {"TOXICITY": {}, "PROFANITY": {"scoreType": "PROBABILITY"}, "IDENTITY_ATTACK": {}},
            "languages": ["en"], "doNotStore": true, "spanAnnotations": true, "clientToken": "t-1"
        }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["clientToken"], "t-1");
    assert_eq!(body["languages"], json!(["en"]));
    let toxicity = &body["attributeScores"]["TOXICITY"];
    assert!(score(&toxicity["summaryScore"]["value"]) > 0.5, "{body}");
    assert_eq!(toxicity["summaryScore"]["type"], "PROBABILITY");
    let profanity = &body["attributeScores"]["PROFANITY"];
    assert_eq!(score(&profanity["summaryScore"]["value"]), 1.0);
    let span = &profanity["spanScores"][0];
    assert_eq!((span["begin"].as_u64().unwrap(), span["end"].as_u64().unwrap()), (15, 19), "`crap`");
    assert!(body["attributeScores"]["IDENTITY_ATTACK"].is_object());

    // UTF-16 offsets, as Perspective's: the emoji counts two.
    let (_, emoji) = post(
        "/v1alpha1/comments:analyze",
        json!({"comment": {"text": "🎉 shit"}, "requestedAttributes": {"PROFANITY": {}}, "spanAnnotations": true}),
    )
    .await;
    assert_eq!(emoji["attributeScores"]["PROFANITY"]["spanScores"][0]["begin"], 3);

    let errors = [
        (
            json!({"comment": {"text": "hi"}, "requestedAttributes": {"INSULT": {}}}),
            "TOXICITY, IDENTITY_ATTACK, PROFANITY",
        ),
        (json!({"comment": {"text": ""}, "requestedAttributes": {"TOXICITY": {}}}), "non-empty"),
        (json!({"comment": {"text": "hi"}, "requestedAttributes": {}}), "Missing requested_attributes"),
        (
            json!({"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {}}, "languages": ["de"]}),
            "languages: de",
        ),
        (json!({"comment": {"text": "hi", "type": "HTML"}, "requestedAttributes": {"TOXICITY": {}}}), "PLAIN_TEXT"),
        (
            json!({"comment": {"text": "hi"}, "requestedAttributes": {"TOXICITY": {"scoreType": "RAW"}}}),
            "score type RAW",
        ),
        (json!({"requestedAttributes": {"TOXICITY": {}}}), "comment"),
    ];
    for (request, needle) in errors {
        let (status, body) = post("/v1alpha1/comments:analyze", request.clone()).await;
        assert_eq!(status, 400, "{request} -> {body}");
        assert_eq!(body["error"]["code"], 400);
        assert_eq!(body["error"]["status"], "INVALID_ARGUMENT");
        assert!(body["error"]["message"].as_str().unwrap().contains(needle), "{request}: {body}");
    }
    let (status, dropped) = post(
        "/v1alpha1/comments:analyze",
        json!({"comment": {"text": "hi"}, "requestedAttributes": {"INSULT": {}, "TOXICITY": {}}, "dropUnsupportedAttributes": true}),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(dropped["attributeScores"].as_object().unwrap().keys().collect::<Vec<_>>(), ["TOXICITY"]);
}

#[tokio::test]
async fn the_gate_allows_reviews_and_blocks_with_reasons() {
    let (status, clean) =
        post("/v1/moderation/gate", json!({"text": "Our spring sale starts Friday! 🌸", "platform": "instagram"}))
            .await;
    assert_eq!(status, 200, "{clean}");
    assert_eq!(clean["decision"], "allow");
    assert_eq!(clean["policy"], "default");
    assert_eq!(clean["platform"], "instagram");
    assert!(clean["reasons"].as_array().unwrap().is_empty());
    for category in ["offensive", "hate", "irony", "profanity", "sentiment.negative", "emotion.anger"] {
        assert!(clean["scores"][category].is_number(), "{category} missing from {clean}");
    }

    let (_, abusive) = post("/v1/moderation/gate", json!({"text": "you are a stupid fucking idiot"})).await;
    assert_ne!(abusive["decision"], "allow", "{abusive}");
    let reasons = abusive["reasons"].as_array().unwrap();
    let offensive = reasons.iter().find(|r| r["category"] == "offensive").expect("offensive reason");
    assert_eq!(offensive["model"], TEXT_MODEL);
    assert!(score(&offensive["score"]) >= score(&offensive["threshold"]));
    assert!(reasons.iter().any(|r| r["category"] == "profanity" && r["model"] == "profanity-wordlist"));
    assert!(abusive["spans"].as_array().unwrap().iter().any(|s| s["text"] == "fucking"));

    let policy = json!({
        "thresholds": {"offensive": {"review": 0.99, "block": 1.0}},
        "blocklist": ["competitorco", "pills"],
        "allowlist": ["vitamin pills"]
    });
    let (_, blocked) =
        post("/v1/moderation/gate", json!({"text": "Switch from C0mpetit0rC0 today", "policy": policy})).await;
    assert_eq!(blocked["decision"], "block", "{blocked}");
    assert_eq!(blocked["policy"], "inline");
    assert_eq!(blocked["reasons"][0]["category"], "blocklist");
    assert_eq!(blocked["spans"][0]["text"], "C0mpetit0rC0");
    // The allowlist wins over the blocklist where they overlap, and only there.
    let (_, allowed) =
        post("/v1/moderation/gate", json!({"text": "Our Vitamin Pills are back in stock", "policy": policy})).await;
    assert_eq!(allowed["decision"], "allow", "{allowed}");
    let (_, pills) = post("/v1/moderation/gate", json!({"text": "cheap pills here", "policy": policy})).await;
    assert_eq!(pills["decision"], "block", "{pills}");
}

#[tokio::test]
async fn malformed_policies_are_422_naming_the_field() {
    let cases = [
        (
            json!({"thresholds": {"offensive": {"review": 1.5}}}),
            "policy.thresholds.offensive.review: 1.5 is outside [0, 1]",
        ),
        (json!({"thresholds": {"offensive": {"review": -0.1}}}), "outside [0, 1]"),
        (json!({"thresholds": {"offensive": {"review": 0.9, "block": 0.2}}}), "must not exceed"),
        (json!({"thresholds": {"nudity": {"review": 0.5}}}), "policy.thresholds.nudity: unknown category"),
        (json!({"thresholds": {"hate": {"review": "high"}}}), "policy.thresholds.hate.review"),
        (json!({"thresholds": {"hate": {"revew": 0.5}}}), "unknown field `revew`"),
        (json!({"blocklist": "spam"}), "policy.blocklist"),
        (json!({"blocklist": ["!!!"]}), "policy.blocklist[0]"),
        (json!("lenient"), "no policy named `lenient`"),
        (json!(42), "policy name or a policy object"),
    ];
    for (policy, needle) in cases {
        let (status, body) = post("/v1/moderation/gate", json!({"text": "hello", "policy": policy})).await;
        assert_eq!(status, 422, "{policy} -> {body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(needle), "{policy}: {message}");
    }
    let (status, _) = post("/v1/moderation/gate", json!({"text": "  "})).await;
    assert_eq!(status, 422);
}

#[tokio::test]
async fn the_gate_fails_closed_when_the_model_does_not_answer_in_time() {
    // The model is busy with a thousand texts queued ahead (one forward pass alone takes longer
    // than 5 ms); a post given 5 ms must go to review. The backlog is short texts, so that it is
    // answered within the analysis deadline on a slow machine too.
    let server = start(&["--gate-timeout-ms", "5", "--vector-cache", "0"]);
    wait_ready(&server).await;
    let client = reqwest::Client::new();
    let backlog: Vec<String> = (0..1024).map(|i| format!("queued post number {i} with some words to encode")).collect();
    let busy = tokio::spawn(client.post(server.url("/v1/analyze")).json(&json!({"inputs": backlog})).send());
    // Wait until the backlog is in the model's queue.
    let queued = format!("eiq_queue_texts{{model=\"{TEXT_MODEL}\"}}");
    for _ in 0..200 {
        let metrics = client.get(server.url("/metrics")).send().await.unwrap().text().await.unwrap();
        let depth = metrics.lines().find(|l| l.starts_with(&queued)).and_then(|l| l.rsplit(' ').next()?.parse().ok());
        if depth.is_some_and(|d: f64| d > 500.0) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    let gate = |text: &str, policy: Value| {
        client.post(server.url("/v1/moderation/gate")).json(&json!({"text": text, "policy": policy})).send()
    };
    let body: Value = gate("Lovely weather today", json!("default")).await.unwrap().json().await.unwrap();
    assert_eq!(body["decision"], "review", "{body}");
    assert_eq!(body["reasons"][0]["category"], "model_unavailable");
    assert!(body["reasons"][0]["detail"].as_str().unwrap().contains("within 5 ms"), "{body}");
    // Word lists still run: a blocklisted post is blocked, not merely reviewed.
    let body: Value =
        gate("buy cheap pills", json!({"blocklist": ["cheap pills"]})).await.unwrap().json().await.unwrap();
    assert_eq!(body["decision"], "block", "{body}");
    assert_eq!(busy.await.unwrap().unwrap().status(), 200, "the backlog itself is answered");
    server.shutdown_and_wait();
}

#[tokio::test]
async fn the_gate_fails_closed_when_the_model_failed_to_load() {
    let empty_cache = tempfile::tempdir().unwrap();
    let cache = empty_cache.path().to_str().unwrap();
    let server = start(&["--models-dir", cache, "--models", TEXT_MODEL, "--default-model", TEXT_MODEL]);
    let client = reqwest::Client::new();
    // Loading fails at once (nothing is fetched); wait until the server says so.
    for _ in 0..100 {
        let models: Value = client.get(server.url("/v1/models")).send().await.unwrap().json().await.unwrap();
        if models["data"][0]["state"].as_str().unwrap().starts_with("failed") {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let (_, body) = server.post_json("/v1/moderation/gate", &json!({"text": "Lovely weather today"})).await;
    assert_eq!(body["decision"], "review", "{body}");
    assert_eq!(body["reasons"][0]["category"], "model_unavailable");
    assert!(body["reasons"][0]["detail"].as_str().unwrap().contains("eiq models fetch"), "{body}");
    server.shutdown_and_wait();
}

#[tokio::test]
async fn grpc_analyze_and_gate_match_rest() {
    let mut client = grpc().await;
    let analysis = client
        .analyze(pb::AnalyzeRequest { inputs: vec!["I love this!".into()], tasks: vec!["sentiment".into()] })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(analysis.model, TEXT_MODEL);
    assert_eq!(analysis.precision, "int8");
    assert_eq!(analysis.results[0].tasks[0].label, "positive");
    assert_eq!(analysis.heads[0].task, "sentiment");
    let (_, rest) = post("/v1/analyze", json!({"inputs": "I love this!", "tasks": ["sentiment"]})).await;
    let rest_positive = score(&rest["results"][0]["sentiment"]["scores"]["positive"]) as f32;
    let grpc_positive = analysis.results[0].tasks[0].scores.iter().find(|s| s.label == "positive").unwrap().score;
    assert!((rest_positive - grpc_positive).abs() < 1e-6);

    let inline = pb::Policy { blocklist: vec!["competitorco".into()], ..Default::default() };
    let verdict = client
        .gate(pb::GateRequest {
            text: "try competitorco instead".into(),
            platform: "x".into(),
            policy: Some(gate_request::Policy::InlinePolicy(inline)),
            account_id: String::new(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(verdict.decision(), pb::Decision::Block);
    assert_eq!(verdict.policy, "inline");
    assert_eq!(verdict.spans[0].text, "competitorco");

    let bad = pb::Policy {
        thresholds: [("hate".to_string(), pb::Thresholds { review: Some(2.0), block: None })].into(),
        ..Default::default()
    };
    let err = client
        .gate(pb::GateRequest {
            text: "hello".into(),
            platform: String::new(),
            policy: Some(gate_request::Policy::InlinePolicy(bad)),
            account_id: String::new(),
        })
        .await
        .unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(err.message().contains("policy.thresholds.hate.review"), "{}", err.message());
    let err = client.analyze(pb::AnalyzeRequest { inputs: vec![], tasks: vec![] }).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn hostile_and_concurrent_text_requests_never_get_a_5xx() {
    let server = shared().await;
    let client = reqwest::Client::new();
    let long_text = "f u c k 🔥 ".repeat(20_000);
    let huge_blocklist: Vec<String> = (0..10_001).map(|i| format!("word{i}")).collect();
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("/v1/analyze", serde_json::to_vec(&json!({"inputs": [long_text.clone(), "ok"]})).unwrap()),
        ("/v1/analyze", br#"{"inputs": "\ud800 lone surrogate"}"#.to_vec()),
        ("/v1/analyze", serde_json::to_vec(&json!({"inputs": ["\u{0}\u{200b}\u{feff}"], "tasks": ["sentiment"]})).unwrap()),
        ("/v1/analyze", vec![0xff; 512]),
        ("/v1/moderations", serde_json::to_vec(&json!({"input": [{"type": "text"}]})).unwrap()),
        ("/v1/moderations", serde_json::to_vec(&json!({"input": null})).unwrap()),
        ("/v1alpha1/comments:analyze", serde_json::to_vec(&json!({"comment": {"text": long_text.clone()}, "requestedAttributes": {"PROFANITY": {}}, "spanAnnotations": true})).unwrap()),
        ("/v1alpha1/comments:analyze", b"{\"comment\": 7}".to_vec()),
        ("/v1/moderation/gate", serde_json::to_vec(&json!({"text": long_text, "policy": {"blocklist": ["f u c k"]}})).unwrap()),
        ("/v1/moderation/gate", serde_json::to_vec(&json!({"text": "x", "policy": {"blocklist": huge_blocklist}})).unwrap()),
        ("/v1/moderation/gate", serde_json::to_vec(&json!({"text": "x", "policy": {"thresholds": {"hate": {"review": null}}}})).unwrap()),
        ("/v1/moderation/gate", serde_json::to_vec(&json!({"text": "x", "policy": "../../etc/passwd"})).unwrap()),
    ];
    let requests = (0..120).map(|i| {
        let (path, body) = cases[i % cases.len()].clone();
        client.post(server.url(path)).header("content-type", "application/json").body(body).send()
    });
    for (i, response) in futures::future::join_all(requests).await.into_iter().enumerate() {
        let response = response.unwrap();
        let status = response.status();
        assert!(!status.is_server_error(), "case {} ({}): {status}", i % cases.len(), cases[i % cases.len()].0);
        let body: Value = response.json().await.unwrap();
        assert!(status.is_success() || body["error"]["message"].is_string(), "{body}");
    }
    assert_eq!(reqwest::get(server.url("/ready")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn without_the_text_model_analysis_is_503_and_the_gate_reviews() {
    let server = start(&["--models", "minilm-l6-v2"]);
    wait_ready(&server).await;
    let (status, body) = server.post_json("/v1/analyze", &json!({"inputs": "hello"})).await;
    assert_eq!(status, 503);
    assert!(body["error"]["message"].as_str().unwrap().contains("add it to --models"), "{body}");
    let (_, gate) = server.post_json("/v1/moderation/gate", &json!({"text": "hello"})).await;
    assert_eq!(gate["decision"], "review", "{gate}");
    assert_eq!(gate["reasons"][0]["category"], "model_unavailable");
    server.shutdown_and_wait();
}

#[tokio::test]
async fn a_post_checked_again_comes_from_the_vector_cache_with_the_same_answer() {
    let server = shared().await;
    let body = json!({"text": "Scheduling this one for Friday 9am, cache test 7f3a", "platform": "x"});
    let (_, first) = post("/v1/moderation/gate", body.clone()).await;
    let hits = || async {
        let metrics = reqwest::get(server.url("/metrics")).await.unwrap().text().await.unwrap();
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("eiq_vector_cache_hits_total{{model=\"{TEXT_MODEL}\"}}")))
            .map_or(0.0, |l| l.rsplit(' ').next().unwrap().parse::<f64>().unwrap())
    };
    let before = hits().await;
    let (_, second) = post("/v1/moderation/gate", body).await;
    assert_eq!(first, second);
    assert!(hits().await >= before + 1.0, "the second check should be a cache hit");
}
