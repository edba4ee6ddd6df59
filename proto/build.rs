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
            &["elevatediq/v1/embeddings.proto", "elevatediq/v1/text.proto", "elevatediq/v1/engagement.proto"],
            &["."],
        )?;
    Ok(())
}
