//! Post history, forecasts and best times over REST and gRPC against a real server, with the
//! history stored as Parquet in a temporary data folder.

mod common;

use std::path::Path;

use common::history::{fixture, grpc_client, import, message, post, send, tenant};
use eiq_datasets::{SyntheticConfig, generate};
use eiq_features::posts_to_frame;
use eiq_proto::v1::{BestTimesRequest, ForecastRequest, ImportChunk, ImportHeader, import_chunk};
use reqwest::StatusCode;
use serde_json::json;
use tonic::Code;

#[tokio::test]
async fn imported_history_answers_forecasts_and_best_times() {
    let f = fixture(&[]);
    let (status, body) = import(&f.server, "acme", "format=csv", f.csv.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["imported"].as_u64(), body["error_count"].as_u64()), (Some(3_600), Some(0)));
    assert_eq!(body["accounts"].as_array().unwrap().len(), 30);
    // History lands as Parquet per tenant and account.
    assert!(f.dir.path().join("data/history/acme/acct-00000.parquet").is_file());

    let (status, best) =
        post(&f.server, "acme", "/v1/accounts/acct-00001/best-times", json!({"top_k": 3, "include_grid": true})).await;
    assert_eq!(status, 200, "{best}");
    assert_eq!(best["top"].as_array().unwrap().len(), 3);
    assert_eq!(best["grid"].as_array().unwrap().len(), 168);
    let slot = &best["top"][0];
    assert!(slot["lift_low"].as_f64() <= slot["lift"].as_f64() && slot["lift"].as_f64() <= slot["lift_high"].as_f64());
    assert!(slot["next_at"].as_str().unwrap().ends_with('Z'));
    let get = reqwest::Client::new()
        .get(f.server.url("/v1/accounts/acct-00001/best-times?top_k=2"))
        .header("x-tenant-id", "acme");
    let (status, body) = send(&f.server, get).await;
    assert_eq!((status, body["top"].as_array().unwrap().len()), (StatusCode::OK, 2));

    let draft = json!({"text": "Our new guide is live: what would you add?", "media": "video",
                       "candidate_times": ["2026-12-01T08:00:00Z", 1_764_608_400]});
    let (status, forecast) = post(&f.server, "acme", "/v1/accounts/acct-00001/forecast", draft).await;
    assert_eq!(status, 200, "{forecast}");
    let forecasts = forecast["forecasts"].as_array().unwrap();
    assert_eq!(forecasts.len(), 2);
    for f in forecasts {
        let (low, mid, high) =
            (f["low"].as_f64().unwrap(), f["engagement"].as_f64().unwrap(), f["high"].as_f64().unwrap());
        assert!(low <= mid && mid <= high, "{f}");
    }
    assert!(forecasts.contains(&forecast["best"]));
    assert_eq!(forecast["model"]["trained_posts"], 3_600);
    assert!(forecast["model"]["held_out_mae"].as_f64() < forecast["model"]["account_median_mae"].as_f64());
    // No candidate times: every hour of the coming week.
    let (status, week) = post(&f.server, "acme", "/v1/accounts/acct-00001/forecast", json!({"text": "hello"})).await;
    assert_eq!((status, week["forecasts"].as_array().unwrap().len()), (StatusCode::OK, 168));

    // Tenants are apart, and an unknown account is 404.
    let (status, body) = post(&f.server, "other", "/v1/accounts/acct-00001/best-times", json!({})).await;
    assert_eq!(status, 404, "{body}");
    let (status, body) = post(&f.server, "acme", "/v1/accounts/nobody/forecast", json!({"text": "hi"})).await;
    assert_eq!(status, 404);
    assert!(message(&body).contains("nobody"));

    // A re-import of the same posts updates rather than duplicates, and the answers follow.
    let (status, body) = import(&f.server, "acme", "format=csv", f.csv.clone()).await;
    assert_eq!(
        (status, body["accounts"][0]["added"].as_u64(), body["accounts"][0]["total"].as_u64()),
        (StatusCode::OK, Some(0), Some(120))
    );
    f.server.shutdown_and_wait();
}

