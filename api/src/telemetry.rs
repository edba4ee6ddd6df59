//! Logging and Prometheus metrics for the whole process.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

/// Installs the process-wide recorder once (tests start several servers in one process).
pub fn prometheus() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let seconds = [0.001, 0.0025, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0];
            let sizes = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0];
            let tokens = [64.0, 256.0, 1024.0, 2048.0, 4096.0, 8192.0, 16384.0];
            PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &seconds)
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full("eiq_batch_size".into()), &sizes))
                .and_then(|b| b.set_buckets_for_metric(Matcher::Full("eiq_batch_padded_tokens".into()), &tokens))
                .expect("bucket lists are non-empty")
                .install_recorder()
                .expect("no other metrics recorder is installed")
        })
        .clone()
}

/// Counts and times every request, REST and gRPC, by route.
pub async fn track_requests(request: Request, next: Next) -> Response {
    let grpc = request.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    let route = match request.extensions().get::<MatchedPath>() {
        // gRPC services are mounted under one wildcard each; the method path is bounded by them.
        Some(_) if grpc => request.uri().path().to_string(),
        Some(path) => path.as_str().to_string(),
        None => "unmatched".to_string(),
    };
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let protocol = if grpc { "grpc" } else { "http" };
    let status = response.status().as_u16().to_string();
    metrics::counter!("eiq_requests_total", "protocol" => protocol, "route" => route.clone(), "method" => method, "status" => status)
        .increment(1);
    metrics::histogram!("eiq_request_seconds", "protocol" => protocol, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}

pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("EIQ_LOG")
        .or_else(|_| tracing_subscriber::EnvFilter::try_from_default_env())
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ort=warn"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_target(false).try_init();
}
