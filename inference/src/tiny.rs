//! A tiny BERT with seeded random weights for tests and benchmarks: the real code path, no fetch.
//!
//! Everything a served encoder has, built in code: a WordPiece tokenizer over a few hundred
//! pieces (common words, then letters and digits any other word is spelled with), a 2-layer
//! encoder of width 32, its manifest, and classification heads. The vectors mean nothing, but
//! they are unit vectors, different for different texts, and the same seed always gives the
//! same ones.

use std::collections::HashMap;
use std::sync::Arc;

use candle_core::{Device, Tensor};
use eiq_models::{Backend, EncoderSpec, Manifest, Pooling, Precision, Source, Task};
use tokenizers::Tokenizer;
use tokenizers::models::wordpiece::WordPiece;
use tokenizers::normalizers::BertNormalizer;
use tokenizers::pre_tokenizers::bert::BertPreTokenizer;
use tokenizers::processors::bert::BertProcessing;

use crate::{
    BertConfig, CandleEncoder, Classifier, EmbeddingModel, HeadSpec, HeadsFile, LinearHead, LoadOptions, ModelRegistry,
    Served, ServedEncoder, TextTokenizer,
};

/// The width of a tiny encoder's vectors.
pub const DIMENSIONS: usize = 32;

/// Longer texts are truncated to this many tokens, special tokens included.
pub const MAX_TOKENS: usize = 64;

const SPECIAL: [&str; 4] = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"];

/// Whole-word pieces; any other word is spelled from the letters, digits and punctuation.
const WORDS: &str = "the a an and or but if of to in on at for with from by about as into over after before \
    is are was were be been being have has had do does did will would can could should may might must \
    i you he she it we they me him her us them my your his its our their this that these those \
    what which who when where why how all any some no not more most very just only also than then \
    so too now new good great best love like happy sad bad hate day today night time post people \
    world life work home team launch food music video photo news game year week thanks please \
    check out follow share free big small first last man woman eating bread stock market fell";

const SPELLING: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
const PUNCTUATION: &str = ".,!?'\"#@-:;/()&";

/// A tiny encoder named `id`, with `task` (`Embedding`, or `Classification` for one served with
/// [`tiny_heads`]) in its manifest. Its weights are drawn from `seed`.
pub fn tiny_encoder(id: &str, task: Task, seed: u64) -> EmbeddingModel {
    let tokenizer = tiny_tokenizer();
    let config = tiny_config(tokenizer.get_vocab_size(true));
    let tokenizer = TextTokenizer::new(tokenizer, MAX_TOKENS).expect("the tiny tokenizer truncates");
    let encoder = CandleEncoder::from_tensors(&config, bert_weights(&config, seed)).expect("tiny weights fit");
    EmbeddingModel::from_parts(tiny_manifest(id, task), tokenizer, Box::new(encoder))
}

/// Heads for `dimensions`-wide vectors, one per `(task, labels)`, with weights drawn from `seed`.
pub fn tiny_heads(dimensions: usize, tasks: &[(&str, &[&str])], seed: u64) -> HeadsFile {
    let mut random = SplitMix64(seed);
    let heads = tasks
        .iter()
        .map(|&(task, labels)| HeadSpec {
            task: task.to_string(),
            labels: labels.iter().map(|label| label.to_string()).collect(),
            linear: LinearHead {
                weights: labels.iter().map(|_| random.uniform_vec(dimensions, 1.0)).collect(),
                bias: random.uniform_vec(labels.len(), 0.1),
            },
            provenance: serde_json::json!({ "method": "seeded random weights (eiq_inference::tiny)", "seed": seed }),
        })
        .collect();
    HeadsFile { dimensions, heads }
}

