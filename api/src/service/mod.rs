//! The capability layer: what the product can do, independent of REST or gRPC.
//!
//! Handlers of both protocols parse their wire format, call a service here, and render the
//! result; validation, model selection and metrics happen once, in this layer.

mod analysis;
mod embeddings;
mod gate;
mod policy;

pub use analysis::{Analysis, AnalysisService, HeadInfo, Span, TaskScores, TextAnalysis, validate_texts};
pub use embeddings::{EmbeddingService, Embeddings};
pub use gate::{Decision, GateRequest, GateService, GateVerdict, PolicyChoice, Reason, gate_categories};
pub use policy::{Policy, PolicyBook, Thresholds};
