//! Publishing with approval against real servers and a real webhook receiver: the lifecycle over
//! REST and gRPC, quotas, signed deliveries, dead letters, and exactly-once delivery (as the
//! receiver sees it) through `kill -9` on SQLite and with two replicas on PostgreSQL.

mod common;

use std::collections::{HashMap, HashSet};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use common::tenants::{directory, key_of, now, tenant_with_keys};
use common::{start, wait_ready};
use eiq_proto::v1::publishing_client::PublishingClient;
use eiq_service::tenancy::{Role, TenantId};
use eiq_service::tenants::{Database, Plan, TenantDirectory};
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

const SECRET: &str = "whsec_test_0123456789abcdef";
/// The gate's model and the embedding model its duplicate check uses.
const MODELS: &str = "tweet-minilm-l6-v1-int8,minilm-l6-v2";
/// `default` with a blocklist, so that a post the gate blocks is easy to write.
const POLICIES: &str = r#"
[policies.default]
blocklist = ["forbiddenword"]
[policies.default.thresholds]
offensive = { review = 0.5, block = 0.9 }
hate = { review = 0.5, block = 0.9 }
profanity = { review = 0.5 }
"#;

/// What the receiver got: each delivery's idempotency key and body, keys it refuses (400), and
/// requests whose signature did not verify.
#[derive(Default)]
struct Seen {
    deliveries: Vec<(String, Value)>,
    refuse: HashSet<String>,
    bad_signatures: usize,
}

impl Seen {
    fn unique(&self) -> HashMap<String, usize> {
        let mut counts = HashMap::new();
        for (key, _) in &self.deliveries {
            *counts.entry(key.clone()).or_default() += 1;
        }
        counts
    }
}

struct Receiver {
    url: String,
    seen: Arc<Mutex<Seen>>,
}

/// A webhook receiver on loopback that checks each signature and answers after `delay`.
async fn receiver(delay: Duration) -> Receiver {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let app = axum::Router::new().route("/hook", axum::routing::post(hook)).with_state((Arc::clone(&seen), delay));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    Receiver { url, seen }
}

async fn hook(
    State((seen, delay)): State<(Arc<Mutex<Seen>>, Duration)>,
    headers: HeaderMap,
    body: Bytes,
) -> axum::http::StatusCode {
    tokio::time::sleep(delay).await;
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_string();
    let key = header("idempotency-key");
    let mut seen = seen.lock().unwrap();
    if !signature_verifies(&header("eiq-signature"), &body) {
        seen.bad_signatures += 1;
        return axum::http::StatusCode::UNAUTHORIZED;
    }
    if seen.refuse.contains(&key) {
        return axum::http::StatusCode::BAD_REQUEST;
    }
    seen.deliveries.push((key, serde_json::from_slice(&body).unwrap()));
    axum::http::StatusCode::OK
}

/// `t=<seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`, signed within the last 5 minutes.
fn signature_verifies(header: &str, body: &[u8]) -> bool {
    let Some((t, mac)) = header.strip_prefix("t=").and_then(|rest| rest.split_once(",v1=")) else { return false };
    let Ok(t) = t.parse::<i64>() else { return false };
    if (now() - t).abs() > 300 {
        return false;
    }
    let key = ring::hmac::Key::new(ring::hmac::HMAC_SHA256, SECRET.as_bytes());
    let signed = [t.to_string().as_bytes(), b".", body].concat();
    let expected: String = ring::hmac::sign(&key, &signed).as_ref().iter().map(|b| format!("{b:02x}")).collect();
    expected == mac
}

/// One REST call: status, headers and JSON body.
async fn call(
    base: &str,
    method: Method,
    path: &str,
    key: &str,
    body: Option<Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let mut request = reqwest::Client::new().request(method, format!("{base}{path}")).bearer_auth(key);
    if let Some(body) = body {
        request = request.json(&body);
    }
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = request.send().await.unwrap();
    let (status, headers) = (response.status(), response.headers().clone());
    (status, headers, response.json().await.unwrap_or(Value::Null))
}

fn draft(text: &str) -> Value {
    json!({"texts": {"twitter": text}, "accounts": ["brand"], "media": [{"ref": "s3://bucket/a.jpg", "kind": "photo"}]})
}

