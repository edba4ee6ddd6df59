//! History, forecasts and best times under attack: numbers, rows, ids, paths and tenants.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use futures::StreamExt;

use eiq_proto::v1::{BestTimesRequest, ForecastRequest};
use polars::prelude::*;
use reqwest::StatusCode;
use serde_json::{Value, json};
use tonic::Code;

use crate::common::history::{Fixture, fixture, grpc_client, import, message, post, send, tenant};
use crate::{health, serial, status_kib};

const HEADER: &str =
    "post_id,account_id,platform,created_at,timezone,text,media,likes,comments,shares,impressions,followers\n";

/// `count` hourly posts of `account`, with ids `{prefix}-0…`.
fn rows(account: &str, prefix: &str, count: usize) -> String {
    (0..count)
        .map(|i| {
            let at = 1_736_121_600 + i as i64 * 3_600;
            format!("{prefix}-{i},{account},x,{at},UTC,post {i},none,{},{},1,,1000\n", i % 50, i % 7)
        })
        .collect()
}

async fn imported(tenant: &str) -> Fixture {
    let f = fixture(&[]);
    let (status, body) = import(&f.server, tenant, "format=csv", f.csv.clone()).await;
    assert_eq!(status, 200, "{body}");
    f
}

#[tokio::test(flavor = "multi_thread")]
async fn numbers_past_their_maximum_are_refused_and_the_server_lives() {
    let _serial = serial().await;
    let f = imported("acme").await;
    let s = &f.server;
    let get = |query: &str| {
        reqwest::Client::new()
            .get(s.url(&format!("/v1/accounts/acct-00001/best-times?{query}")))
            .header("x-tenant-id", "acme")
    };
    // Once an 8.8 TB allocation (SIGABRT) and a capacity-overflow panic.
    for top_k in ["100000000000", "18446744073709551615", "4294967295", "673"] {
        let (status, body) = send(s, get(&format!("top_k={top_k}"))).await;
        assert_eq!(status, 422, "{top_k}: {body}");
        assert!(message(&body).contains("672"), "{body}");
        let top_k: u64 = top_k.parse().unwrap();
        let (status, body) = post(s, "acme", "/v1/accounts/acct-00001/best-times", json!({"top_k": top_k})).await;
        assert_eq!(status, 422, "{body}");
    }
    let (status, body) = send(s, get("top_k=18446744073709551616")).await;
    assert_eq!(status, 422, "{body}");
    let (status, body) = send(s, get("top_k=672&min_spacing_hours=0&resolution_minutes=15")).await;
    assert_eq!((status, body["top"].as_array().map(Vec::len)), (StatusCode::OK, Some(672)), "{body}");
    let blackouts: Vec<Value> = (0..65).map(|_| json!({"start": "01:00", "end": "02:00"})).collect();
    let (status, body) = post(s, "acme", "/v1/accounts/acct-00001/best-times", json!({"blackouts": blackouts})).await;
    assert_eq!(status, 422, "{body}");

    let mut client = grpc_client(s).await;
    let request = BestTimesRequest { account_id: "acct-00001".into(), top_k: u32::MAX, ..Default::default() };
    assert_eq!(client.best_times(tenant(request, "acme")).await.unwrap_err().code(), Code::InvalidArgument);
    // gRPC carries raw seconds: the same range as REST's parsed times.
    for at in [i64::MIN, i64::MAX, -1, 0] {
        let request = ForecastRequest {
            account_id: "acct-00001".into(),
            text: "hi".into(),
            candidate_times: vec![1_764_576_000, at],
            ..Default::default()
        };
        let error = client.forecast(tenant(request, "acme")).await.unwrap_err();
        assert_eq!(error.code(), Code::InvalidArgument, "{at}: {error:?}");
        assert!(error.message().contains("candidate_times[1]"), "{}", error.message());
    }
    let (status, body) =
        post(s, "acme", "/v1/accounts/acct-00001/forecast", json!({"text": "hi", "candidate_times": [-1]})).await;
    assert_eq!(status, 422, "{body}");
    health(s).await;
    drop(client);
    s.shutdown_and_wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn out_of_range_counts_are_row_errors_and_never_poison_a_tenant() {
    let _serial = serial().await;
    let f = imported("acme").await;
    let s = &f.server;
    let poison = format!(
        "{HEADER}p1,poison,x,1736121600,UTC,a,none,9223372036854775808,0,0,,\n\
         p2,poison,x,1736125200,UTC,b,none,9223372036854775807,1,0,,\n\
         p3,poison,x,1736128800,UTC,c,none,-1,0,0,,\n\
         p4,poison,x,1736132400,UTC,d,none,0,0,0,,9007199254740993\n\
         p5,poison,x,1736136000,UTC,e,none,9007199254740992,0,0,,\n\
         {}",
        rows("poison", "ok", 40)
    );
    let (status, body) = import(s, "acme", "format=csv", poison.into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let bad: Vec<u64> = body["errors"].as_array().unwrap().iter().map(|e| e["row"].as_u64().unwrap()).collect();
    assert_eq!(bad, [1, 2, 3, 4], "{body}");
    assert_eq!(body["imported"], 41);
    // The account and the tenant stay importable and answer with numbers.
    let (status, body) = import(s, "acme", "format=csv", format!("{HEADER}{}", rows("poison", "more", 5)).into()).await;
    assert_eq!(status, 200, "{body}");
    for account in ["poison", "acct-00003"] {
        let (status, best) = post(s, "acme", &format!("/v1/accounts/{account}/best-times"), json!({})).await;
        assert_eq!(status, 200, "{best}");
        for slot in best["top"].as_array().unwrap() {
            assert!(slot["lift"].as_f64().is_some_and(f64::is_finite), "{slot}");
        }
    }
    let (status, forecast) = post(s, "acme", "/v1/accounts/acct-00003/forecast", json!({"text": "hello"})).await;
    assert_eq!(status, 200, "{forecast}");
    assert!(forecast["best"]["engagement"].as_f64().unwrap() > 0.0, "{forecast}");
    s.shutdown_and_wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn any_account_id_is_stored_and_an_import_stores_every_account_or_none() {
    let _serial = serial().await;
    let f = fixture(&[]);
    let s = &f.server;
    let (dots, accents, too_long) = (".".repeat(90), "é".repeat(100), "x".repeat(201));
    let csv = format!("{HEADER}{}{}{}", rows("plain", "a", 3), rows(&dots, "b", 3), rows(&accents, "c", 3));
    let (status, body) = import(s, "ids", "format=csv", csv.into_bytes()).await;
    assert_eq!(status, 200, "{body}");
    let mut stored: Vec<&str> =
        body["accounts"].as_array().unwrap().iter().map(|a| a["account_id"].as_str().unwrap()).collect();
    stored.sort();
    assert_eq!(stored, [dots.as_str(), "plain", accents.as_str()]);
    let mut client = grpc_client(s).await;
    for account in [&dots, &accents] {
        let request = BestTimesRequest { account_id: account.clone(), ..Default::default() };
        let best = client.best_times(tenant(request, "ids")).await.unwrap().into_inner();
        assert_eq!(best.account_posts, 3);
    }
    // An id over the limit is that row's error, not the file's.
    let csv = format!("{HEADER}{}{}", rows(&too_long, "d", 2), rows("plain", "d", 1));
    let (status, body) = import(s, "ids", "format=csv", csv.into_bytes()).await;
    assert_eq!((status, body["error_count"].as_u64()), (StatusCode::OK, Some(2)), "{body}");
    assert!(body["errors"][0]["reason"].as_str().unwrap().len() < 200, "{body}");

    // A disk fault on one account (its file's name is taken by a folder) stores none of the
    // file's accounts, and the client is told nothing about the server's paths.
    std::fs::create_dir_all(f.dir.path().join("data/history/ids/blocked.parquet/x")).unwrap();
    let csv = format!("{HEADER}{}{}", rows("plain", "e", 4), rows("blocked", "f", 4));
    let (status, body) = import(s, "ids", "format=csv", csv.into_bytes()).await;
    assert_eq!(status, 500, "{body}");
    let said = message(&body);
    assert!(!said.contains('/') && !said.contains(&std::process::id().to_string()), "{said}");
    // With the fault gone, the tenant reads exactly as before the failed import.
    std::fs::remove_dir_all(f.dir.path().join("data/history/ids/blocked.parquet")).unwrap();
    let request = BestTimesRequest { account_id: "plain".into(), ..Default::default() };
    let best = client.best_times(tenant(request, "ids")).await.unwrap().into_inner();
    assert_eq!(best.account_posts, 4, "the other account of the failed file was not stored");
    drop(client);
    s.shutdown_and_wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_quote_at_most_a_short_prefix_of_the_input() {
    let _serial = serial().await;
    let f = fixture(&[]);
    let s = &f.server;
    // One 8 MB line: a header naming no known column.
    let (status, body) = import(s, "acme", "format=csv", vec![b'a'; 8 << 20]).await;
    assert_eq!(status, 422);
    assert!(body.to_string().len() < 2_048, "{} bytes", body.to_string().len());
    // A row whose every field is bad and huge.
    let huge = "9".repeat(4 << 20);
    let csv = format!("{HEADER}{huge},{huge},x,{huge},UTC,t,none,{huge},0,0,,,\n");
    let (status, body) = import(s, "acme", "format=csv", csv.into_bytes()).await;
    assert_eq!(status, 422);
    assert!(body.to_string().len() < 2_048, "{} bytes", body.to_string().len());
    // A 10 KB tenant id and a 1.9 MiB account id: short, readable errors on both protocols.
    let long_tenant = "t".repeat(10_000);
    let (status, body) = post(s, &long_tenant, "/v1/accounts/a/best-times", json!({})).await;
    assert_eq!(status, 422);
    assert!(body.to_string().len() < 2_048);
    let mut client = grpc_client(s).await;
    let request = BestTimesRequest { account_id: "a".into(), ..Default::default() };
    let error = client.best_times(tenant(request, &long_tenant)).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument, "{error:?}");
    let request = BestTimesRequest { account_id: "é".repeat(1_000_000), ..Default::default() };
    let error = client.best_times(tenant(request, "acme")).await.unwrap_err();
    assert_eq!(error.code(), Code::InvalidArgument, "{error:?}");
    assert!(error.message().len() < 1_100);
    drop(client);
    s.shutdown_and_wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_and_odd_files_are_refused_cheaply() {
    let _serial = serial().await;
    let f = fixture(&[]);
    let s = &f.server;
    // A header of a million columns.
    let wide = format!("{}\n1,a,x,1736121600\n", (0..1_000_000).map(|i| format!("c{i}")).collect::<Vec<_>>().join(","));
    let (status, body) = import(s, "acme", "format=csv", wide.into_bytes()).await;
    assert!(status == 413 || status == 422, "{status}: {body}");
    // 2 million rows that compress to almost nothing: refused from the file's metadata.
    let n = 2_000_000;
    let mut frame = df!(
        "post_id" => vec!["p"; n], "account_id" => vec!["a"; n], "platform" => vec!["x"; n],
        "created_at" => vec![1_736_121_600i64; n], "text" => vec!["t"; n],
    )
    .unwrap();
    let mut parquet = Vec::new();
    ParquetWriter::new(&mut parquet).finish(&mut frame).unwrap();
    drop(frame);
    assert!(parquet.len() < 1 << 20, "{} bytes", parquet.len());
    reset_peak();
    let before = status_kib("VmHWM");
    let (status, body) = import(s, "acme", "format=parquet", parquet).await;
    assert_eq!(status, 413, "{body}");
    let grew = status_kib("VmHWM").saturating_sub(before);
    assert!(grew < 100 * 1024, "peak grew {grew} KiB");
    health(s).await;
    s.shutdown_and_wait();
}

/// Resets this process's peak resident size (`VmHWM`).
fn reset_peak() {
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_uploads_at_the_limit_take_bounded_memory() {
    let _serial = serial().await;
    const LIMIT: usize = 16 << 20;
    let limit = LIMIT.to_string();
    let f = fixture(&["--max-import-bytes", &limit, "--max-concurrent-imports", "2"]);
    let s = &f.server;
    // Rows that parse but fail (a bad time), one good one: the cost is the upload and the parse.
    let mut csv = format!("{HEADER}{}", rows("a", "ok", 1)).into_bytes();
    let bad_row = b"x,a,x,soon,UTC,a post that is never stored,none,1,2,3,,,\n";
    while csv.len() + bad_row.len() <= LIMIT {
        csv.extend_from_slice(bad_row);
    }
    let body = bytes::Bytes::from(csv);
    // The model loads in the background at start: let it finish before measuring.
    crate::common::wait_ready(s).await;
    reset_peak();
    let before = status_kib("VmHWM");
    let client = reqwest::Client::new();
    let uploads = (0..8).map(|i| {
        client
            .post(s.url("/v1/history:import?format=csv"))
            .header("x-tenant-id", format!("upload-{i}"))
            .body(body.clone())
            .send()
    });
    for response in futures::future::join_all(uploads).await {
        assert_eq!(response.unwrap().status(), 200);
    }
    let grew = status_kib("VmHWM").saturating_sub(before);
    eprintln!("8 concurrent {LIMIT}-byte uploads: peak resident grew {} MiB", grew / 1024);
    // Two slots: the server holds about two uploads and their parses at once (measured: 7 × LIMIT
    // with this client's own buffers); with a slot per upload it was 13 × LIMIT.
    assert!(grew < 10 * (LIMIT as u64 / 1024), "peak grew {grew} KiB");
    s.shutdown_and_wait();
}

/// Asks best times for each tenant, 16 at a time; the answers' statuses.
async fn ask_as(s: &crate::common::TestServer, tenants: impl Iterator<Item = String>) -> Vec<StatusCode> {
    let client = reqwest::Client::new();
    let requests = tenants.map(|tenant| {
        let request = client.post(s.url("/v1/accounts/acct-00001/best-times")).header("x-tenant-id", tenant);
        async move { request.json(&json!({})).send().await.unwrap().status() }
    });
    futures::stream::iter(requests).buffer_unordered(16).collect().await
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_tenants_keep_nothing() {
    let _serial = serial().await;
    let f = imported("acme").await;
    let s = &f.server;
    // The import's own background work (embedding its posts into the vector store) is done
    // before memory is measured: only what the requests below leave behind is in question.
    crate::common::history::wait_indexed(s, "acme", Duration::from_secs(300)).await;
    // Rounds of 10,000 unknown and 1,000 invalid ids, each new. State kept per tenant (once
    // ~22.6 KB each) would grow every round by ~220 MB; what the first round sets up once
    // (connections, buffers, the allocator's pools), or other tests of this process allocate
    // meanwhile, shows in one round at most, so the smaller of two rounds' growth is the measure.
    let mut resident = Vec::new();
    for round in 0..3 {
        let unknown = ask_as(s, (0..10_000).map(|i| format!("tenant-{round}-{i}"))).await;
        assert!(unknown.iter().all(|status| *status == StatusCode::NOT_FOUND));
        let invalid = ask_as(s, (0..1_000).map(|i| format!("{}/{round}-{i}", "x".repeat(8_000)))).await;
        assert!(invalid.iter().all(|status| *status == StatusCode::UNPROCESSABLE_ENTITY));
        resident.push(status_kib("VmRSS"));
    }
    let grew = resident.windows(2).map(|pair| pair[1].saturating_sub(pair[0])).min().unwrap();
    eprintln!("10,000 more unknown tenants and 1,000 more invalid 8 KB ids: resident grew {grew} KiB");
    assert!(grew < 5 * 1024, "grew {grew} KiB ({resident:?})");
    s.shutdown_and_wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn outside_the_import_root_every_path_gets_one_answer_even_mid_swap() {
    let _serial = serial().await;
    let f = fixture(&[]);
    let s = &f.server;
    let (root, outside) = (f.dir.path().join("imports"), f.dir.path().join("outside"));
    for (dir, account) in [(root.join("dir"), "inside"), (outside.join("dir"), "secret")] {
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("posts.csv"), format!("{HEADER}{}", rows(account, account, 3))).unwrap();
    }
    std::os::unix::fs::symlink(outside.join("dir/posts.csv"), root.join("link.csv")).unwrap();
    let (_, missing) = import(s, "paths", "path=nothing-here.csv", vec![]).await;
    for path in ["/etc/shadow", "../outside/dir/posts.csv", "link.csv", "dir", "/etc/passwd", "nothing-here.csv"] {
        let (status, body) = import(s, "paths", &format!("path={path}"), vec![]).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(message(&body).replace(path, "nothing-here.csv"), message(&missing), "{path}");
    }
    // A folder inside the root swapped for a link to outside while imports run.
    let stop = Arc::new(AtomicBool::new(false));
    let swapper = {
        let (stop, root, outside) = (Arc::clone(&stop), root.clone(), outside.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::fs::rename(root.join("dir"), root.join("dir-real")).unwrap();
                std::os::unix::fs::symlink(outside.join("dir"), root.join("dir")).unwrap();
                std::thread::sleep(Duration::from_micros(200));
                std::fs::remove_file(root.join("dir")).unwrap();
                std::fs::rename(root.join("dir-real"), root.join("dir")).unwrap();
                std::thread::sleep(Duration::from_micros(200));
            }
        })
    };
    let started = Instant::now();
    let mut answered = 0;
    while started.elapsed() < Duration::from_secs(4) {
        let (status, body) = import(s, "paths", "path=dir/posts.csv", vec![]).await;
        assert!(status == 200 || status == 404, "{status}: {body}");
        if status == 200 {
            assert_eq!(body["accounts"][0]["account_id"], "inside", "{body}");
            answered += 1;
        }
    }
    stop.store(true, Ordering::Relaxed);
    swapper.join().unwrap();
    assert!(answered > 0);
    let (status, _) = post(s, "paths", "/v1/accounts/secret/best-times", json!({})).await;
    assert_eq!(status, 404);
    s.shutdown_and_wait();
}

#[tokio::test(flavor = "multi_thread")]
async fn the_batch_cli_and_the_server_writing_one_account_lose_nothing() {
    let _serial = serial().await;
    let f = fixture(&[]);
    let s = &f.server;
    let data = f.dir.path().join("data");
    for round in 0..3 {
        let cli_file = f.dir.path().join(format!("cli-{round}.csv"));
        std::fs::write(&cli_file, format!("{HEADER}{}", rows("shared", &format!("cli{round}"), 3_000))).unwrap();
        let cli = {
            let (cli_file, data) = (cli_file.clone(), data.clone());
            std::thread::spawn(move || {
                std::process::Command::new(env!("CARGO_BIN_EXE_eiq"))
                    .args(["batch", "import", "--tenant", "race", "--input"])
                    .arg(&cli_file)
                    .arg("--data-dir")
                    .arg(&data)
                    .output()
                    .unwrap()
            })
        };
        let csv = format!("{HEADER}{}", rows("shared", &format!("api{round}"), 3_000));
        let (status, body) = import(s, "race", "format=csv", csv.into_bytes()).await;
        assert_eq!(status, 200, "{body}");
        let output = cli.join().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        // The server sees the other process's import without a restart.
        let (status, best) = post(s, "race", "/v1/accounts/shared/best-times", json!({})).await;
        assert_eq!((status, best["account_posts"].as_u64()), (StatusCode::OK, Some(6_000 * (round + 1))));
    }
    s.shutdown_and_wait();
}
