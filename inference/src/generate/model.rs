//! A quantised llama-family chat model from one GGUF file, run on candle (`llama.rs`).
//!
//! candle's CPU kernels for Q4_1 (the file's weights) are scalar: prompts ran at 27 tokens/s
//! here. Q8_0 has AVX2 dot products and a repacked matrix product, so by default the Q4_1
//! tensors are requantized to Q8_0 as they load (`Weights::Q8_0`): a Q4_1 value `d·q + m` is
//! exact in f32 and Q8_0 rounds it to 1/127 of its block's largest. That is not bit-equal: greedy
//! decoding tips at near-ties and parts ways after a few tokens on most prompts (the caption card
//! measures the served Q8_0; `benches/README.md`, "Captions", has the speed and the agreement).
//!
//! The weights load once and are shared; each generation has its own KV cache, sized for its
//! prompt and answer, feeds the whole prompt in one forward pass, then one token per pass. Sampling is seeded (`LogitsProcessor`), so the same request and seed
//! give the same text. The caller's `on_token` sees each piece of text as it is decoded and can
//! stop the generation (a client that went away, a deadline).

use std::path::Path;
use std::time::{Duration, Instant};

use candle_core::quantized::gguf_file::{self, Content};
use candle_core::quantized::{GgmlDType, QTensor};
use candle_core::{Device, Tensor};
use candle_transformers::generation::{LogitsProcessor, Sampling};
use candle_transformers::utils::apply_repeat_penalty;

use super::llama::{Llama, MAX_SEQ_LEN};
use super::tokenizer::ChatTokenizer;
use crate::InferenceError;

/// What to generate and how.
#[derive(Debug, Clone)]
pub struct GenerationRequest {
    pub system: String,
    pub user: String,
    /// At most this many new tokens.
    pub max_tokens: usize,
    /// 0 is greedy decoding.
    pub temperature: f64,
    pub top_p: f64,
    pub seed: u64,
}

/// Tokens already written are made this much less likely again (over the last
/// [`REPEAT_WINDOW`]), which keeps a small model out of loops.
const REPEAT_PENALTY: f32 = 1.15;
const REPEAT_WINDOW: usize = 64;

/// Why a generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    /// The model ended its turn.
    EndOfTurn,
    MaxTokens,
    /// The context window is full.
    ContextFull,
    /// `on_token` asked to stop (the caller went away, or its deadline passed).
    Stopped,
}

/// How a generation went.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct GenerationStats {
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    /// Reading the prompt (its one forward pass); the first token follows it.
    pub prompt_time: Duration,
    /// Every token after the first.
    pub generation_time: Duration,
    pub stop: StopReason,
}

/// How the file's quantised tensors are held in memory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Weights {
    /// Tensors whose type has no SIMD kernel in candle (Q4_1, Q5_0, Q5_1) become Q8_0.
    #[default]
    Q8_0,
    /// As the file stores them.
    AsStored,
}

pub struct GgufGenerator {
    id: String,
    weights: Llama,
    tokenizer: ChatTokenizer,
    device: Device,
}

fn candle(err: candle_core::Error) -> InferenceError {
    InferenceError::candle(err)
}

impl GgufGenerator {
    pub fn load(id: &str, path: &Path) -> Result<Self, InferenceError> {
        Self::load_as(id, path, Weights::default())
    }

