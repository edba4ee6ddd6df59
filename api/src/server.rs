//! Start-up and shutdown: one listener, REST and gRPC on it, models loading in the background.
//! How connections are accepted, timed out and drained is `connections`; how request bodies
//! are timed and gRPC framing checked is `request_body`.

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::http::StatusCode;
use axum::middleware;
use axum::response::{IntoResponse, Response};
use eiq_inference::{HeadsFile, InferenceError, Lexicon, ModelRegistry, WordSegmenter};
use eiq_models::{Catalogue, CatalogueError, FileRole};
use eiq_service::audit::AuditLog;
use eiq_service::auth::{AuthSettings, Authenticator, JwtVerifier};
use eiq_service::engagement::ImportSettings;
use eiq_service::publishing::scheduler::Scheduler;
use eiq_service::publishing::{Outbox, PostStore, PublishingParts, PublishingService, WebhookSender};
use eiq_service::retention::RetentionJob;
use eiq_service::tenants::{DatabaseError, PlanBook, TenantDirectory};
use eiq_service::text::{PolicyBook, gate_categories};
use eiq_service::usage::UsageMeter;
use eiq_service::{Services, ServicesConfig};
use tokio::net::TcpListener;

use crate::config::ServeArgs;
use crate::connections::{self, Limits};
use crate::error::ApiError;
use crate::principal::Guard;
use crate::rest;
use crate::{grpc, principal, request_body, telemetry};

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Catalogue(#[from] CatalogueError),
    #[error("configuration: {0}")]
    Config(#[from] InferenceError),
    #[error("policies: {0}")]
    Policies(String),
    #[error("binding {address}: {source}")]
    Bind { address: String, source: std::io::Error },
    #[error(transparent)]
    Database(#[from] DatabaseError),
    #[error("authentication: {0}")]
    Auth(String),
    #[error("publishing: {0}")]
    Publishing(String),
    #[error(
        "refusing to serve {0} without authentication: no tenant exists yet. Create one \
         (`eiq tenants create NAME --plan starter`) and call with its key, listen on loopback \
         (--bind 127.0.0.1:8080), or accept the risk with --insecure-no-auth"
    )]
    Unauthenticated(SocketAddr),
}

/// Binds `args.bind` and serves until SIGINT or SIGTERM, then drains in-flight requests.
pub async fn run(args: ServeArgs) -> Result<(), ServeError> {
    let listener = TcpListener::bind(args.bind)
        .await
        .map_err(|source| ServeError::Bind { address: args.bind.to_string(), source })?;
    tracing::info!(address = %args.bind, "serving REST and gRPC");
    serve(args, listener, shutdown_signal()).await
}

/// Serves on `listener` until `shutdown` completes, then drains in-flight requests.
pub async fn serve(
    args: ServeArgs,
    listener: TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), ServeError> {
    let address =
        listener.local_addr().map_err(|source| ServeError::Bind { address: args.bind.to_string(), source })?;
    let (guard, layer) = tenant_layer(&args, address).await?;
    let usage = layer.usage.clone();
    let app = app(&args, guard, layer)?;
    let limits = Limits {
        header_read: Duration::from_secs(args.header_read_timeout_secs),
        idle: Duration::from_secs(args.idle_timeout_secs),
        max_connections: args.max_connections,
    };
    connections::serve(listener, app, limits, shutdown).await;
    if let Err(error) = usage.flush().await {
        tracing::error!(%error, "storing the last usage counts failed");
    }
    tracing::info!("stopped");
    Ok(())
}

/// How often usage counts are added to the tenant database.
const USAGE_FLUSH: Duration = Duration::from_secs(1);

/// The tenant layer's handles that routes need beside the capabilities.
#[derive(Clone)]
pub struct TenantLayer {
    pub tenants: TenantDirectory,
    pub audit: AuditLog,
    pub usage: UsageMeter,
}

/// Opens the tenant database and decides how callers authenticate on `address`: development
/// mode is allowed only while no tenant exists, and only on loopback unless the operator insists.
async fn tenant_layer(args: &ServeArgs, address: SocketAddr) -> Result<(Guard, TenantLayer), ServeError> {
    let database = args.database.open().await?;
    let mut directory = TenantDirectory::new(database.clone());
    if let Some(path) = &args.auth.plans {
        directory = directory.with_plans(PlanBook::from_file(path).map_err(ServeError::Auth)?);
    }
    let jwt = args.auth.jwt().map(JwtVerifier::from_file).transpose().map_err(ServeError::Auth)?;
    let has_tenants = directory.has_tenants().await.map_err(|e| ServeError::Auth(e.to_string()))?;
    let loopback = address.ip().is_loopback();
    if !has_tenants && !loopback && !args.auth.insecure_no_auth {
        return Err(ServeError::Unauthenticated(address));
    }
    if !has_tenants {
        tracing::warn!(
            "DEVELOPMENT MODE, NO AUTHENTICATION: no tenant exists, so every request acts as the admin of the \
             tenant its x-tenant-id names (default `default`). Create a tenant (eiq tenants create) to require keys."
        );
    }
    let settings =
        AuthSettings { development_allowed: loopback || args.auth.insecure_no_auth, jwt, rate: args.auth.rate() };
    let audit = AuditLog::new(database.clone());
    let usage = UsageMeter::new(database);
    usage.spawn_flusher(USAGE_FLUSH);
    let guard = Guard::new(Authenticator::new(directory.clone(), settings), audit.clone(), usage.clone());
    Ok((guard, TenantLayer { tenants: directory, audit, usage }))
}