/// A registry whose one model, `id` (seed 0), is ready at once and the default: an embedding
/// model, or a classification model with heads for `tasks` if any are given.
pub fn tiny_registry(id: &str, tasks: &[(&str, &[&str])], options: &LoadOptions) -> Arc<ModelRegistry> {
    let (task, classifier) = if tasks.is_empty() {
        (Task::Embedding, None)
    } else {
        let heads = Classifier::new(tiny_heads(DIMENSIONS, tasks, 0), DIMENSIONS);
        (Task::Classification, Some(heads.expect("tiny heads fit the tiny encoder")))
    };
    let served = ServedEncoder::new(tiny_encoder(id, task, 0), classifier, options);
    ModelRegistry::ready(vec![Served::Encoder(Arc::new(served))], id).expect("one model is a valid registry")
}

/// Every tensor of a BERT checkpoint for `config`, named as Hugging Face names them: matrices,
/// embeddings and biases uniform with standard deviation 0.1 drawn from `seed`, layer norms the
/// identity.
pub fn bert_weights(config: &BertConfig, seed: u64) -> HashMap<String, Tensor> {
    let (h, i) = (config.hidden_size, config.intermediate_size);
    let mut shapes: Vec<(String, Vec<usize>)> = vec![
        ("embeddings.word_embeddings.weight".into(), vec![config.vocab_size, h]),
        ("embeddings.position_embeddings.weight".into(), vec![config.max_position_embeddings, h]),
        ("embeddings.token_type_embeddings.weight".into(), vec![config.type_vocab_size, h]),
        ("embeddings.LayerNorm.weight".into(), vec![h]),
        ("embeddings.LayerNorm.bias".into(), vec![h]),
    ];
    for layer in 0..config.num_hidden_layers {
        let p = format!("encoder.layer.{layer}");
        for name in ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense"] {
            shapes.push((format!("{p}.{name}.weight"), vec![h, h]));
            shapes.push((format!("{p}.{name}.bias"), vec![h]));
        }
        shapes.push((format!("{p}.intermediate.dense.weight"), vec![i, h]));
        shapes.push((format!("{p}.intermediate.dense.bias"), vec![i]));
        shapes.push((format!("{p}.output.dense.weight"), vec![h, i]));
        shapes.push((format!("{p}.output.dense.bias"), vec![h]));
        for norm in ["attention.output.LayerNorm", "output.LayerNorm"] {
            shapes.push((format!("{p}.{norm}.weight"), vec![h]));
            shapes.push((format!("{p}.{norm}.bias"), vec![h]));
        }
    }
    // Uniform on [-a, a] has standard deviation a / √3.
    let amplitude = 0.1 * 3f32.sqrt();
    let mut random = SplitMix64(seed);
    shapes
        .into_iter()
        .map(|(name, shape)| {
            let count = shape.iter().product();
            let values = if name.ends_with("LayerNorm.weight") {
                vec![1.0; count]
            } else if name.ends_with("LayerNorm.bias") {
                vec![0.0; count]
            } else {
                random.uniform_vec(count, amplitude)
            };
            let tensor = Tensor::from_vec(values, shape, &Device::Cpu).expect("values fill the shape");
            (name, tensor)
        })
        .collect()
}

fn tiny_config(vocab_size: usize) -> BertConfig {
    BertConfig {
        vocab_size,
        hidden_size: DIMENSIONS,
        num_hidden_layers: 2,
        num_attention_heads: 2,
        intermediate_size: 64,
        max_position_embeddings: MAX_TOKENS,
        type_vocab_size: 2,
        layer_norm_eps: 1e-12,
        hidden_act: "gelu".into(),
    }
}

/// Lower-cased, accent-stripped WordPiece with `[CLS] … [SEP]`, as BERT's own tokenizers.
fn tiny_tokenizer() -> Tokenizer {
    let mut pieces: Vec<String> = SPECIAL.iter().map(|s| s.to_string()).collect();
    let words = WORDS.split_whitespace().map(str::to_string);
    let singles = SPELLING.chars().chain(PUNCTUATION.chars()).map(String::from);
    let continuations = SPELLING.chars().map(|c| format!("##{c}"));
    for piece in words.chain(singles).chain(continuations) {
        if !pieces.contains(&piece) {
            pieces.push(piece);
        }
    }
    let id = |piece: &str| (piece.to_string(), pieces.iter().position(|p| p == piece).expect("a special piece") as u32);
    let processor = BertProcessing::new(id("[SEP]"), id("[CLS]"));
    let vocab = WordPiece::read_bytes(pieces.join("\n").as_bytes()).expect("an in-memory vocabulary reads");
    let model = WordPiece::builder().vocab(vocab).unk_token("[UNK]".into()).build().expect("a valid vocabulary");
    let mut tokenizer = Tokenizer::new(model);
    tokenizer.with_normalizer(Some(BertNormalizer::default())).expect("a BERT normalizer");
    tokenizer.with_pre_tokenizer(Some(BertPreTokenizer)).with_post_processor(Some(processor));
    tokenizer
}

