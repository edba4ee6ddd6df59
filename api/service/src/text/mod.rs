//! Text intelligence: embeddings, analysis (every head of the text model, and the word lists),
//! and the moderation gate with its policies.

mod analysis;
mod embeddings;
mod gate;
mod policy;

pub use analysis::{Analysis, AnalysisService, HeadInfo, Offsets, Span, TaskScores, TextAnalysis};
pub use embeddings::{EmbeddingService, Embeddings, ModelSummary};
pub use gate::{Decision, GateRequest, GateService, GateVerdict, PolicyChoice, Reason, gate_categories};
pub use policy::{
    DEFAULT_DUPLICATE_REVIEW, DEFAULT_DUPLICATE_WINDOW_DAYS, MAX_DUPLICATE_WINDOW_DAYS, MAX_ENTRY_BYTES,
    MAX_ENTRY_WORDS, MAX_LIST_ENTRIES, MAX_SPELLINGS, Policy, PolicyBook, Thresholds,
};
