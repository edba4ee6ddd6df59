//! Hostile clients against a real server: every finding of the attack review (issue #14) as a
//! regression test. Each test starts its own `eiq serve`, sends what an attacker sent, and
//! asserts the answer code, that the process is still alive and answering, and, where the
//! attack was about resources, a bound read from `/proc/self/status` (the server runs in this
//! process).

#[path = "../common/mod.rs"]
mod common;

mod connections;
mod engagement;
mod text;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use common::TestServer;

/// A field of `/proc/self/status` in KiB (`VmRSS`, `VmHWM`).
pub fn status_kib(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let line = status.lines().find(|l| l.starts_with(field)).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `/health` answers 200; returns how long it took.
pub async fn health(server: &TestServer) -> Duration {
    let started = Instant::now();
    let response = reqwest::Client::new()
        .get(server.url("/health"))
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .expect("the server is alive");
    assert_eq!(response.status(), 200);
    started.elapsed()
}

/// The slowest of `/health` probes, taken every 20 ms while `work` runs.
pub async fn slowest_health_during(server: &TestServer, work: impl std::future::Future<Output = ()>) -> Duration {
    let done = AtomicBool::new(false);
    let probe = async {
        let mut slowest = Duration::ZERO;
        while !done.load(Ordering::Relaxed) {
            slowest = slowest.max(health(server).await);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        slowest
    };
    let work = async {
        work.await;
        done.store(true, Ordering::Relaxed);
    };
    let ((), slowest) = tokio::join!(work, probe);
    slowest
}

/// Tests here measure this process's memory and the server's latency, so they run one at a time.
pub async fn serial() -> tokio::sync::MutexGuard<'static, ()> {
    static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    SERIAL.lock().await
}