    pub fn load_as(id: &str, path: &Path, held: Weights) -> Result<Self, InferenceError> {
        let failed = |reason: String| InferenceError::ModelFailed { model: id.to_string(), reason };
        let mut file = std::fs::File::open(path).map_err(|err| failed(format!("opening the GGUF file: {err}")))?;
        let content = Content::read(&mut file).map_err(|err| failed(format!("reading the GGUF header: {err}")))?;
        let tokenizer = ChatTokenizer::from_gguf(&content)?;
        let device = Device::Cpu;
        let weights = match held {
            Weights::AsStored => Llama::from_gguf(content, &mut file, &device).map_err(candle)?,
            Weights::Q8_0 => {
                // The same file, rewritten in memory with fast tensor types, read by the same loader.
                let mut tensors = Vec::with_capacity(content.tensor_infos.len());
                for name in content.tensor_infos.keys() {
                    let tensor = content.tensor(&mut file, name, &device).map_err(candle)?;
                    let tensor = match tensor.dtype() {
                        GgmlDType::Q4_1 | GgmlDType::Q5_0 | GgmlDType::Q5_1 => {
                            QTensor::quantize(&tensor.dequantize(&device).map_err(candle)?, GgmlDType::Q8_0)
                                .map_err(candle)?
                        }
                        _ => tensor,
                    };
                    tensors.push((name.clone(), tensor));
                }
                let metadata: Vec<(&str, &gguf_file::Value)> =
                    content.metadata.iter().map(|(key, value)| (key.as_str(), value)).collect();
                let tensor_refs: Vec<(&str, &QTensor)> = tensors.iter().map(|(name, t)| (name.as_str(), t)).collect();
                let mut rewritten = std::io::Cursor::new(Vec::new());
                gguf_file::write(&mut rewritten, &metadata, &tensor_refs).map_err(candle)?;
                drop(tensors);
                rewritten.set_position(0);
                let content = Content::read(&mut rewritten).map_err(candle)?;
                Llama::from_gguf(content, &mut rewritten, &device).map_err(candle)?
            }
        };
        Ok(Self { id: id.to_string(), weights, tokenizer, device })
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn tokenizer(&self) -> &ChatTokenizer {
        &self.tokenizer
    }

    /// Generates an answer; `on_token` gets each new piece of text and returns `false` to stop.
    pub fn generate(
        &self,
        request: &GenerationRequest,
        mut on_token: impl FnMut(&str) -> bool,
    ) -> Result<GenerationStats, InferenceError> {
        let prompt = self.tokenizer.chat(&request.system, &request.user)?;
        if prompt.len() >= MAX_SEQ_LEN {
            return Err(InferenceError::Tokenizer(format!(
                "the prompt is {} tokens; the model reads at most {MAX_SEQ_LEN}",
                prompt.len()
            )));
        }
        let sampling = if request.temperature <= 0.0 {
            Sampling::ArgMax
        } else {
            Sampling::TopP { p: request.top_p, temperature: request.temperature }
        };
        let mut sampler = LogitsProcessor::from_sampling(request.seed, sampling);
        let mut cache = self.weights.cache(prompt.len() + request.max_tokens + 1);
        let mut text = self.tokenizer.stream();

        let started = Instant::now();
        let input = Tensor::new(prompt.as_slice(), &self.device).and_then(|t| t.unsqueeze(0)).map_err(candle)?;
        let mut logits = self.weights.forward(&input, 0, &mut cache).and_then(|l| l.squeeze(0)).map_err(candle)?;
        let prompt_time = started.elapsed();
        let mut position = prompt.len();
        let mut generated = 0;
        let mut written: Vec<u32> = Vec::new();
        let stop = loop {
            if generated == request.max_tokens {
                break StopReason::MaxTokens;
            }
            let recent = &written[written.len().saturating_sub(REPEAT_WINDOW)..];
            let logits_now = apply_repeat_penalty(&logits, REPEAT_PENALTY, recent).map_err(candle)?;
            let next = sampler.sample(&logits_now).map_err(candle)?;
            written.push(next);
            generated += 1;
            if self.tokenizer.is_stop(next) {
                break StopReason::EndOfTurn;
            }
            let piece = text.step(next).map_err(|err| InferenceError::Tokenizer(err.to_string()))?;
            if let Some(piece) = piece
                && !on_token(&piece)
            {
                break StopReason::Stopped;
            }
            if position + 1 >= MAX_SEQ_LEN {
                break StopReason::ContextFull;
            }
            let input = Tensor::new(&[next], &self.device).and_then(|t| t.unsqueeze(0)).map_err(candle)?;
            logits = self.weights.forward(&input, position, &mut cache).and_then(|l| l.squeeze(0)).map_err(candle)?;
            position += 1;
        };
        Ok(GenerationStats {
            prompt_tokens: prompt.len(),
            generated_tokens: generated,
            prompt_time,
            generation_time: started.elapsed() - prompt_time,
            stop,
        })
    }
}
