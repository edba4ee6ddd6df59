//! gRPC (`elevatediq.v1`), plus `grpc.health.v1` and server reflection so that any client can
//! discover the API. Mounted into the same axum router as REST: one port serves both.

mod audit;
mod captions;
mod convert;
mod embeddings;
mod engagement;
mod hashtags;
mod images;
mod keys;
mod posts;
mod publishing;
mod text;
mod usage;

use std::sync::Arc;

use eiq_inference::ModelRegistry;
use eiq_proto::v1::audit_server::AuditServer;
use eiq_proto::v1::captions_server::CaptionsServer;
use eiq_proto::v1::embeddings_server::EmbeddingsServer;
use eiq_proto::v1::engagement_server::EngagementServer;
use eiq_proto::v1::hashtags_server::HashtagsServer;
use eiq_proto::v1::images_server::ImagesServer;
use eiq_proto::v1::keys_server::KeysServer;
use eiq_proto::v1::posts_server::PostsServer;
use eiq_proto::v1::publishing_server::PublishingServer;
use eiq_proto::v1::text_intelligence_server::TextIntelligenceServer;
use eiq_proto::v1::usage_server::UsageServer;
use tonic::service::Routes;
use tonic_health::ServingStatus;

use eiq_service::Services;

use crate::server::TenantLayer;

pub fn routes(
    services: Services,
    layer: TenantLayer,
    publishing: eiq_service::publishing::PublishingService,
    max_message_bytes: usize,
) -> Routes {
    let TenantLayer { tenants, audit, usage } = layer;
    let Services { embeddings, analysis, gate, history, forecast, posts, captions, images, index, hashtags } = services;
    let registry = Arc::clone(embeddings.registry());
    // The project's codec, not tonic-health's: an undecodable check is INVALID_ARGUMENT.
    let (health_reporter, health) = eiq_proto::health::health_reporter();
    tokio::spawn(report_health(registry, health_reporter));

    // Both reflection versions: grpcurl and older clients still ask v1alpha.
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(eiq_proto::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    let reflection_v1 = reflection().build_v1().expect("descriptor sets are generated at build time");
    let reflection_v1alpha = reflection().build_v1alpha().expect("descriptor sets are generated at build time");

    let service =
        EmbeddingsServer::new(embeddings::GrpcEmbeddings::new(embeddings)).max_decoding_message_size(max_message_bytes);
    let text =
        TextIntelligenceServer::new(text::GrpcText::new(analysis, gate)).max_decoding_message_size(max_message_bytes);
    let engagement = EngagementServer::new(engagement::GrpcEngagement::new(history, forecast, index.clone()))
        .max_decoding_message_size(max_message_bytes);
    let posts = PostsServer::new(posts::GrpcPosts::new(posts, index)).max_decoding_message_size(max_message_bytes);
    let captions =
        CaptionsServer::new(captions::GrpcCaptions::new(captions)).max_decoding_message_size(max_message_bytes);
    // An image message may be as large as an image upload.
    let max_image_message = images.max_bytes().saturating_add(64 * 1024).max(max_message_bytes);
    let images = ImagesServer::new(images::GrpcImages::new(images)).max_decoding_message_size(max_image_message);
    let hashtags =
        HashtagsServer::new(hashtags::GrpcHashtags::new(hashtags)).max_decoding_message_size(max_message_bytes);
    let usage =
        UsageServer::new(usage::GrpcUsage::new(usage, tenants.clone())).max_decoding_message_size(max_message_bytes);
    let keys = KeysServer::new(keys::GrpcKeys::new(tenants)).max_decoding_message_size(max_message_bytes);
    let publishing =
        PublishingServer::new(publishing::GrpcPublishing::new(publishing)).max_decoding_message_size(max_message_bytes);
    let audit = AuditServer::new(audit::GrpcAudit::new(audit)).max_decoding_message_size(max_message_bytes);
    Routes::new(health)
        .add_service(reflection_v1)
        .add_service(reflection_v1alpha)
        .add_service(service)
        .add_service(text)
        .add_service(engagement)
        .add_service(posts)
        .add_service(captions)
        .add_service(images)
        .add_service(hashtags)
        .add_service(keys)
        .add_service(audit)
        .add_service(usage)
        .add_service(publishing)
}

/// `NOT_SERVING` until every model is loaded, then `SERVING` (or stays `NOT_SERVING` if one failed).
async fn report_health(registry: Arc<ModelRegistry>, reporter: tonic_health::server::HealthReporter) {
    let service = <EmbeddingsServer<embeddings::GrpcEmbeddings> as tonic::server::NamedService>::NAME;
    for name in ["", service] {
        reporter.set_service_status(name, ServingStatus::NotServing).await;
    }
    let mut settled = registry.settled();
    if settled.wait_for(|done| *done).await.is_ok() && registry.is_ready() {
        for name in ["", service] {
            reporter.set_service_status(name, ServingStatus::Serving).await;
        }
    }
}