#[tokio::test]
async fn bad_imports_and_requests_are_clear_4xx_and_lose_nothing() {
    let f = fixture(&["--max-import-bytes", "200000"]);
    let s = &f.server;
    let small = &f.csv[..f.csv.iter().enumerate().filter(|(_, b)| **b == b'\n').nth(150).unwrap().0 + 1];
    // Wrong format: CSV sent as Parquet, and a CSV without the required columns.
    let (status, body) = import(s, "acme", "format=parquet", small.to_vec()).await;
    assert_eq!(status, 422, "{body}");
    assert!(message(&body).contains("parquet"), "{body}");
    let (status, body) = import(s, "acme", "format=csv", b"id,when\n1,2\n".to_vec()).await;
    assert_eq!(status, 422);
    assert!(message(&body).contains("post_id"), "{body}");
    // Every row bad: the first offending row is named.
    let bad = b"post_id,account_id,platform,created_at,text\n1,a,x,yesterday,hi\n2,a,x,tomorrow,hi\n".to_vec();
    let (status, body) = import(s, "acme", "format=csv", bad).await;
    assert_eq!(status, 422);
    assert!(message(&body).contains("row 1") && message(&body).contains("yesterday"), "{body}");
    // One bad row among good ones: reported with its number, the rest imported; --strict refuses.
    let mut mixed = small.to_vec();
    mixed.extend_from_slice(b"zz,acct-00000,x,1709539200,caf\xe9 not utf-8,none,1,0,0,,,,\n");
    let (status, body) = import(s, "acme", "format=csv", mixed.clone()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!((body["imported"].as_u64(), body["errors"][0]["row"].as_u64()), (Some(150), Some(151)));
    let (status, body) = import(s, "strict", "format=csv&strict=true", mixed).await;
    assert_eq!(status, 422);
    assert!(message(&body).contains("row 151"), "{body}");
    // Too large, empty, unknown format, no format, path and body both.
    let (status, _) = import(s, "acme", "format=csv", vec![b'x'; 300_000]).await;
    assert_eq!(status, 413);
    for (query, body) in [
        ("format=csv", vec![]),
        ("format=xlsx", small.to_vec()),
        ("", small.to_vec()),
        ("format=csv&path=a.csv", small.to_vec()),
        ("bogus=1", small.to_vec()),
    ] {
        let (status, answer) = import(s, "acme", query, body).await;
        assert_eq!(status, 422, "{query}: {answer}");
    }
    // Server paths: inside the import root only.
    std::fs::write(f.dir.path().join("imports/history.csv"), small).unwrap();
    std::fs::write(f.dir.path().join("secret.csv"), small).unwrap();
    let (status, body) = import(s, "paths", "path=history.csv", vec![]).await;
    assert_eq!((status, body["imported"].as_u64()), (StatusCode::OK, Some(150)), "{body}");
    // Outside the root looks exactly like missing: the answer tells nothing about other files.
    let (status, outside) = import(s, "paths", "path=../secret.csv", vec![]).await;
    assert_eq!(status, 404);
    let (status, missing) = import(s, "paths", "path=missing.csv", vec![]).await;
    assert_eq!(status, 404);
    assert_eq!(message(&outside).replace("../secret.csv", "missing.csv"), message(&missing));
    // Hostile tenant names never become paths.
    let (status, body) = import(s, "../etc", "format=csv", small.to_vec()).await;
    assert_eq!(status, 422, "{body}");
    // Forecast and best-times mistakes.
    let cases = [
        ("/v1/accounts/acct-00000/forecast", json!({"text": "hi", "media": "hologram"})),
        ("/v1/accounts/acct-00000/forecast", json!({"text": "hi", "candidate_times": ["yesterday"]})),
        ("/v1/accounts/acct-00000/forecast", json!({"text": "hi", "candidate_times": [1]})),
        ("/v1/accounts/acct-00000/forecast", json!({"text": 5})),
        ("/v1/accounts/acct-00000/best-times", json!({"resolution_minutes": 7})),
        ("/v1/accounts/acct-00000/best-times", json!({"top_k": 0})),
        (
            "/v1/accounts/acct-00000/best-times",
            json!({"blackouts": [{"day": "someday", "start": "12:00", "end": "13:00"}]}),
        ),
        ("/v1/accounts/acct-00000/best-times", json!({"blackouts": [{"start": "25:00", "end": "13:00"}]})),
    ];
    for (path, body) in cases {
        let (status, answer) = post(s, "acme", path, body.clone()).await;
        assert_eq!(status, 422, "{body}: {answer}");
    }
    // 150 posts of one account are too few to train a forecaster on: 409, not 500.
    let (status, body) = post(s, "paths", "/v1/accounts/acct-00000/forecast", json!({"text": "hi"})).await;
    assert!(status == 200 || status == 409, "{status}: {body}");
    s.shutdown_and_wait();
}

#[tokio::test]
async fn concurrent_imports_and_questions_never_5xx() {
    let f = fixture(&[]);
    let posts = generate(&SyntheticConfig { accounts: 8, posts_per_account: 60, seed: 3, ..Default::default() }).posts;
    let mut tasks = Vec::new();
    for (i, chunk) in posts.chunks(60).enumerate() {
        let path = f.dir.path().join(format!("part-{i}.csv"));
        eiq_features::io::write_csv(&mut posts_to_frame(chunk).unwrap(), &path).unwrap();
        let (url, body) = (f.server.url("/v1/history:import?format=csv"), std::fs::read(&path).unwrap());
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new().post(url).header("x-tenant-id", "busy").body(body).send().await.unwrap().status()
        }));
        let url = f.server.url("/v1/accounts/acct-00000/best-times");
        tasks.push(tokio::spawn(async move {
            reqwest::Client::new()
                .post(url)
                .header("x-tenant-id", "busy")
                .json(&json!({}))
                .send()
                .await
                .unwrap()
                .status()
        }));
    }
    for task in tasks {
        let status = task.await.unwrap();
        assert!(status == 200 || status == 404, "{status}");
    }
    let (status, body) = post(&f.server, "busy", "/v1/accounts/acct-00007/best-times", json!({})).await;
    assert_eq!((status, body["account_posts"].as_u64()), (StatusCode::OK, Some(60)), "{body}");
    f.server.shutdown_and_wait();
}

