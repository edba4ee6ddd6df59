//! Analysed images, remembered briefly so that a caption request can name one by `image_id`
//! instead of uploading it again.
//!
//! Only the summary is kept (its text and alt text, a few KiB), never the pixels. The cache is
//! bounded three ways: entries in all, entries per tenant (one tenant cannot push out the
//! others'), and age. An id is the image's content hash, looked up under the caller's tenant, so
//! one tenant can never read another's entry even with the same image.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::tenancy::TenantId;

/// What a caption request needs from an analysed image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageContext {
    pub image_id: String,
    pub width: u32,
    pub height: u32,
    /// The text read from the image ("" if none, or OCR did not run).
    pub text: String,
    pub alt_text: String,
}

pub struct ImageCache {
    capacity: usize,
    per_tenant: usize,
    ttl: Duration,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<(TenantId, String), (ImageContext, Instant)>,
    /// Keys oldest first (a key appears once; re-inserting moves it to the back).
    order: VecDeque<(TenantId, String)>,
    per_tenant: HashMap<TenantId, usize>,
}

impl ImageCache {
    pub fn new(capacity: usize, per_tenant: usize, ttl: Duration) -> Self {
        Self { capacity: capacity.max(1), per_tenant: per_tenant.max(1), ttl, state: Mutex::default() }
    }

    pub fn insert(&self, tenant: &TenantId, context: ImageContext) {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let key = (tenant.clone(), context.image_id.clone());
        if state.entries.contains_key(&key) {
            state.remove(&key);
        }
        // A tenant at its share makes room from its own entries first.
        if state.per_tenant.get(tenant).copied().unwrap_or(0) >= self.per_tenant
            && let Some(oldest) = state.order.iter().find(|(t, _)| t == tenant).cloned()
        {
            state.remove(&oldest);
        }
        while state.order.len() >= self.capacity {
            let oldest = state.order.front().cloned().expect("non-empty");
            state.remove(&oldest);
        }
        state.entries.insert(key.clone(), (context, Instant::now()));
        state.order.push_back(key);
        *state.per_tenant.entry(tenant.clone()).or_insert(0) += 1;
    }

    /// The tenant's image `image_id`, if it is still remembered.
    pub fn get(&self, tenant: &TenantId, image_id: &str) -> Option<ImageContext> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let key = (tenant.clone(), image_id.to_string());
        let (context, at) = state.entries.get(&key)?;
        if at.elapsed() > self.ttl {
            state.remove(&key);
            return None;
        }
        Some(context.clone())
    }
}

impl State {
    fn remove(&mut self, key: &(TenantId, String)) {
        if self.entries.remove(key).is_some() {
            self.order.retain(|k| k != key);
            if let Some(count) = self.per_tenant.get_mut(&key.0) {
                *count -= 1;
                if *count == 0 {
                    self.per_tenant.remove(&key.0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn context(id: &str) -> ImageContext {
        ImageContext { image_id: id.into(), width: 1, height: 1, text: String::new(), alt_text: String::new() }
    }

    fn tenant(name: &str) -> TenantId {
        TenantId::parse(name).unwrap()
    }

    #[test]
    fn entries_are_per_tenant_and_bounded() {
        let cache = ImageCache::new(4, 2, Duration::from_secs(60));
        let (a, b) = (tenant("a"), tenant("b"));
        cache.insert(&a, context("1"));
        assert!(cache.get(&a, "1").is_some() && cache.get(&b, "1").is_none(), "another tenant never sees it");
        cache.insert(&a, context("2"));
        cache.insert(&a, context("3"));
        assert!(cache.get(&a, "1").is_none() && cache.get(&a, "3").is_some(), "a tenant's oldest goes first");
        for id in ["4", "5", "6"] {
            cache.insert(&b, context(id));
        }
        assert!(cache.get(&a, "2").is_some() && cache.get(&a, "3").is_some(), "b cannot push a out");
        assert!(cache.get(&b, "4").is_none() && cache.get(&b, "6").is_some());
        cache.insert(&tenant("c"), context("7"));
        assert_eq!(cache.state.lock().unwrap().order.len(), 4);
    }

    #[test]
    fn entries_expire() {
        let cache = ImageCache::new(4, 4, Duration::ZERO);
        cache.insert(&tenant("a"), context("1"));
        std::thread::sleep(Duration::from_millis(2));
        assert!(cache.get(&tenant("a"), "1").is_none());
    }
}
