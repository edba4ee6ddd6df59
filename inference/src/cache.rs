//! Recently computed sentence vectors, by exact text.
//!
//! A post is often checked more than once (saved as a draft, scheduled, published, cross-posted),
//! and the batcher only merges identical texts that arrive together. This remembers vectors
//! across batches, bounded: two generations of at most `capacity / 2` entries each; when the
//! current one fills it becomes the previous and the old previous is dropped, and a hit in the
//! previous generation moves the entry forward. An approximation of LRU in a few lines.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// A vector and the number of tokens its text had.
pub type CachedVector = (Arc<Vec<f32>>, usize);

pub struct VectorCache {
    generation_size: usize,
    inner: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    current: HashMap<String, CachedVector>,
    previous: HashMap<String, CachedVector>,
}

impl VectorCache {
    /// `None` for a capacity of 0 (caching off).
    pub fn new(capacity: usize) -> Option<Self> {
        (capacity > 0).then(|| Self { generation_size: capacity.div_ceil(2), inner: Mutex::default() })
    }

    pub fn get(&self, text: &str) -> Option<CachedVector> {
        let mut inner = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(hit) = inner.current.get(text) {
            return Some(hit.clone());
        }
        let hit = inner.previous.remove(text)?;
        inner.insert(text.to_string(), hit.clone(), self.generation_size);
        Some(hit)
    }

    pub fn insert(&self, text: String, value: CachedVector) {
        self.inner.lock().unwrap_or_else(|p| p.into_inner()).insert(text, value, self.generation_size);
    }
}

impl Generations {
    fn insert(&mut self, text: String, value: CachedVector, generation_size: usize) {
        if self.current.len() >= generation_size && !self.current.contains_key(&text) {
            self.previous = std::mem::take(&mut self.current);
        }
        self.current.insert(text, value);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value(x: f32) -> CachedVector {
        (Arc::new(vec![x]), 1)
    }

    #[test]
    fn keeps_recent_entries_within_its_bound() {
        assert!(VectorCache::new(0).is_none());
        let cache = VectorCache::new(4).unwrap();
        for (i, text) in ["a", "b", "c", "d", "e"].into_iter().enumerate() {
            cache.insert(text.into(), value(i as f32));
        }
        // Generations of 2: {e} current, {c, d} previous, a and b dropped.
        assert!(cache.get("a").is_none() && cache.get("b").is_none());
        assert_eq!(cache.get("d").unwrap().0[0], 3.0);
        assert_eq!(cache.get("e").unwrap().0[0], 4.0);
        // `d` moved forward on its hit, so it outlives `c`.
        cache.insert("f".into(), value(5.0));
        cache.insert("g".into(), value(6.0));
        assert!(cache.get("c").is_none());
        assert!(cache.get("d").is_some());
        let inner = cache.inner.lock().unwrap();
        assert!(inner.current.len() + inner.previous.len() <= 4);
    }
}
