//! The capability layer: what the product can do, independent of REST or gRPC.
//!
//! Handlers of both protocols parse their wire format, call a service here, and render the
//! result; validation, model selection and metrics happen once, in this layer.

mod embeddings;

pub use embeddings::{EmbeddingService, Embeddings};