// Multi-threaded: the client's connection task must run while the test thread waits for shutdown.
#[tokio::test(flavor = "multi_thread")]
async fn grpc_streams_an_import_and_answers_like_rest() {
    let f = fixture(&[]);
    let mut client = grpc_client(&f.server).await;
    let header = ImportChunk {
        part: Some(import_chunk::Part::Header(ImportHeader { format: "csv".into(), ..Default::default() })),
    };
    let chunks: Vec<ImportChunk> = std::iter::once(header)
        .chain(f.csv.chunks(64 * 1024).map(|c| ImportChunk { part: Some(import_chunk::Part::Data(c.to_vec())) }))
        .collect();
    let result = client.import_history(tenant(tokio_stream::iter(chunks), "grpc")).await.unwrap().into_inner();
    assert_eq!((result.imported, result.accounts.len()), (3_600, 30));

    let best = client
        .best_times(tenant(
            BestTimesRequest { account_id: "acct-00002".into(), top_k: 4, ..Default::default() },
            "grpc",
        ))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(best.top.len(), 4);
    let (status, rest) = post(&f.server, "grpc", "/v1/accounts/acct-00002/best-times", json!({"top_k": 4})).await;
    assert_eq!(status, 200);
    assert_eq!(rest["top"][0]["start"].as_str(), Some(best.top[0].start.as_str()), "one service layer");

    let request = ForecastRequest {
        account_id: "acct-00002".into(),
        text: "launch day!".into(),
        candidate_times: vec![1_764_576_000],
        ..Default::default()
    };
    let forecast = client.forecast(tenant(request, "grpc")).await.unwrap().into_inner();
    assert_eq!(forecast.forecasts.len(), 1);
    assert!(forecast.best.unwrap().engagement >= 0.0);

    // Errors map to matching codes.
    let unknown = ForecastRequest { account_id: "nobody".into(), text: "hi".into(), ..Default::default() };
    assert_eq!(client.forecast(tenant(unknown, "grpc")).await.unwrap_err().code(), Code::NotFound);
    let bad_media = ForecastRequest { account_id: "acct-00002".into(), media: "hologram".into(), ..Default::default() };
    assert_eq!(client.forecast(tenant(bad_media, "grpc")).await.unwrap_err().code(), Code::InvalidArgument);
    let no_header = vec![ImportChunk { part: Some(import_chunk::Part::Data(f.csv[..100].to_vec())) }];
    let error = client.import_history(tenant(tokio_stream::iter(no_header), "grpc")).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument);
    let wrong = vec![
        ImportChunk {
            part: Some(import_chunk::Part::Header(ImportHeader { format: "parquet".into(), ..Default::default() })),
        },
        ImportChunk { part: Some(import_chunk::Part::Data(f.csv[..1000].to_vec())) },
    ];
    let error = client.import_history(tenant(tokio_stream::iter(wrong), "grpc")).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument, "{error:?}");
    let outside = ImportHeader { server_path: "../../etc/passwd".into(), ..Default::default() };
    let chunks = vec![ImportChunk { part: Some(import_chunk::Part::Header(outside)) }];
    let code = client.import_history(tenant(tokio_stream::iter(chunks), "grpc")).await.unwrap_err().code();
    assert!(code == Code::PermissionDenied || code == Code::NotFound, "{code:?}");
    // An open HTTP/2 connection would hold the graceful shutdown.
    drop(client);
    f.server.shutdown_and_wait();
}

