//! A real `eiq` server on an ephemeral loopback port, on the real pinned models (fetched once
//! into the user's cache, or `EIQ_MODELS_DIR`, and reused by later runs).

#![allow(dead_code)] // each test binary uses its own subset

pub mod browser;
pub mod history;
pub mod tenants;

use std::net::SocketAddr;
use std::sync::{Mutex, OnceLock};
use std::time::Duration;

use clap::Parser;
use eiq::config::{Cli, Command, ServeArgs};
use eiq_models::{Catalogue, FetchOptions, fetch_with_dependencies};
use tokio::sync::oneshot;

pub struct TestServer {
    pub addr: SocketAddr,
    stop: Mutex<Option<oneshot::Sender<()>>>,
    stopped: Mutex<Option<std::sync::mpsc::Receiver<()>>>,
}

impl TestServer {
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// POSTs `body` as JSON to `path`; the status and the JSON answer.
    pub async fn post_json(&self, path: &str, body: &serde_json::Value) -> (reqwest::StatusCode, serde_json::Value) {
        let response = reqwest::Client::new().post(self.url(path)).json(body).send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap())
    }

    /// Sends the shutdown signal and waits until the server has drained and returned.
    pub fn shutdown_and_wait(&self) {
        if let Some(stop) = self.stop.lock().unwrap().take() {
            let _ = stop.send(());
        }
        if let Some(stopped) = self.stopped.lock().unwrap().take() {
            stopped.recv_timeout(Duration::from_secs(60)).expect("server stopped within 60 s");
        }
    }
}

/// Serve flags as a user would type them after `eiq serve`.
pub fn serve_args(extra: &[&str]) -> ServeArgs {
    let mut argv = vec!["eiq", "serve"];
    argv.extend_from_slice(extra);
    match Cli::try_parse_from(argv).expect("valid test flags").command {
        Command::Serve(args) => *args,
        other => panic!("not serve: {other:?}"),
    }
}

/// Fetches every model the default `eiq serve` loads, and the word lists beside them (profanity,
/// word frequencies), as `eiq models fetch` would.
pub fn ensure_models_fetched() {
    static FETCHED: OnceLock<()> = OnceLock::new();
    FETCHED.get_or_init(|| {
        let args = serve_args(&[]);
        let catalogue = Catalogue::builtin().unwrap();
        for id in args.models.iter().map(String::as_str).chain(["profanity-wordlist", "wordsegment"]) {
            fetch_with_dependencies(&catalogue, &args.catalogue.cache(), id, &FetchOptions::default()).unwrap();
        }
    });
}

/// Starts a server with `extra` flags on its own runtime thread; it runs until shut down or the
/// test process exits.
pub fn start(extra: &[&str]) -> TestServer {
    ensure_models_fetched();
    // A server of its own data folder unless the test names one: never the user's, whose
    // tenants would end development mode.
    let data = (!extra.contains(&"--data-dir")).then(|| tempfile::tempdir().unwrap().keep());
    let mut argv = extra.to_vec();
    let data_flag = data.as_ref().map(|dir| dir.to_string_lossy().into_owned());
    if let Some(dir) = &data_flag {
        argv.extend(["--data-dir", dir]);
    }
    let args = serve_args(&argv);
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop, stop_rx) = oneshot::channel::<()>();
    let (stopped_tx, stopped) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async move {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            eiq::server::serve(args, listener, async move {
                let _ = stop_rx.await;
            })
            .await
            .unwrap();
        });
        // Dropping the runtime waits for its blocking work (the vector store's last flush), so
        // that a test may delete the data folder once the server has stopped.
        drop(runtime);
        let _ = stopped_tx.send(());
    });
    let addr = addr_rx.recv_timeout(Duration::from_secs(30)).expect("server bound a port");
    TestServer { addr, stop: Mutex::new(Some(stop)), stopped: Mutex::new(Some(stopped)) }
}

/// Polls `/ready` until it answers 200.
pub async fn wait_ready(server: &TestServer) {
    let client = reqwest::Client::new();
    for _ in 0..600 {
        if let Ok(response) = client.get(server.url("/ready")).send().await
            && response.status() == 200
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("server not ready after 60 s");
}

/// The server with default flags, shared by every test of one test binary.
pub async fn shared() -> &'static TestServer {
    static SERVER: OnceLock<TestServer> = OnceLock::new();
    let server = SERVER.get_or_init(|| start(&[]));
    wait_ready(server).await;
    server
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}
