//! The capability layer: what the product can do, independent of REST or gRPC.
//!
//! Handlers of both protocols parse their wire format, call a service here, and render the
//! result; validation, model selection and metrics happen once, in this layer.

mod analysis;
mod beneath;
mod embeddings;
mod forecast;
mod gate;
mod history;
pub mod limits;
mod policy;

pub use analysis::{Analysis, AnalysisService, HeadInfo, Offsets, Span, TaskScores, TextAnalysis, validate_texts};
pub use embeddings::{EmbeddingService, Embeddings};
pub use forecast::{
    BestTimesQuery, BlackoutWindow, DraftRequest, ForecastAnswer, ForecastService, TimedForecast, format_time, now,
    parse_blackout, parse_media, parse_time,
};
pub use gate::{Decision, GateRequest, GateService, GateVerdict, PolicyChoice, Reason, gate_categories};
pub use history::{
    DEFAULT_TENANT, HistoryService, ImportReport, ImportRequest, ImportSettings, ImportSlot, ImportSource,
    TENANT_HEADER,
};
pub use policy::{Policy, PolicyBook, Thresholds};