/// The whole HTTP surface; models start loading as a side effect.
pub fn app(args: &ServeArgs, guard: Guard, layer: TenantLayer) -> Result<Router, ServeError> {
    let catalogue = args.catalogue.catalogue()?;
    let cache = args.catalogue.cache();
    let registry = ModelRegistry::new(&catalogue, &args.models, &args.default_model)?;
    if !registry.serves(&args.text_model) {
        tracing::warn!(text_model = %args.text_model, "not among --models: analysis, moderation and the gate answer 503");
    }
    let policies = policy_book(args.policies.as_deref(), &catalogue, &args.text_model)?;
    let profanity = Lexicon::load_profanity(&catalogue, &cache);
    let segmenter = WordSegmenter::load(&catalogue, &cache);
    registry.spawn_loading(catalogue, cache, args.load_options());
    let services = Services::new(ServicesConfig {
        registry,
        text_model: args.text_model.clone(),
        profanity,
        segmenter,
        max_inputs: args.max_inputs,
        policies,
        gate_timeout: Duration::from_millis(args.gate_timeout_ms),
        caption_model: args.caption_model.clone(),
        caption_timeout: Duration::from_millis(args.caption_timeout_ms),
        images: eiq_service::images::ImageSettings {
            ocr_model: args.ocr_model.clone(),
            max_bytes: args.max_image_bytes,
            max_pixels: args.max_image_pixels,
            max_in_flight: args.max_ocr_in_flight,
        },
        data_dir: args.database.data.dir(),
        vectors: args.vectors.settings(),
        imports: ImportSettings {
            root: args.import_root.clone(),
            max_bytes: args.max_import_bytes,
            max_rows: args.max_import_rows,
            max_concurrent: args.max_concurrent_imports,
            plans: layer.tenants.plans().clone(),
        },
    });
    let retention = RetentionJob {
        directory: layer.tenants.clone(),
        history: services.history.clone(),
        audit: layer.audit.clone(),
    };
    retention.spawn(Duration::from_secs(args.retention_interval_secs));
    let publishing = publishing(args, &services, &layer)?;
    Scheduler::new(publishing.clone(), args.publishing.scheduler())
        .map_err(|e| ServeError::Publishing(e.to_string()))?
        .spawn();
    let grpc = grpc::routes(services.clone(), layer.clone(), publishing.clone(), args.max_body_bytes);
    let body_read_timeout = Duration::from_secs(args.body_read_timeout_secs);
    Ok(rest::router(services, layer, publishing, telemetry::prometheus(), args.max_body_bytes)
        .merge(grpc.into_axum_router())
        .route_layer(middleware::from_fn_with_state(guard, principal::guard))
        .layer(middleware::from_fn_with_state(body_read_timeout, request_body::guard))
        .route_layer(middleware::from_fn(telemetry::track_requests))
        .method_not_allowed_fallback(method_not_allowed)
        .fallback(not_found))
}

/// Publishing over the tenant layer's store and the gate, rules and forecasts of `services`.
fn publishing(args: &ServeArgs, services: &Services, layer: &TenantLayer) -> Result<PublishingService, ServeError> {
    let data_dir = args.database.data.dir();
    let settings = &args.publishing;
    if settings.allow_private_webhooks {
        tracing::warn!("webhooks may reach loopback and private addresses (--allow-private-webhooks)");
    }
    let store = PostStore::new(
        layer.tenants.database().clone(),
        layer.audit.clone(),
        layer.usage.clone(),
        layer.tenants.plans().clone(),
    );
    Ok(PublishingService::new(PublishingParts {
        store,
        gate: services.gate.clone(),
        rules: services.posts.clone(),
        forecast: services.forecast.clone(),
        secrets: settings.secrets(&data_dir).map_err(ServeError::Publishing)?,
        webhooks: WebhookSender::new(settings.allow_private_webhooks).map_err(ServeError::Publishing)?,
        outbox: Outbox::new(&data_dir),
    }))
}

/// The built-in policies, plus those of `path`, checked against the text model's categories.
pub(crate) fn policy_book(
    path: Option<&std::path::Path>,
    catalogue: &Catalogue,
    text_model: &str,
) -> Result<PolicyBook, ServeError> {
    match path {
        None => Ok(PolicyBook::builtin()),
        Some(path) => {
            let categories = bundled_categories(catalogue, text_model);
            PolicyBook::from_file(path, categories.as_deref()).map_err(ServeError::Policies)
        }
    }
}

/// Gate categories of a bundled text model, read from the heads compiled into the binary, so a
/// policy file naming an unknown category fails at start-up; `None` for other models.
fn bundled_categories(catalogue: &Catalogue, model: &str) -> Option<Vec<String>> {
    let manifest = catalogue.get(model).ok()?;
    // Its own heads file, or the one it borrows (the ONNX build borrows the candle model's).
    let (owner, path) = match (&manifest.heads, manifest.file(FileRole::Heads)) {
        (Some(reference), _) => (reference.model.as_deref().unwrap_or(model), reference.file.as_str()),
        (None, Some(own)) => (model, own.path.as_str()),
        (None, None) => return None,
    };
    let heads = eiq_models::bundled_file(owner, path)?;
    let heads: HeadsFile = serde_json::from_slice(heads).ok()?;
    Some(gate_categories(heads.heads.iter().map(|h| (h.task.as_str(), h.labels.as_slice()))))
}

async fn not_found(request: Request) -> Response {
    if request_body::is_grpc(request.headers()) {
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