fn tiny_manifest(id: &str, task: Task) -> Manifest {
    Manifest {
        id: id.to_string(),
        task,
        backend: Backend::Candle,
        description: "a tiny BERT with seeded random weights, for tests and benchmarks".into(),
        licence: "Apache-2.0".into(),
        upstream: "none: built in code by eiq_inference::tiny".into(),
        // Compiled into the binary (as code): the nearest of the catalogue's sources.
        source: Source::Bundled,
        base: None,
        runtime: None,
        precision: Precision::F32,
        encoder: Some(EncoderSpec { pooling: Pooling::Mean, dimensions: DIMENSIONS, max_sequence_length: MAX_TOKENS }),
        tokenizer: None,
        heads: None,
        files: Vec::new(),
    }
}

/// SplitMix64: a few lines of seeded, portable randomness, so the same seed gives the same
/// weights on every machine.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// `count` values uniform on [-amplitude, amplitude).
    fn uniform_vec(&mut self, count: usize, amplitude: f32) -> Vec<f32> {
        // The top 24 bits: every value exact in f32.
        (0..count).map(|_| ((self.next_u64() >> 40) as f32 / (1u32 << 23) as f32 - 1.0) * amplitude).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXTS: [&str; 4] = ["hello world", "A man is eating food.", "Café crème à Zürich 🔥 #launch", ""];

    #[test]
    fn tiny_encoder_gives_unit_vectors_deterministically() {
        let model = tiny_encoder("tiny", Task::Embedding, 7);
        let vectors = model.embed(&TEXTS).unwrap();
        for vector in &vectors {
            assert_eq!(vector.len(), DIMENSIONS);
            let norm = vector.iter().map(|v| v * v).sum::<f32>().sqrt();
            assert!((norm - 1.0).abs() < 1e-5, "norm {norm}");
        }
        assert_ne!(vectors[0], vectors[1], "different texts give different vectors");
        assert_eq!(vectors, tiny_encoder("tiny", Task::Embedding, 7).embed(&TEXTS).unwrap(), "same seed, same vectors");
        assert_ne!(vectors, tiny_encoder("tiny", Task::Embedding, 8).embed(&TEXTS).unwrap());
    }

    #[test]
    fn tiny_tokenizer_spells_unknown_words_and_truncates() {
        let model = tiny_encoder("tiny", Task::Embedding, 0);
        let unknown = 1; // [UNK]
        let hello = model.tokenize("Hello, world").unwrap();
        assert!(hello.len() > 4 && !hello.ids.contains(&unknown), "{hello:?}");
        assert_eq!(model.tokenize(&"word ".repeat(200)).unwrap().len(), MAX_TOKENS);
    }

    #[test]
    fn tiny_heads_fit_a_classifier() {
        let labels: &[&str] = &["negative", "neutral", "positive"];
        let classifier = Classifier::new(tiny_heads(DIMENSIONS, &[("sentiment", labels)], 3), DIMENSIONS).unwrap();
        let vector = tiny_encoder("tiny", Task::Classification, 3).embed(&["good news"]).unwrap().remove(0);
        let prediction = Classifier::predict(classifier.head("sentiment").unwrap(), &vector);
        assert!((prediction.probabilities.iter().sum::<f32>() - 1.0).abs() < 1e-5);
        assert!(Classifier::new(tiny_heads(DIMENSIONS, &[("sentiment", labels)], 3), 16).is_err());
    }
}
