//! A server with its own data folder and import root, a synthetic history, and the requests
//! the engagement tests send.

use eiq_datasets::{SyntheticConfig, generate};
use eiq_features::posts_to_frame;
use eiq_proto::v1::engagement_client::EngagementClient;
use reqwest::StatusCode;
use serde_json::Value;

use super::{TestServer, start};

/// A server with its own data folder (and an import root inside it), and a synthetic history as CSV.
pub struct Fixture {
    pub server: TestServer,
    pub dir: tempfile::TempDir,
    pub csv: Vec<u8>,
}

pub fn fixture(extra: &[&str]) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let imports = dir.path().join("imports");
    std::fs::create_dir_all(&imports).unwrap();
    let (data, imports) = (data.to_str().unwrap().to_string(), imports.to_str().unwrap().to_string());
    let mut flags = vec!["--models", "minilm-l6-v2", "--data-dir", &data, "--import-root", &imports];
    flags.extend_from_slice(extra);
    let server = start(&flags);
    let csv =
        synthetic_csv(&SyntheticConfig { accounts: 30, posts_per_account: 120, ..Default::default() }, dir.path());
    Fixture { server, csv, dir }
}

/// The synthetic history of `config` as canonical CSV, written to `<dir>/history.csv` too.
pub fn synthetic_csv(config: &SyntheticConfig, dir: &std::path::Path) -> Vec<u8> {
    let posts = generate(config).posts;
    let path = dir.join("history.csv");
    eiq_features::io::write_csv(&mut posts_to_frame(&posts).unwrap(), &path).unwrap();
    std::fs::read(&path).unwrap()
}

pub async fn send(server: &TestServer, request: reqwest::RequestBuilder) -> (StatusCode, Value) {
    let _ = server;
    let response = request.send().await.unwrap();
    let status = response.status();
    let text = response.text().await.unwrap();
    (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
}

pub async fn import(server: &TestServer, tenant: &str, query: &str, body: Vec<u8>) -> (StatusCode, Value) {
    let request = reqwest::Client::new()
        .post(server.url(&format!("/v1/history:import?{query}")))
        .header("x-tenant-id", tenant)
        .body(body);
    send(server, request).await
}

pub async fn post(server: &TestServer, tenant: &str, path: &str, body: Value) -> (StatusCode, Value) {
    send(server, reqwest::Client::new().post(server.url(path)).header("x-tenant-id", tenant).json(&body)).await
}

pub fn message(body: &Value) -> String {
    body["error"]["message"].as_str().unwrap_or_default().to_string()
}

pub async fn grpc_client(server: &TestServer) -> EngagementClient<tonic::transport::Channel> {
    EngagementClient::connect(format!("http://{}", server.addr)).await.unwrap()
}

/// A gRPC request acting for `tenant`.
pub fn tenant<T>(message: T, tenant: &str) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("x-tenant-id", tenant.parse().unwrap());
    request
}

pub async fn get(server: &TestServer, tenant: &str, path: &str) -> (StatusCode, Value) {
    send(server, reqwest::Client::new().get(server.url(path)).header("x-tenant-id", tenant)).await
}

/// Waits until every account of `tenant` is in the post index whole (an import indexes in the
/// background); the accounts listing.
pub async fn wait_indexed(server: &TestServer, tenant: &str, timeout: std::time::Duration) -> Value {
    let started = std::time::Instant::now();
    loop {
        let (status, body) = get(server, tenant, "/v1/accounts").await;
        if status == 200
            && body["accounts"].as_array().is_some_and(|a| a.iter().all(|a| a["indexed_posts"] == a["posts"]))
        {
            return body;
        }
        assert!(started.elapsed() < timeout, "{tenant} not indexed in {timeout:?}: {status} {body}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
}
