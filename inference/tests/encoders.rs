//! The two backends on the real pinned models: agreement, batch invariance, truncation.

mod common;

use common::{cosine, model, test_texts};
use eiq_inference::Tokenized;

/// Lowest cosine between two models' vectors over `texts`, and the text it occurs on.
fn lowest_cosine<'a>(a: &str, b: &str, texts: &'a [String]) -> (f32, &'a str) {
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let (left, right) = (model(a).embed(&refs).unwrap(), model(b).embed(&refs).unwrap());
    let mut worst = (1.0f32, "");
    for ((x, y), text) in left.iter().zip(&right).zip(&refs) {
        assert_eq!((x.len(), y.len()), (384, 384));
        let similarity = cosine(x, y);
        if similarity < worst.0 {
            worst = (similarity, text);
        }
    }
    eprintln!("{a} vs {b}: lowest cosine {:.6} on {:?}", worst.0, worst.1);
    worst
}

#[test]
fn candle_and_onnx_runtime_agree_on_the_same_weights() {
    let texts = test_texts();
    let (similarity, text) = lowest_cosine("minilm-l6-v2", "minilm-l6-v2-onnx", &texts);
    assert!(similarity >= 0.99999, "cosine {similarity} on {text:?}");
}

#[test]
fn the_fine_tuned_model_is_the_same_on_candle_and_onnx_runtime() {
    // candle loads the f16 layers over the base weights; the ONNX graph was built with them merged.
    let texts = test_texts();
    let (similarity, text) = lowest_cosine("tweet-minilm-l6-v1", "tweet-minilm-l6-v1-onnx", &texts);
    assert!(similarity >= 0.99999, "cosine {similarity} on {text:?}");
    let (similarity, _) = lowest_cosine("tweet-minilm-l6-v1", "minilm-l6-v2", &texts);
    assert!(similarity < 0.99, "the fine-tuned layers must change the vectors (lowest cosine {similarity})");
}

#[test]
fn the_int8_export_stays_close_to_the_f32_weights() {
    // Quantisation, not the runtime, bounds this; measured minimum over these texts: 0.9963.
    let texts = test_texts();
    let (similarity, text) = lowest_cosine("minilm-l6-v2-onnx", "minilm-l6-v2-int8", &texts);
    assert!(similarity >= 0.995, "cosine {similarity} on {text:?}");
}

#[test]
fn our_int8_builds_reproduce_their_pins_and_stay_close_to_f32() {
    // Fetching builds each graph with the committed recipe and checks its pinned sha256. The gate
    // on 5,653 real tweets (benches/python/int8_heads.py) asks cosine >= 0.98 at worst; these test
    // texts include harder cases (the empty string, other scripts, 256-token inputs). Below 0.9999:
    // the weights really are quantised.
    let texts = test_texts();
    for (f32, int8) in
        [("tweet-minilm-l6-v1-onnx", "tweet-minilm-l6-v1-int8"), ("minilm-l6-v2-onnx", "minilm-l6-v2-onnx-int8")]
    {
        let (similarity, text) = lowest_cosine(f32, int8, &texts);
        assert!((0.97..0.9999).contains(&similarity), "{int8}: cosine {similarity} on {text:?}");
    }
}

#[test]
fn a_text_alone_and_in_a_padded_batch_give_the_same_vector() {
    let texts = test_texts();
    for id in ["minilm-l6-v2", "minilm-l6-v2-onnx", "minilm-l6-v2-int8"] {
        let model = model(id);
        let tokenized: Vec<Tokenized> = texts.iter().map(|t| model.tokenize(t).unwrap()).collect();
        let all: Vec<&Tokenized> = tokenized.iter().collect();
        // One pass: the long last text pads every other text by hundreds of tokens.
        let padded = model.embed_padded(&all).unwrap();
        // The serving path: sorted and split by length.
        let split = model.embed_tokenized(&all).unwrap();
        let mut worst = 0f32;
        for (i, text) in all.iter().enumerate() {
            let alone = model.embed_padded(&[text]).unwrap().remove(0);
            for other in [&padded[i], &split[i]] {
                let delta = alone.iter().zip(other).map(|(a, b)| (a - b).abs()).fold(0f32, f32::max);
                worst = worst.max(delta);
            }
        }
        eprintln!("{id}: largest |alone - batched| = {worst:e}");
        assert!(worst <= 1e-5, "{id}: {worst}");
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
        .embed(&["A man is eating food.", "A man is eating a piece of bread.", "The stock market fell sharply today."])
        .unwrap();
    let related = cosine(&vectors[0], &vectors[1]);
    let unrelated = cosine(&vectors[0], &vectors[2]);
    assert!(related > 0.7 && unrelated < 0.3, "related {related}, unrelated {unrelated}");
}

#[test]
fn repeated_texts_in_one_call_get_identical_vectors_in_order() {
    let model = model("minilm-l6-v2-int8");
    let texts = ["same post", "another post", "same post", "a third, longer post about the launch", "same post"];
    let vectors = model.embed(&texts).unwrap();
    let alone: Vec<Vec<f32>> = texts.iter().map(|t| model.embed(&[t]).unwrap().remove(0)).collect();
    assert_eq!(vectors, alone);
    assert_eq!(vectors[0], vectors[4]);
    assert_ne!(vectors[0], vectors[1]);
}
