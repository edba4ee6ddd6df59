//! The inference core: text in, unit vectors out, from whichever backend a model names.
//!
//! Shaped like text-embeddings-inference: [`TextTokenizer`] turns text into token ids, the
//! [`Batcher`] queues them and forms batches by a token budget and a short wait, and an
//! [`Encoder`] backend (candle or ONNX Runtime) runs the transformer. Pooling lives outside the
//! backends so both pool identically. [`ModelRegistry`] owns what is loaded. [`Lexicon`] is the
//! word-list detector that runs beside the models. [`generate`] is the generation server: a GGUF
//! chat model behind its own queue. [`tiny`] builds a small model in code, for tests
//! and benchmarks that need no fetched files.

mod backend;
mod batch;
mod batcher;
mod cache;
mod classifier;
mod error;
pub mod generate;
mod lexicon;
mod model;
pub mod ocr;
mod pooling;
mod registry;
mod segment;
mod served;
mod split;
pub mod tiny;
mod tokenize;

pub use backend::{
    Bert, BertConfig, BertLayers, CandleEncoder, Encoder, HiddenStates, OnnxEncoder, load_weights, read_config,
};
pub use batch::TokenBatch;
pub use batcher::{Admission, BatchWork, Batcher, BatcherConfig};
pub use cache::VectorCache;
pub use classifier::{Classifier, HeadSpec, HeadsFile, LinearHead, Prediction};
pub use error::InferenceError;
pub use lexicon::{Lexicon, LexiconMatch};
pub use model::EmbeddingModel;
pub use pooling::mean_pool_normalized;
pub use registry::{LoadOptions, ModelRegistry, ModelState, ModelStatus};
pub use segment::{MAX_SEGMENT_CHARS, WordSegmenter};
pub use served::{Served, ServedEncoder, ServedGenerator};
pub use tokenize::{TextTokenizer, Tokenized};
