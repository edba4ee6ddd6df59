//! The candle backend against an independent oracle: a float64 NumPy BERT
//! (`reference/make_reference.py`) run on the same upstream weights and tokenizer.

mod common;

use common::{cosine, model};
use serde::Deserialize;

#[derive(Deserialize)]
struct Reference {
    texts: Vec<String>,
    token_counts: Vec<usize>,
    embeddings: Vec<Vec<f32>>,
}

#[test]
fn candle_reproduces_the_float64_reference_including_truncation() {
    let reference: Reference = serde_json::from_str(include_str!("reference/minilm-l6-v2.json")).unwrap();
    let model = model("minilm-l6-v2");
    let texts: Vec<&str> = reference.texts.iter().map(String::as_str).collect();
    let vectors = model.embed(&texts).unwrap();
    for (i, text) in texts.iter().enumerate() {
        assert_eq!(model.tokenize(text).unwrap().len(), reference.token_counts[i], "tokens of {text:?}");
        let delta = vectors[i].iter().zip(&reference.embeddings[i]).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
        let similarity = cosine(&vectors[i], &reference.embeddings[i]);
        assert!(delta < 1e-5 && similarity > 0.999_999, "{text:?}: max |Δ| {delta:e}, cosine {similarity}");
    }
}