#[tokio::test]
async fn real_x_api_responses_import_with_a_timezone() {
    let f = fixture(&[]);
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../datasets/rtweet/fixtures");
    let imported = eiq_datasets::load_rtweet_fixtures(&dir).unwrap();
    let path = f.dir.path().join("rtweet.parquet");
    eiq_features::io::write_parquet(&mut posts_to_frame(&imported.posts).unwrap(), &path).unwrap();
    let (status, body) =
        import(&f.server, "x", "format=parquet&timezone=America/New_York", std::fs::read(&path).unwrap()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["imported"].as_u64(), Some(imported.posts.len() as u64));
    let account = &imported.posts[0].account_id;
    let (status, body) = post(&f.server, "x", &format!("/v1/accounts/{account}/best-times"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) =
        post(&f.server, "x", &format!("/v1/accounts/{account}/forecast"), json!({"text": "hello"})).await;
    assert_eq!(status, 200, "{body}");
    f.server.shutdown_and_wait();
}

/// One `ServiceError`, two protocols: the same status family, the field as REST's `param`, and the
/// next step in each protocol's own terms (a REST route never reaches a gRPC client).
#[tokio::test]
async fn errors_name_the_field_and_the_next_step_in_each_protocols_words() {
    let f = fixture(&[]);
    let (status, body) = post(&f.server, "empty", "/v1/accounts/acct-00001/forecast", json!({"text": "hi"})).await;
    assert_eq!(status, 404, "{body}");
    assert!(message(&body).contains("POST /v1/history:import"), "{body}");
    let mut client = grpc_client(&f.server).await;
    let draft = ForecastRequest { account_id: "acct-00001".into(), text: "hi".into(), ..Default::default() };
    let err = client.forecast(tenant(draft, "empty")).await.unwrap_err();
    assert_eq!(err.code(), Code::NotFound);
    assert!(err.message().contains("Engagement/ImportHistory"), "{}", err.message());
    assert!(!err.message().contains("POST"), "{}", err.message());

    let (status, body) = post(&f.server, "acme", "/v1/accounts/a/best-times", json!({"top_k": 0})).await;
    assert_eq!((status, body["error"]["param"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("top_k")));
    let (status, body) = post(&f.server, "bad/name", "/v1/accounts/a/best-times", json!({})).await;
    assert_eq!((status, body["error"]["param"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("x-tenant-id")));
    let request = BestTimesRequest { account_id: "a".into(), ..Default::default() };
    let err = client.best_times(tenant(request, "bad.name")).await.unwrap_err();
    assert_eq!(err.code(), Code::InvalidArgument, "{}", err.message());
    assert!(err.message().contains("x-tenant-id") || err.message().contains("tenant"), "{}", err.message());

    f.server.shutdown_and_wait();
}
