//! The two backends on the real pinned models: agreement, batch invariance, truncation.

mod common;

use common::{cosine, model, test_texts};

#[test]
fn candle_and_onnx_agree_on_every_text() {
    let texts = test_texts();
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let candle = model("minilm-l6-v2").embed(&refs).unwrap();
    let onnx = model("minilm-l6-v2-int8").embed(&refs).unwrap();
    let mut worst = (1.0f32, "");
    for ((a, b), text) in candle.iter().zip(&onnx).zip(&refs) {
        assert_eq!(a.len(), 384);
        let similarity = cosine(a, b);
        if similarity < worst.0 {
            worst = (similarity, text);
        }
    }
    eprintln!("lowest candle/onnx cosine {:.5} on {:?}", worst.0, worst.1);
    assert!(worst.0 >= 0.999, "cosine {} on {:?}", worst.0, worst.1);
}

#[test]
fn a_text_alone_and_in_a_padded_batch_give_the_same_vector() {
    let texts = test_texts();
    for id in ["minilm-l6-v2", "minilm-l6-v2-int8"] {
        let model = model(id);
        // The long last text forces every other text to be padded by hundreds of tokens.
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let batched = model.embed(&refs).unwrap();
        let mut worst = 0f32;
        for (text, in_batch) in refs.iter().zip(&batched) {
            let alone = model.embed(&[text]).unwrap().remove(0);
            let delta = alone
                .iter()
                .zip(in_batch)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            worst = worst.max(delta);
        }
        eprintln!("{id}: largest |alone - batched| = {worst:e}");
        let tolerance = if id == "minilm-l6-v2" { 1e-5 } else { 1e-4 };
        assert!(worst <= tolerance, "{id}: {worst}");
    }
}

#[test]
fn vectors_are_unit_length_and_long_texts_are_truncated_to_256_tokens() {
    let model = model("minilm-l6-v2");
    let long = "word ".repeat(1000);
    assert_eq!(model.tokenize(&long).unwrap().len(), 256);
    assert_eq!(model.tokenize("").unwrap().len(), 2, "[CLS] [SEP]");
    for vector in model.embed(&["hello world", &long]).unwrap() {
        let norm: f32 = vector.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    }
}

#[test]
fn similar_sentences_are_closer_than_unrelated_ones() {
    let vectors = model("minilm-l6-v2")
        .embed(&[
            "A man is eating food.",
            "A man is eating a piece of bread.",
            "The stock market fell sharply today.",
        ])
        .unwrap();
    let related = cosine(&vectors[0], &vectors[1]);
    let unrelated = cosine(&vectors[0], &vectors[2]);
    assert!(
        related > 0.7 && unrelated < 0.3,
        "related {related}, unrelated {unrelated}"
    );
}
