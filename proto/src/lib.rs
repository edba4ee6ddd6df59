//! The gRPC contract of ElevatedIQ (`elevatediq.v1`), generated from `proto/elevatediq/v1/*.proto`.
//!
//! Kept in its own crate so that servers, clients and benchmarks share one generated copy.

pub mod codec;
pub mod health;

#[allow(clippy::all, missing_docs)]
pub mod v1 {
    tonic::include_proto!("elevatediq.v1");
}

/// Encoded `FileDescriptorSet` of every `elevatediq.v1` file, for gRPC server reflection.
pub const FILE_DESCRIPTOR_SET: &[u8] = tonic::include_file_descriptor_set!("elevatediq_descriptor");
