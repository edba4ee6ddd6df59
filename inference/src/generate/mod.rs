//! Text generation: a quantised chat model from one GGUF file, and the queue in front of it.
//!
//! `tokenizer.rs` rebuilds the model's tokenizer from the GGUF metadata (the package ships no
//! `tokenizer.json`); `llama.rs` is the decoder on candle's quantised matrix products, with a KV
//! cache written in place; `model.rs` loads it and generates with seeded sampling; `queue.rs`
//! is the generation server: one worker, a bounded queue, an event channel per request that
//! streams text as it is decoded, and cancellation when the caller goes away.

mod llama;
mod model;
mod queue;
mod tokenizer;

pub use model::{GenerationRequest, GenerationStats, GgufGenerator, StopReason, Weights};
pub use queue::{GenerationCounters, GenerationEvent, GenerationQueue};
pub use tokenizer::ChatTokenizer;
