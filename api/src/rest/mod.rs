//! REST: thin axum handlers, one file per resource, all calling the service layer.
//!
//! Every route is listed once, in [`routes`]: the router and the OpenAPI document are both made
//! from that list (utoipa-axum reads each handler's `#[utoipa::path]`), so a route cannot be
//! served undocumented or documented unserved.

mod accounts;
mod analyze;
mod audit;
mod body_limit;
mod captions;
mod convert;
mod embeddings;
mod gate;
mod hashtags;
mod health;
mod history;
mod images;
mod json;
mod keys;
mod models;
mod moderations;
mod openapi;
mod page;
mod perspective;
mod posts;
mod publishing;
mod search;
mod texts;
mod usage;

use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use eiq_service::Services;
use eiq_service::audit::AuditLog;
use eiq_service::publishing::PublishingService;
use eiq_service::tenants::TenantDirectory;
use eiq_service::usage::UsageMeter;
use metrics_exporter_prometheus::PrometheusHandle;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

pub use openapi::ApiDoc;
pub use publishing::PostBody;

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
    /// Tenants and their keys.
    pub tenants: TenantDirectory,
    pub audit: AuditLog,
    pub usage: UsageMeter,
    pub publishing: PublishingService,
    pub metrics: PrometheusHandle,
    /// This API's OpenAPI document, served at `/openapi.json`.
    pub openapi: Arc<utoipa::openapi::OpenApi>,
}

/// Every route with its handler; `max_body_bytes` bounds requests, `max_import_bytes` history
/// uploads and `max_image_bytes` images.
fn routes(max_body_bytes: usize, max_import_bytes: usize, max_image_bytes: usize) -> OpenApiRouter<AppState> {
    // History uploads have their own, larger limit (--max-import-bytes), enforced as they stream.
    let imports = OpenApiRouter::new()
        .routes(routes!(history::import))
        .layer(axum::middleware::from_fn_with_state(max_import_bytes, body_limit::refuse_oversized));
    // Images have theirs (--max-image-bytes), with room for a multipart form's framing.
    let image_body = max_image_bytes.saturating_add(64 * 1024);
    let images = OpenApiRouter::new()
        .routes(routes!(images::analyze))
        .layer(DefaultBodyLimit::max(image_body))
        .layer(axum::middleware::from_fn_with_state(image_body, body_limit::refuse_oversized));
    OpenApiRouter::with_openapi(<ApiDoc as utoipa::OpenApi>::openapi())
        .routes(routes!(embeddings::create))
        .routes(routes!(models::list))
        .routes(routes!(analyze::analyze))
        .routes(routes!(moderations::create))
        .routes(routes!(perspective::analyze))
        .routes(routes!(gate::check))
        .routes(routes!(posts::check))
        .routes(routes!(posts::list_platforms))
        .routes(routes!(posts::set_platform))
        .routes(routes!(publishing::create, publishing::list))
        .routes(routes!(publishing::get))
        // The transitions (`{post_id}:submit`, …) share one route; `ApiDoc` documents each.
        .route("/v1/posts/{post_id}", axum::routing::post(publishing::act))
        .routes(routes!(publishing::get_settings, publishing::set_settings))
        .routes(routes!(captions::generate))
        .routes(routes!(search::search))
        .routes(routes!(hashtags::suggest))
        .routes(routes!(accounts::list))
        .routes(routes!(accounts::get))
        .routes(routes!(accounts::forecast))
        .routes(routes!(accounts::best_times, accounts::best_times_query))
        .routes(routes!(keys::create, keys::list))
        .routes(routes!(keys::revoke))
        .routes(routes!(audit::list))
        .routes(routes!(usage::get))
        .routes(routes!(health::alive))
        .routes(routes!(health::ready))
        .routes(routes!(health::metrics))
        .route("/openapi.json", axum::routing::get(openapi::document))
        // The assistant page is a client of this API, not part of it: served, not documented.
        .route("/", axum::routing::get(page::index))
        .route("/page/{file}", axum::routing::get(page::file))
        .layer(DefaultBodyLimit::max(max_body_bytes))
        .layer(axum::middleware::from_fn_with_state(max_body_bytes, body_limit::refuse_oversized))
        .merge(imports)
        .merge(images)
}

/// The OpenAPI document of [`routes`].
pub fn openapi() -> utoipa::openapi::OpenApi {
    routes(0, 0, 0).split_for_parts().1
}

pub fn router(
    services: Services,
    layer: crate::server::TenantLayer,
    publishing: PublishingService,
    metrics: PrometheusHandle,
    max_body_bytes: usize,
) -> Router {
    let max_import_bytes = services.history.max_import_bytes();
    let max_image_bytes = services.images.max_bytes();
    let (router, document) = routes(max_body_bytes, max_import_bytes, max_image_bytes).split_for_parts();
    let crate::server::TenantLayer { tenants, audit, usage } = layer;
    router.with_state(AppState { services, tenants, audit, usage, publishing, metrics, openapi: Arc::new(document) })
}
