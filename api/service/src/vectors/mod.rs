//! Where post vectors live: one [`VectorStore`] trait, two engines behind it.
//!
//! - [`EdgeStore`] (the default) is Qdrant's own engine, `qdrant-edge`, in this process and
//!   persisted under the data directory: nothing to install or run.
//! - [`ClusterStore`] is a Qdrant cluster through `qdrant-client` (`--qdrant-url`).
//!
//! Both keep every tenant in one collection and separate them by payload, as Qdrant recommends
//! for many tenants: a keyword index on `tenant` marked as the tenant key. Every read takes a
//! [`TenantId`] and adds it to the filter *inside the engine*, so no code path can forget it and a
//! tenant never sees another's points. A point's id is derived from (tenant, account, post id)
//! ([`point_id`]), so importing the same history twice writes the same points.
//!
//! The trait is small (upsert, delete, read back, search, scan, count, persist) and returns
//! boxed futures, so the service holds an `Arc<dyn VectorStore>` and the same tests run against
//! either engine.

mod cluster;
mod edge;

use std::future::Future;
use std::pin::Pin;

use sha2::{Digest as _, Sha256};

pub use cluster::ClusterStore;
pub use edge::EdgeStore;

use crate::tenancy::TenantId;

/// What a store operation returns: the error is the engine's, in words (logged, never sent).
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The engine failed (disk, connection, a refused request).
    #[error("vector store: {0}")]
    Engine(String),
    /// The store holds vectors of another size than the model makes.
    #[error("the vector store holds {stored}-dimensional vectors; the model makes {model}")]
    Dimensions { stored: usize, model: usize },
}

/// One post as a point: its vector and what filters and answers read.
#[derive(Debug, Clone, PartialEq)]
pub struct PostPoint {
    pub id: u64,
    pub vector: Vec<f32>,
    pub post: PostPayload,
}

/// A point's payload (field names as stored: `tenant`, `account`, `post_id`, …).
#[derive(Debug, Clone, PartialEq)]
pub struct PostPayload {
    pub tenant: String,
    pub account: String,
    pub post_id: String,
    pub platform: String,
    /// Unix seconds.
    pub created_at: i64,
    /// As written, without `#`.
    pub hashtags: Vec<String>,
    /// Likes + comments + shares.
    pub engagement: f64,
    /// `log(1 + engagement)` minus the account's baseline before the post (the feature
    /// pipeline's `relative_engagement`); `None` for an account's first post.
    pub relative_engagement: Option<f64>,
    pub text: String,
    /// Hash of the text and the model: equal means the vector is still right.
    pub text_hash: u64,
    /// Hash of everything above: equal means the point is up to date.
    pub fingerprint: u64,
}

/// Which of a tenant's points a search or count considers; the engine applies it.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PointFilter {
    pub account: Option<String>,
    pub platform: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    pub until: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Hit {
    pub id: u64,
    /// Cosine similarity.
    pub score: f32,
    pub post: PostPayload,
}

/// A point's id and hashes, as a scan returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoredPoint {
    pub id: u64,
    pub text_hash: u64,
    pub fingerprint: u64,
}

/// One page of a scan, and where the next starts.
pub struct ScanPage {
    pub points: Vec<StoredPoint>,
    pub next: Option<u64>,
}

pub trait VectorStore: Send + Sync {
    /// What the store is (`embedded …`, `qdrant at …`), for logs and `/ready`.
    fn describe(&self) -> String;
    /// Adds or replaces points (whole: vector and payload).
    fn upsert(&self, points: Vec<PostPoint>) -> StoreFuture<'_, ()>;
    fn delete(&self, tenant: &TenantId, ids: Vec<u64>) -> StoreFuture<'_, ()>;
    /// The stored vectors of `ids` that exist (order not kept).
    fn vectors(&self, tenant: &TenantId, ids: Vec<u64>) -> StoreFuture<'_, Vec<(u64, Vec<f32>)>>;
    /// The `k` points nearest to `vector` among the tenant's that pass `filter`.
    fn search(&self, tenant: &TenantId, vector: Vec<f32>, filter: PointFilter, k: usize) -> StoreFuture<'_, Vec<Hit>>;
    /// The tenant's points in id order from `after` (inclusive), at most `limit`.
    fn scan(&self, tenant: &TenantId, after: Option<u64>, limit: usize) -> StoreFuture<'_, ScanPage>;
    fn count(&self, tenant: &TenantId, filter: PointFilter) -> StoreFuture<'_, u64>;
    /// Makes everything written so far survive a crash (and, embedded, builds the search index
    /// when enough points arrived).
    fn persist(&self) -> StoreFuture<'_, ()>;
}

