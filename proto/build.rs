//! Generates the tonic services and the file descriptor set that server reflection serves.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let protoc = protoc_bin_vendored::protoc_bin_path()?;
    // SAFETY: build scripts are single-threaded; prost-build reads PROTOC from the environment.
    unsafe { std::env::set_var("PROTOC", protoc) };
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    tonic_prost_build::configure()
        .file_descriptor_set_path(out_dir.join("elevatediq_descriptor.bin"))
        .codec_path("crate::codec::ClientErrorCodec")
        .compile_protos(
            &[
                "elevatediq/v1/embeddings.proto",
                "elevatediq/v1/text.proto",
                "elevatediq/v1/engagement.proto",
                "elevatediq/v1/posts.proto",
                "elevatediq/v1/captions.proto",
                "elevatediq/v1/images.proto",
                "elevatediq/v1/hashtags.proto",
                "elevatediq/v1/keys.proto",
                "elevatediq/v1/audit.proto",
                "elevatediq/v1/usage.proto",
                "elevatediq/v1/publishing.proto",
            ],
            &["."],
        )?;
    // grpc.health.v1 through the same codec, so an undecodable health check is INVALID_ARGUMENT
    // too; the messages stay tonic-health's (only the service glue is generated here).
    tonic_prost_build::configure()
        .build_client(false)
        .codec_path("crate::codec::ClientErrorCodec")
        .extern_path(".grpc.health.v1", "::tonic_health::pb")
        .compile_protos(&["grpc/health/v1/health.proto"], &["."])?;
    Ok(())
}
