//! Shared by the integration tests: the real pinned models, fetched once into the user's cache
//! (or `EIQ_MODELS_DIR`) and reused by later runs.

#![allow(dead_code)] // each test binary uses its own subset

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use eiq_inference::EmbeddingModel;
use eiq_models::{Catalogue, FetchOptions, ModelCache, fetch_with_dependencies};

pub fn cache() -> ModelCache {
    ModelCache::new(std::env::var_os("EIQ_MODELS_DIR").map(Into::into).unwrap_or_else(ModelCache::default_root))
}

/// Loads `id` (fetching it first if needed), once per test process.
pub fn model(id: &str) -> Arc<EmbeddingModel> {
    static LOADED: OnceLock<Mutex<HashMap<String, Arc<EmbeddingModel>>>> = OnceLock::new();
    let mut loaded = LOADED.get_or_init(Default::default).lock().unwrap();
    if let Some(model) = loaded.get(id) {
        return model.clone();
    }
    let catalogue = Catalogue::builtin().unwrap();
    let cache = cache();
    fetch_with_dependencies(&catalogue, &cache, id, &FetchOptions::default()).unwrap();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    let model = Arc::new(EmbeddingModel::load(&cache.resolve(&catalogue, id).unwrap(), threads).unwrap());
    loaded.insert(id.to_string(), model.clone());
    model
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norm = |v: &[f32]| v.iter().map(|x| x * x).sum::<f32>().sqrt();
    dot / (norm(a) * norm(b))
}

/// Tweets from TweetEval's sentiment validation split, plus edge cases.
pub fn test_texts() -> Vec<String> {
    let tweets = include_str!("../../../datasets/tweeteval/sentiment/val_text.txt");
    let mut texts: Vec<String> = tweets.lines().take(48).map(str::to_string).collect();
    texts.extend(
        [
            "",
            "a",
            "🔥🔥🔥 #launch day!!! @team https://example.com/x?y=1",
            "Café crème brûlée à Zürich — naïve façade",
            "今日はとても良い天気ですね",
            "هذا منشور رائع جدا",
            "WHY IS NOBODY TALKING ABOUT THIS?!?!",
            "  spaces\tand\nnewlines  ",
        ]
        .map(str::to_string),
    );
    texts.push("long post about social media strategy ".repeat(120));
    texts
}
