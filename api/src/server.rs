//! Start-up and shutdown: one listener, REST and gRPC on it, models loading in the background.

use std::future::Future;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use eiq_inference::{InferenceError, ModelRegistry};
use eiq_models::CatalogueError;
use tokio::net::TcpListener;

use crate::config::ServeArgs;
use crate::error::ApiError;
use crate::rest::{self, AppState};
use crate::service::EmbeddingService;
use crate::{grpc, telemetry};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error("configuration: {0}")]
    Config(#[from] InferenceError),
    #[error("binding {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error("serving: {0}")]
    Io(#[from] std::io::Error),
}

/// Binds `args.bind` and serves until SIGINT or SIGTERM, then drains in-flight requests.
pub async fn run(args: ServeArgs) -> Result<(), ServeError> {
    let listener = TcpListener::bind(args.bind)
        .await
        .map_err(|source| ServeError::Bind { address: args.bind.to_string(), source })?;
    tracing::info!(address = %args.bind, "serving REST and gRPC");
    serve(args, listener, shutdown_signal()).await
}

/// Serves on `listener` until `shutdown` completes.
pub async fn serve(
    args: ServeArgs,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let app = app(&args)?;
    axum::serve(listener, app).with_graceful_shutdown(shutdown).await?;
    tracing::info!("stopped");
    Ok(())
}

/// The whole HTTP surface; models start loading as a side effect.
pub fn app(args: &ServeArgs) -> Result<Router, ServeError> {
    let catalogue = args.catalogue.catalogue()?;
    let registry = ModelRegistry::new(&catalogue, &args.models, &args.default_model)?;
    registry.spawn_loading(catalogue, args.catalogue.cache(), args.load_options());
    let embeddings = EmbeddingService::new(registry, args.max_inputs);
    let state = AppState { embeddings: embeddings.clone(), metrics: telemetry::prometheus() };
    Ok(rest::router(state, args.max_body_bytes)
        .merge(grpc::routes(embeddings, args.max_body_bytes).into_axum_router())
        .route_layer(middleware::from_fn(telemetry::track_requests))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found))
}

async fn not_found(request: Request) -> Response {
    let grpc = request.headers().get("content-type").is_some_and(|v| v.as_bytes().starts_with(b"application/grpc"));
    if grpc {
        return tonic::Status::unimplemented(format!("no gRPC service at {}", request.uri().path())).into_http();
    }
    let message = format!("no route {} {}; see GET /openapi.json", request.method(), request.uri().path());
    ApiError::Rejected { status: StatusCode::NOT_FOUND, message }.into_response()
}

async fn method_not_allowed(request: Request) -> Response {
    let message = format!("{} is not allowed on {}", request.method(), request.uri().path());
    ApiError::Rejected { status: StatusCode::METHOD_NOT_ALLOWED, message }.into_response()
}

async fn shutdown_signal() {
    let interrupt = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending().await,
        }
    };
    tokio::select! {
        () = interrupt => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: draining in-flight requests");
}