/// A post's point id: the first 8 bytes of SHA-256 over (tenant, account, post id), so the same
/// post always lands on the same point and different tenants never share one.
pub fn point_id(tenant: &str, account: &str, post_id: &str) -> u64 {
    let mut hasher = Sha256::new();
    for part in [tenant, account, post_id] {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part.as_bytes());
    }
    let digest = hasher.finalize();
    u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// The payload as JSON, the one layout both engines store.
fn payload_json(post: &PostPayload) -> serde_json::Map<String, serde_json::Value> {
    use serde_json::json;
    let value = json!({
        "tenant": post.tenant,
        "account": post.account,
        "post_id": post.post_id,
        "platform": post.platform,
        "created_at": post.created_at,
        "hashtags": post.hashtags,
        "engagement": post.engagement,
        "relative_engagement": post.relative_engagement,
        "text": post.text,
        // Hex strings: JSON numbers above 2^53 do not survive every client.
        "text_hash": format!("{:016x}", post.text_hash),
        "fingerprint": format!("{:016x}", post.fingerprint),
    });
    match value {
        serde_json::Value::Object(map) => map,
        _ => unreachable!("a JSON object literal"),
    }
}

/// Reads a stored payload back; `None` for a point this service did not write.
fn payload_from_json(map: &serde_json::Map<String, serde_json::Value>) -> Option<PostPayload> {
    let text = |key: &str| map.get(key).and_then(|v| v.as_str()).map(str::to_string);
    let hash = |key: &str| map.get(key).and_then(|v| v.as_str()).and_then(|h| u64::from_str_radix(h, 16).ok());
    Some(PostPayload {
        tenant: text("tenant")?,
        account: text("account")?,
        post_id: text("post_id")?,
        platform: text("platform").unwrap_or_default(),
        created_at: map.get("created_at").and_then(|v| v.as_i64())?,
        hashtags: map
            .get("hashtags")
            .and_then(|v| v.as_array())
            .map(|tags| tags.iter().filter_map(|t| t.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        engagement: map.get("engagement").and_then(|v| v.as_f64()).unwrap_or(0.0),
        relative_engagement: map.get("relative_engagement").and_then(|v| v.as_f64()),
        text: text("text").unwrap_or_default(),
        text_hash: hash("text_hash").unwrap_or(0),
        fingerprint: hash("fingerprint").unwrap_or(0),
    })
}

/// The hashes of a stored payload, for scans.
fn stored_point(id: u64, map: &serde_json::Map<String, serde_json::Value>) -> StoredPoint {
    let hash = |key: &str| map.get(key).and_then(|v| v.as_str()).and_then(|h| u64::from_str_radix(h, 16).ok());
    StoredPoint { id, text_hash: hash("text_hash").unwrap_or(0), fingerprint: hash("fingerprint").unwrap_or(0) }
}

/// Payload fields a scan reads.
const SCAN_FIELDS: [&str; 2] = ["text_hash", "fingerprint"];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn point_ids_are_stable_and_tenant_specific() {
        assert_eq!(point_id("a", "b", "c"), point_id("a", "b", "c"));
        assert_ne!(point_id("a", "b", "c"), point_id("z", "b", "c"));
        // Lengths are hashed too, so moving a boundary changes the id.
        assert_ne!(point_id("ab", "c", "d"), point_id("a", "bc", "d"));
    }
}
