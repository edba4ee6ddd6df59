//! `grpc.health.v1.Health` decoded like every other service here.
//!
//! tonic-health's server decodes with prost's codec, which answers an undecodable request with
//! `INTERNAL`. This is the same service generated with [`ClientErrorCodec`](crate::codec), so a
//! bad request is `INVALID_ARGUMENT`; each call goes to tonic-health's [`HealthService`], so its
//! [`HealthReporter`] still sets the statuses and the messages are tonic-health's own.

use tonic::{Request, Response, Status};
use tonic_health::pb::health_server::Health as TonicHealth;
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tonic_health::server::{HealthReporter, HealthService};

#[allow(clippy::all, missing_docs)]
mod generated {
    tonic::include_proto!("grpc.health.v1");
}

pub use generated::health_server::{Health, HealthServer};

/// The health service and the reporter that sets its statuses (`""` starts `SERVING`).
pub fn health_reporter() -> (HealthReporter, HealthServer<HealthService>) {
    let reporter = HealthReporter::new();
    let service = HealthService::from_health_reporter(reporter.clone());
    (reporter, HealthServer::new(service))
}

#[tonic::async_trait]
impl Health for HealthService {
    type WatchStream = <HealthService as TonicHealth>::WatchStream;

    async fn check(&self, request: Request<HealthCheckRequest>) -> Result<Response<HealthCheckResponse>, Status> {
        TonicHealth::check(self, request).await
    }

    async fn watch(&self, request: Request<HealthCheckRequest>) -> Result<Response<Self::WatchStream>, Status> {
        TonicHealth::watch(self, request).await
    }
}