fn policies_file(dir: &std::path::Path) -> String {
    let path = dir.join("policies.toml");
    std::fs::write(&path, POLICIES).unwrap();
    path.to_str().unwrap().to_string()
}

/// Polls until `post_id` on `base` is in `state`.
async fn wait_for_state(base: &str, key: &str, post_id: &str, state: &str) -> Value {
    let started = Instant::now();
    loop {
        let (_, _, post) = call(base, Method::GET, &format!("/v1/posts/{post_id}"), key, None, &[]).await;
        if post["state"] == state {
            return post;
        }
        assert!(started.elapsed() < Duration::from_secs(60), "{post_id} never became {state}: {post}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn posts_pass_the_gate_wait_for_approval_and_are_delivered_once() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let keys = tenant_with_keys(&directory(&data).await, "acme", Plan::Professional).await;
    let (admin, editor, approver) =
        (key_of(&keys, Role::Admin), key_of(&keys, Role::Editor), key_of(&keys, Role::Approver));
    // Professional allows 2 posts a month here, so the quota's warning and its end are reachable.
    let plans = dir.path().join("plans.toml");
    let builtin = include_str!("../service/src/tenants/plans.toml");
    let professional = builtin.replacen("posts_per_month = 1500", "posts_per_month = 2", 1);
    assert_ne!(professional, builtin);
    std::fs::write(&plans, professional).unwrap();
    let policies = policies_file(dir.path());
    let flags = ["--models", MODELS, "--data-dir", &data, "--policies", &policies, "--allow-private-webhooks"];
    let server = start(&[&flags[..], &["--plans", plans.to_str().unwrap()]].concat());
    wait_ready(&server).await;
    let base = format!("http://{}", server.addr);
    let hooks = receiver(Duration::ZERO).await;

    // Settings: the admin's; a URL that is not http(s) is refused, the secret is never shown.
    let settings =
        |url: &str| json!({"approval_required": true, "outbox": true, "webhook": {"url": url, "secret": SECRET}});
    let put = |body: Value, key: String| {
        let base = base.clone();
        async move { call(&base, Method::PUT, "/v1/publishing/settings", &key, Some(body), &[]).await }
    };
    let (status, _, body) = put(settings("ftp://127.0.0.1/hook"), admin.clone()).await;
    assert_eq!((status, body["error"]["param"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("webhook.url")));
    assert_eq!(put(settings(&hooks.url), editor.clone()).await.0, StatusCode::FORBIDDEN);
    let (status, _, body) = put(settings(&hooks.url), admin.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!((body["webhook_secret_set"].as_bool(), body.get("secret")), (Some(true), None), "{body}");
    let stored = std::fs::read(dir.path().join("eiq.db")).unwrap();
    assert!(!stored.windows(SECRET.len()).any(|w| w == SECRET.as_bytes()), "the secret is stored sealed");

    // Drafts: an Idempotency-Key answers its first post, and refuses another body.
    let idem = [("idempotency-key", "launch-1")];
    let (status, _, post) =
        call(&base, Method::POST, "/v1/posts", &editor, Some(draft("Spring sale starts Friday")), &idem).await;
    assert_eq!(status, StatusCode::CREATED, "{post}");
    assert_eq!(post["state"], "draft");
    let id = post["id"].as_str().unwrap().to_string();
    let (status, _, again) =
        call(&base, Method::POST, "/v1/posts", &editor, Some(draft("Spring sale starts Friday")), &idem).await;
    assert_eq!((status, again["id"].as_str()), (StatusCode::OK, Some(id.as_str())));
    let (status, _, reused) = call(&base, Method::POST, "/v1/posts", &editor, Some(draft("Other")), &idem).await;
    assert_eq!(
        (status, reused["error"]["param"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("Idempotency-Key"))
    );

    // Bad drafts are 422 naming the field.
    let past = json!({"texts": {"twitter": "hi"}, "accounts": ["brand"], "scheduled_at": "2020-01-01T00:00:00Z"});
    let too_long = json!({"texts": {"twitter": "x".repeat(281)}, "accounts": ["brand"]});
    let unknown = json!({"texts": {"myspace": "hi"}, "accounts": ["brand"]});
    let no_accounts = json!({"texts": {"twitter": "hi"}, "accounts": []});
    for (body, param) in
        [(past, "scheduled_at"), (too_long, "texts.twitter"), (unknown, "texts.myspace"), (no_accounts, "accounts")]
    {
        let (status, _, answer) = call(&base, Method::POST, "/v1/posts", &editor, Some(body), &[]).await;
        assert_eq!(
            (status, answer["error"]["param"].as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, Some(param)),
            "{answer}"
        );
    }

    // Hostile requests get a 4xx that echoes at most a short prefix, never a 5xx.
    let long_id = "p".repeat(5_000);
    let junk: [(Method, String, Option<Value>); 8] = [
        (Method::GET, format!("/v1/posts/{long_id}"), None),
        (Method::POST, format!("/v1/posts/{long_id}:approve"), None),
        (Method::POST, format!("/v1/posts/{id}:{long_id}"), None),
        (Method::GET, "/v1/posts?limit=0".into(), None),
        (Method::GET, "/v1/posts?state=nope".into(), None),
        (Method::GET, "/v1/posts?after=garbage".into(), None),
        (Method::POST, format!("/v1/posts/{id}:reject"), Some(json!({"note": 42}))),
        (Method::POST, "/v1/posts".into(), Some(json!({"texts": {"twitter": "hi"}, "accounts": vec!["a"; 21]}))),
    ];
    for (method, path, body) in junk {
        let (status, _, answer) = call(&base, method.clone(), &path, &editor, body, &[]).await;
        let what = format!("{method} {}: {status} {answer}", &path[..path.len().min(60)]);
        assert!(status.is_client_error(), "{what}");
        assert!(answer.to_string().len() < 1_000, "{what}");
    }
    let non_ascii = reqwest::header::HeaderValue::from_bytes(b"key-\xff").unwrap();
    let refused = reqwest::Client::new()
        .post(format!("{base}/v1/posts"))
        .bearer_auth(&editor)
        .header("idempotency-key", non_ascii)
        .json(&draft("hi"))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNPROCESSABLE_ENTITY);

    // Submit → the gate allows → pending approval; only approvers approve; illegal moves are 409.
    let act = |id: &str, verb: &str, key: &str, body: Option<Value>| {
        let (base, path, key) = (base.clone(), format!("/v1/posts/{id}:{verb}"), key.to_string());
        async move { call(&base, Method::POST, &path, &key, body, &[]).await }
    };
    let (status, _, conflict) = act(&id, "approve", &approver, None).await;
    assert_eq!(status, StatusCode::CONFLICT, "{conflict}");
    assert!(conflict["error"]["message"].as_str().unwrap().contains("draft"), "{conflict}");
    let (status, _, submitted) = act(&id, "submit", &editor, None).await;
    assert_eq!(status, StatusCode::OK, "{submitted}");
    assert_eq!(submitted["post"]["state"], "pending_approval", "{submitted}");
    assert_eq!(act(&id, "approve", &editor, None).await.0, StatusCode::FORBIDDEN);
    let (status, headers, approved) = act(&id, "approve", &approver, None).await;
    assert_eq!(status, StatusCode::OK, "{approved}");
    assert_eq!(approved["post"]["state"], "scheduled");
    // The first of starter's two posts: under 80 %, no warning.
    assert!(headers.get("x-quota-warning").is_none());
    let published = wait_for_state(&base, &editor, &id, "published").await;
    let deliveries = published["deliveries"].as_array().unwrap();
    assert_eq!(deliveries.len(), 2, "webhook and outbox: {published}");
    assert!(deliveries.iter().all(|d| d["state"] == "delivered" && d["attempts"] == 1), "{published}");
    {
        let seen = hooks.seen.lock().unwrap();
        assert_eq!(seen.bad_signatures, 0);
        assert_eq!(seen.deliveries.len(), 1);
        let (key, body) = &seen.deliveries[0];
        assert_eq!(key, &format!("{id}:twitter"));
        assert_eq!((body["text"].as_str(), body["tenant"].as_str()), (Some("Spring sale starts Friday"), Some("acme")));
        assert_eq!(body["media"][0]["ref"], "s3://bucket/a.jpg");
    }
    let outbox = std::fs::read_to_string(dir.path().join("outbox/acme.jsonl")).unwrap();
    let line: Value = serde_json::from_str(outbox.lines().next().unwrap()).unwrap();
    assert_eq!(line["idempotency_key"], format!("{id}:twitter"));
    let (status, _, conflict) = act(&id, "cancel", &editor, None).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert!(conflict["error"]["message"].as_str().unwrap().contains("published"), "{conflict}");

    // The gate blocks: rejected, with its reasons.
    let (_, _, blocked) =
        call(&base, Method::POST, "/v1/posts", &editor, Some(draft("Buy forbiddenword now")), &[]).await;
    let blocked_id = blocked["id"].as_str().unwrap().to_string();
    let (status, _, rejected) = act(&blocked_id, "submit", &editor, None).await;
    assert_eq!((status, &rejected["post"]["state"]), (StatusCode::OK, &json!("rejected")), "{rejected}");
    assert_eq!(rejected["post"]["reasons"][0]["category"], "blocklist", "{rejected}");

    // An approver rejects with a note.
    let (_, _, other) = call(&base, Method::POST, "/v1/posts", &editor, Some(draft("Maybe later")), &[]).await;
    let other_id = other["id"].as_str().unwrap().to_string();
    act(&other_id, "submit", &editor, None).await;
    let (status, _, rejected) = act(&other_id, "reject", &approver, Some(json!({"note": "off-brand"}))).await;
    assert_eq!(status, StatusCode::OK, "{rejected}");
    assert_eq!(rejected["post"]["state"], "rejected");
    assert!(rejected["post"]["reasons"].as_array().unwrap().iter().any(|r| r["note"] == "off-brand"));

    // A cancel before publishing gives the post back to the month's quota.
    let tomorrow = (now() + 86_400).to_string();
    let mut cancelled = draft("Cancelled before its time");
    cancelled["scheduled_at"] = json!(tomorrow);
    let (_, _, cancelled) = call(&base, Method::POST, "/v1/posts", &editor, Some(cancelled), &[]).await;
    let cancelled_id = cancelled["id"].as_str().unwrap().to_string();
    act(&cancelled_id, "submit", &editor, None).await;
    let (_, headers, _) = act(&cancelled_id, "approve", &approver, None).await;
    assert_eq!(headers.get("x-quota-warning").unwrap(), "posts_per_month 2/2");
    let (status, _, stopped) = act(&cancelled_id, "cancel", &editor, None).await;
    assert_eq!((status, &stopped["post"]["state"]), (StatusCode::OK, &json!("cancelled")), "{stopped}");
    assert!(stopped["post"]["deliveries"].as_array().unwrap().iter().all(|d| d["state"] == "cancelled"));
    let (_, _, usage) = call(&base, Method::GET, "/v1/usage", &editor, None, &[]).await;
    assert_eq!(usage["published_posts"], 1, "{usage}");

    // A receiver that refuses makes a dead letter and a failed post; `:retry` delivers it.
    let mut later = draft("Refused at first");
    later["scheduled_at"] = json!(tomorrow);
    let (_, _, refused) = call(&base, Method::POST, "/v1/posts", &editor, Some(later), &[]).await;
    let refused_id = refused["id"].as_str().unwrap().to_string();
    act(&refused_id, "submit", &editor, None).await;
    let (status, headers, scheduled) = act(&refused_id, "approve", &approver, None).await;
    assert_eq!((status, &scheduled["post"]["state"]), (StatusCode::OK, &json!("scheduled")), "{scheduled}");
    assert_eq!(headers.get("x-quota-warning").unwrap(), "posts_per_month 2/2");
    hooks.seen.lock().unwrap().refuse.insert(format!("{refused_id}:twitter"));
    let (status, _, moved) =
        act(&refused_id, "reschedule", &editor, Some(json!({"scheduled_at": now().to_string()}))).await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    let failed = wait_for_state(&base, &editor, &refused_id, "failed").await;
    assert!(failed["deliveries"].as_array().unwrap().iter().any(|d| d["state"] == "dead"), "{failed}");
    hooks.seen.lock().unwrap().refuse.clear();
    let (status, _, retried) = act(&refused_id, "retry", &editor, None).await;
    assert_eq!(status, StatusCode::OK, "{retried}");
    wait_for_state(&base, &editor, &refused_id, "published").await;

    // The month's two posts are used: the next is a 429 naming the plan, until the month ends.
    let (_, _, third) = call(&base, Method::POST, "/v1/posts", &editor, Some(draft("One too many")), &[]).await;
    let third_id = third["id"].as_str().unwrap().to_string();
    act(&third_id, "submit", &editor, None).await;
    let (status, headers, over) = act(&third_id, "approve", &approver, None).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{over}");
    assert!(headers.get("retry-after").is_some());
    assert!(over["error"]["message"].as_str().unwrap().contains("professional"), "{over}");
    let (_, _, still) = call(&base, Method::GET, &format!("/v1/posts/{third_id}"), &editor, None, &[]).await;
    assert_eq!(still["state"], "pending_approval");

    // Every step is in the audit log, and the chain verifies.
    let (_, _, audit) = call(&base, Method::GET, "/v1/audit?limit=1000", &admin, None, &[]).await;
    let events: HashSet<&str> =
        audit["events"].as_array().unwrap().iter().filter_map(|e| e["event"].as_str()).collect();
    for event in [
        "post.created",
        "post.submitted",
        "post.gated",
        "post.approved",
        "post.scheduled",
        "post.publishing",
        "post.published",
        "post.rejected",
        "post.delivery_failed",
        "post.failed",
        "post.retried",
        "quota.warning",
    ] {
        assert!(events.contains(event), "{event} missing from {events:?}");
    }

    // The same posts over gRPC; another tenant's post is NOT_FOUND there as here.
    let channel = tonic::transport::Channel::from_shared(base.clone()).unwrap().connect().await.unwrap();
    let mut grpc = PublishingClient::new(channel);
    let got = grpc
        .get_post(with_key(eiq_proto::v1::GetPostRequest { post_id: id.clone() }, &editor))
        .await
        .unwrap()
        .into_inner();
    assert_eq!((got.state.as_str(), got.deliveries.len()), ("published", 2));
    let created = grpc
        .create_post(with_key(
            eiq_proto::v1::CreatePostRequest {
                texts: [("linkedin".to_string(), "Hello from gRPC".to_string())].into(),
                accounts: vec!["brand".into()],
                ..Default::default()
            },
            &editor,
        ))
        .await
        .unwrap()
        .into_inner();
    let submitted = grpc
        .submit_post(with_key(eiq_proto::v1::PostActionRequest { post_id: created.id, ..Default::default() }, &editor))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(submitted.post.unwrap().state, "pending_approval");
    let refused = grpc
        .approve_post(with_key(
            eiq_proto::v1::PostActionRequest { post_id: id.clone(), ..Default::default() },
            &approver,
        ))
        .await
        .unwrap_err();
    assert_eq!(refused.code(), tonic::Code::FailedPrecondition);
    let keys_b = tenant_with_keys(&directory(&data).await, "bigco", Plan::Enterprise).await;
    let (status, _, _) =
        call(&base, Method::GET, &format!("/v1/posts/{id}"), &key_of(&keys_b, Role::Admin), None, &[]).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    server.shutdown_and_wait();

    // The operator's view, over the same database.
    let eiq = |args: &[&str]| {
        let output = Command::new(env!("CARGO_BIN_EXE_eiq")).args(args).args(["--data-dir", &data]).output().unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr);
        (output.status.success(), text)
    };
    let (ok, listed) = eiq(&["posts", "list", "--tenant", "acme"]);
    assert!(ok && listed.lines().count() == 7, "{listed}");
    let (ok, published) = eiq(&["posts", "list", "--tenant", "acme", "--state", "published"]);
    assert!(ok && published.lines().count() == 2, "{published}");
    let (ok, shown) = eiq(&["posts", "show", "--tenant", "acme", &id]);
    assert!(ok && shown.contains("\"delivered_at\""), "{shown}");
    let (ok, refused) = eiq(&["posts", "retry", "--tenant", "acme", &id]);
    assert!(!ok && refused.contains("published"), "{refused}");
}

/// A gRPC request carrying `key`.
fn with_key<T>(message: T, key: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {key}").parse().unwrap());
    request
}

/// `eiq serve` as its own process, so that it can be killed for real; killed when dropped, so a
/// failing test leaves no replica running.
struct Replica(Child);

impl Replica {
    /// `kill -9`, and wait for it to be gone.
    fn kill(&mut self) {
        self.0.kill().unwrap();
        self.0.wait().unwrap();
    }
}

impl Drop for Replica {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_replica(port: u16, data: &std::path::Path, extra: &[&str]) -> Replica {
    let child = Command::new(env!("CARGO_BIN_EXE_eiq"))
        .args(["serve", "--models", MODELS, "--bind", &format!("127.0.0.1:{port}"), "--data-dir"])
        .arg(data)
        .args(["--allow-private-webhooks", "--publish-lease-secs", "5", "--publish-poll-ms", "100"])
        .args(["--rate-limit-per-second", "0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Replica(child)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn wait_until_ready(base: &str) {
    let started = Instant::now();
    let client = reqwest::Client::new();
    while client.get(format!("{base}/ready")).send().await.map(|r| r.status() != 200).unwrap_or(true) {
        assert!(started.elapsed() < Duration::from_secs(180), "{base} not ready");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Makes `count` posts due `due_in` from now and submits them (the tenant needs no approval, so
/// each is scheduled by its submission), a few at a time; their ids.
async fn schedule_posts(base: &str, key: &str, count: usize, due_in: Duration) -> Vec<String> {
    let due = (now() + due_in.as_secs() as i64).to_string();
    let mut ids = Vec::new();
    for chunk in (0..count).collect::<Vec<_>>().chunks(8) {
        let made = futures::future::join_all(chunk.iter().map(|_| {
            // One text for all: the receiver tells them apart by their idempotency keys.
            let mut body = draft("Our spring range lands on Friday");
            body["scheduled_at"] = json!(due);
            async move {
                let (status, _, post) = call(base, Method::POST, "/v1/posts", key, Some(body), &[]).await;
                assert_eq!(status, StatusCode::CREATED, "{post}");
                let id = post["id"].as_str().unwrap().to_string();
                let (status, _, submitted) =
                    call(base, Method::POST, &format!("/v1/posts/{id}:submit"), key, None, &[]).await;
                assert_eq!((status, &submitted["post"]["state"]), (StatusCode::OK, &json!("scheduled")), "{submitted}");
                id
            }
        }))
        .await;
        ids.extend(made);
    }
    ids
}

/// Waits until the receiver has seen every one of `ids`; how many deliveries it got in all.
async fn wait_for_every_post(hooks: &Receiver, ids: &[String], within: Duration) -> usize {
    let expected: HashSet<String> = ids.iter().map(|id| format!("{id}:twitter")).collect();
    let started = Instant::now();
    loop {
        {
            let seen = hooks.seen.lock().unwrap();
            let unique = seen.unique();
            if expected.iter().all(|k| unique.contains_key(k)) {
                assert_eq!(seen.bad_signatures, 0);
                assert!(unique.keys().all(|k| expected.contains(k)), "a delivery for no scheduled post");
                return seen.deliveries.len();
            }
            assert!(
                started.elapsed() < within,
                "{} of {} posts delivered after {within:?}",
                expected.iter().filter(|k| unique.contains_key(*k)).count(),
                expected.len()
            );
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn settings_for_webhook(base: &str, admin: &str, hooks: &Receiver) {
    let body = json!({"approval_required": false, "outbox": false, "webhook": {"url": hooks.url, "secret": SECRET}});
    let (status, _, answer) = call(base, Method::PUT, "/v1/publishing/settings", admin, Some(body), &[]).await;
    assert_eq!(status, StatusCode::OK, "{answer}");
}

/// A replica killed (`kill -9`) while delivering, and started again on its SQLite database,
/// delivers every post: none is lost, and a repeat carries the same idempotency key.
#[tokio::test]
async fn sqlite_kill_and_restart_lose_nothing() {
    common::ensure_models_fetched();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let keys = tenant_with_keys(&directory(data.to_str().unwrap()).await, "acme", Plan::Enterprise).await;
    let (admin, editor) = (key_of(&keys, Role::Admin), key_of(&keys, Role::Editor));
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut replica = spawn_replica(port, &data, &[]);
    wait_until_ready(&base).await;
    let hooks = receiver(Duration::from_millis(50)).await;
    settings_for_webhook(&base, &admin, &hooks).await;
    let ids = schedule_posts(&base, &editor, 150, Duration::from_secs(15)).await;
    let started = Instant::now();
    while hooks.seen.lock().unwrap().deliveries.len() < 20 {
        assert!(started.elapsed() < Duration::from_secs(60), "deliveries never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    replica.kill(); // SIGKILL, mid-run
    let before_restart = hooks.seen.lock().unwrap().unique().len();
    assert!(before_restart < ids.len(), "every post was delivered before the kill; make the run longer");
    let _restarted = spawn_replica(port, &data, &[]);
    wait_until_ready(&base).await;
    let total = wait_for_every_post(&hooks, &ids, Duration::from_secs(120)).await;
    eprintln!("{} posts, {total} deliveries ({} repeated after the kill)", ids.len(), total - ids.len());
    for id in ids.iter().step_by(10) {
        wait_for_state(&base, &editor, id, "published").await;
    }
}

/// Two replicas on one PostgreSQL publish 500 posts: the receiver sees each once. Then 500 more
/// while one replica is killed mid-run: the other takes over its leases, nothing is lost.
#[tokio::test]
async fn two_replicas_on_postgresql_publish_each_post_once() {
    let Ok(url) = std::env::var("EIQ_TEST_DATABASE_URL") else {
        eprintln!("EIQ_TEST_DATABASE_URL is not set: the two-replica publishing test is skipped");
        return;
    };
    common::ensure_models_fetched();
    let directory = TenantDirectory::new(Database::open(&url).await.unwrap());
    let tenant = format!("publish-{}-{}", std::process::id(), now());
    let keys = tenant_with_keys(&directory, &tenant, Plan::Enterprise).await;
    let (admin, editor) = (key_of(&keys, Role::Admin), key_of(&keys, Role::Editor));
    let secret_key = "ab".repeat(32);
    let dirs = [tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap()];
    let ports = [free_port(), free_port()];
    let flags = ["--database-url", url.as_str(), "--secret-key", secret_key.as_str()];
    let mut replicas: Vec<Replica> =
        dirs.iter().zip(ports).map(|(dir, port)| spawn_replica(port, dir.path(), &flags)).collect();
    let bases: Vec<String> = ports.iter().map(|port| format!("http://127.0.0.1:{port}")).collect();
    for base in &bases {
        wait_until_ready(base).await;
    }
    let hooks = receiver(Duration::from_millis(5)).await;
    settings_for_webhook(&bases[0], &admin, &hooks).await;

    // Without a failure: each post once, exactly.
    let ids = schedule_posts(&bases[1], &editor, 500, Duration::from_secs(30)).await;
    let total = wait_for_every_post(&hooks, &ids, Duration::from_secs(180)).await;
    assert_eq!(total, ids.len(), "a post was delivered twice without a failure");
    for id in ids.iter().step_by(50) {
        wait_for_state(&bases[0], &editor, id, "published").await;
    }

    // Killing one replica mid-run: the other finishes its work after the lease runs out.
    hooks.seen.lock().unwrap().deliveries.clear();
    let ids = schedule_posts(&bases[0], &editor, 500, Duration::from_secs(30)).await;
    let started = Instant::now();
    while hooks.seen.lock().unwrap().deliveries.len() < 50 {
        assert!(started.elapsed() < Duration::from_secs(90), "deliveries never started");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    replicas[1].kill();
    let total = wait_for_every_post(&hooks, &ids, Duration::from_secs(180)).await;
    eprintln!("500 posts, {total} deliveries ({} repeated after the kill)", total - ids.len());
    for id in ids.iter().step_by(50) {
        wait_for_state(&bases[0], &editor, id, "published").await;
    }
    let audit = eiq_service::audit::AuditLog::new(Database::open(&url).await.unwrap());
    let verified = audit.verify(Some(&TenantId::parse(&tenant).unwrap())).await.unwrap();
    assert!(matches!(verified, eiq_service::audit::Verification::Intact { .. }), "{verified:?}");
}
