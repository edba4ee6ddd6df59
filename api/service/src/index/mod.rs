//! The post index: every post of every history as a vector, for similar posts, the gate's
//! near-duplicate check and hashtag suggestions.
//!
//! **Writes** happen in one place, a background worker (`worker.rs`) that takes tenants from a
//! queue and syncs each (`sync.rs`). An import queues its tenant; start-up queues every tenant
//! whose marker does not match its history, which is how a process killed mid-way catches up.
//! One sync runs at a time, so indexing never competes with itself for the encoder.
//!
//! **Reads** go straight to the store with the tenant in the filter. A search during a sync sees
//! every point that was written whole; points are replaced whole, never half.

mod sync;
mod worker;

use std::sync::Arc;

use eiq_inference::Admission;

pub use sync::{EMBED_CHUNK, Indexer, SyncProgress, SyncReport};
pub use worker::{IndexQueue, spawn as spawn_worker};

use self::sync::store_error;
use crate::engagement::{AccountStats, Digest, Generations};
use crate::error::{Hint, Resource, ServiceError};
use crate::limits::{MAX_ACCOUNT_ID_BYTES, check_text, check_time, excerpt};
use crate::tenancy::{Principal, TenantId};
use crate::text::EmbeddingService;
use crate::vectors::{Hit, PointFilter};

/// Default and largest number of similar posts a search returns.
pub const DEFAULT_SEARCH_K: usize = 10;
pub const MAX_SEARCH_K: usize = 100;
/// Longest platform name a filter may give.
pub const MAX_PLATFORM_BYTES: usize = 64;

/// A similar-posts question.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub text: Option<String>,
    pub vector: Option<Vec<f32>>,
    pub account_id: Option<String>,
    pub platform: Option<String>,
    /// Unix seconds, inclusive.
    pub since: Option<i64>,
    pub until: Option<i64>,
    pub k: Option<usize>,
}

/// One similar post.
#[derive(Debug, Clone)]
pub struct SimilarPost {
    pub post_id: String,
    pub account_id: String,
    pub platform: String,
    pub text: String,
    pub created_at: i64,
    pub engagement: f64,
    /// Against the account's baseline before the post: 0.25 = +25 %; `None` for a first post.
    pub lift: Option<f64>,
    pub hashtags: Vec<String>,
    /// Cosine similarity.
    pub score: f32,
}

#[derive(Debug, Clone)]
pub struct SearchAnswer {
    pub model: String,
    pub results: Vec<SimilarPost>,
    /// The tenant's points do not yet match its history (indexing is under way).
    pub indexing: bool,
}

/// An account of the tenant, with how much of it is indexed.
#[derive(Debug, Clone)]
pub struct AccountSummary {
    pub stats: AccountStats,
    pub indexed_posts: u64,
}

#[derive(Clone)]
pub struct PostIndex {
    inner: Arc<Inner>,
}

struct Inner {
    /// The indexer, or why the store could not be opened (every index call is then a 503).
    indexer: Result<Arc<Indexer>, String>,
    queue: IndexQueue,
    embeddings: EmbeddingService,
    generations: Generations,
}

impl PostIndex {
    pub fn new(
        indexer: Result<Arc<Indexer>, String>,
        queue: IndexQueue,
        embeddings: EmbeddingService,
        generations: Generations,
    ) -> Self {
        Self { inner: Arc::new(Inner { indexer, queue, embeddings, generations }) }
    }

    pub fn queue(&self) -> &IndexQueue {
        &self.inner.queue
    }

    fn indexer(&self) -> Result<&Arc<Indexer>, ServiceError> {
        self.inner.indexer.as_ref().map_err(|reason| {
            tracing::warn!(%reason, "post index unavailable");
            ServiceError::unavailable("the vector store could not be opened; see the server's log")
        })
    }

    /// The model whose space the index is in.
    pub fn model(&self) -> Option<&str> {
        self.inner.indexer.as_ref().ok().map(|i| i.model.as_str())
    }

    /// Posts like `request.text` (or `request.vector`) among the tenant's, filtered in the store.
    pub async fn search(&self, principal: &Principal, request: SearchRequest) -> Result<SearchAnswer, ServiceError> {
        let indexer = self.indexer()?;
        let k = request.k.unwrap_or(DEFAULT_SEARCH_K);
        if !(1..=MAX_SEARCH_K).contains(&k) {
            return Err(ServiceError::invalid("k", format!("k must be 1–{MAX_SEARCH_K}, not {k}")));
        }
        let filter = self.filter(principal, &request).await?;
        let vector = match (request.text, request.vector) {
            (Some(text), None) => self.embed(indexer, "text", text).await?,
            (None, Some(vector)) => {
                check_vector(&vector, self.dimensions(indexer).await?)?;
                vector
            }
            (Some(_), Some(_)) => return Err(ServiceError::invalid("vector", "give `text` or `vector`, not both")),
            (None, None) => {
                return Err(ServiceError::invalid("text", "give the `text` to search with (or a `vector`)"));
            }
        };
        let hits = indexer.store.search(&principal.tenant, vector, filter, k).await.map_err(store_error)?;
        let indexing = !indexer.is_current(&principal.tenant)?;
        if indexing {
            self.inner.queue.push(&principal.tenant);
        }
        Ok(SearchAnswer { model: indexer.model.clone(), results: hits.into_iter().map(similar).collect(), indexing })
    }

    /// The account's most similar post within `since`…now, if any: the gate's duplicate check.
    pub async fn nearest_in_account(
        &self,
        tenant: &TenantId,
        account: &str,
        text: &str,
        since: i64,
    ) -> Result<Option<SimilarPost>, ServiceError> {
        let indexer = self.indexer()?;
        let vector = self.embed(indexer, "text", text.to_string()).await?;
        let filter = PointFilter { account: Some(account.to_string()), since: Some(since), ..PointFilter::default() };
        let hits = indexer.store.search(tenant, vector, filter, 1).await.map_err(store_error)?;
        Ok(hits.into_iter().next().map(similar))
    }

    /// Vectors of the tenant's posts nearest `vector` (for hashtag suggestions), whole hits.
    pub async fn nearest(
        &self,
        tenant: &TenantId,
        vector: Vec<f32>,
        filter: PointFilter,
        k: usize,
    ) -> Result<Vec<Hit>, ServiceError> {
        let indexer = self.indexer()?;
        indexer.store.search(tenant, vector, filter, k).await.map_err(store_error)
    }

    /// Embeds texts (already checked by the caller) in the index's space, in order.
    /// Without a store, the default model's space (the one an index would be in).
    pub async fn embed_texts(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, ServiceError> {
        let model = self.model().unwrap_or(self.inner.embeddings.default_model()).to_string();
        let embedded = self.inner.embeddings.embed(Some(&model), texts, None, Admission::Refuse).await?;
        Ok(embedded.vectors)
    }

    /// Whether the tenant's points match its current history (false while the store is down).
    pub fn is_indexed(&self, tenant: &TenantId) -> Result<bool, ServiceError> {
        match self.inner.indexer.as_ref() {
            Ok(indexer) => indexer.is_current(tenant),
            Err(_) => Ok(false),
        }
    }

    /// The tenant's digested history, or `None` when it has none.
    pub async fn digest(&self, tenant: &TenantId) -> Result<Option<Arc<Digest>>, ServiceError> {
        match self.inner.generations.digest(tenant).await {
            Ok(digest) => Ok(Some(digest)),
            Err(ServiceError::NotFound { resource: Resource::History(_), .. }) => Ok(None),
            Err(other) => Err(other),
        }
    }

    /// Every account of the tenant's history, with its indexed posts.
    pub async fn accounts(&self, principal: &Principal) -> Result<Vec<AccountSummary>, ServiceError> {
        let digest = self.inner.generations.digest(&principal.tenant).await?;
        let mut summaries = Vec::with_capacity(digest.accounts.len());
        for stats in &digest.accounts {
            let indexed_posts = self.indexed(&principal.tenant, &stats.account_id).await?;
            summaries.push(AccountSummary { stats: stats.clone(), indexed_posts });
        }
        Ok(summaries)
    }

    /// One account; an account the tenant's history lacks is not found.
    pub async fn account(&self, principal: &Principal, account: &str) -> Result<AccountSummary, ServiceError> {
        let stats = self.account_stats(principal, account).await?;
        let indexed_posts = self.indexed(&principal.tenant, account).await?;
        Ok(AccountSummary { stats, indexed_posts })
    }

    /// The account's facts, or a 404 naming it.
    pub async fn account_stats(&self, principal: &Principal, account: &str) -> Result<AccountStats, ServiceError> {
        check_account(account)?;
        let digest = self.inner.generations.digest(&principal.tenant).await?;
        digest.accounts.iter().find(|a| a.account_id == account).cloned().ok_or_else(|| ServiceError::NotFound {
            resource: Resource::Account(account.to_string()),
            message: format!("account `{}` has no history", excerpt(account)),
            hint: Some(Hint::ImportHistory),
        })
    }

    async fn indexed(&self, tenant: &TenantId, account: &str) -> Result<u64, ServiceError> {
        let Ok(indexer) = self.inner.indexer.as_ref() else { return Ok(0) };
        let filter = PointFilter { account: Some(account.to_string()), ..PointFilter::default() };
        indexer.store.count(tenant, filter).await.map_err(store_error)
    }

    async fn filter(&self, principal: &Principal, request: &SearchRequest) -> Result<PointFilter, ServiceError> {
        for (field, time) in [("since", request.since), ("until", request.until)] {
            if let Some(time) = time {
                check_time(field, time)?;
            }
        }
        if let (Some(since), Some(until)) = (request.since, request.until)
            && since > until
        {
            return Err(ServiceError::invalid("until", format!("until ({until}) is before since ({since})")));
        }
        if let Some(platform) = &request.platform
            && (platform.is_empty() || platform.len() > MAX_PLATFORM_BYTES)
        {
            return Err(ServiceError::invalid("platform", format!("platform must be 1–{MAX_PLATFORM_BYTES} bytes")));
        }
        if let Some(account) = &request.account_id {
            self.account_stats(principal, account).await?;
        }
        Ok(PointFilter {
            account: request.account_id.clone(),
            platform: request.platform.as_ref().map(|p| p.to_ascii_lowercase()),
            since: request.since,
            until: request.until,
        })
    }

    async fn embed(&self, indexer: &Indexer, field: &str, text: String) -> Result<Vec<f32>, ServiceError> {
        if text.trim().is_empty() {
            return Err(ServiceError::invalid(field, format!("{field} is empty")));
        }
        check_text(field, &text)?;
        let mut embedded =
            self.inner.embeddings.embed(Some(&indexer.model), vec![text], None, Admission::Refuse).await?;
        Ok(embedded.vectors.remove(0))
    }

    async fn dimensions(&self, indexer: &Indexer) -> Result<usize, ServiceError> {
        self.inner
            .embeddings
            .models()
            .into_iter()
            .find(|m| m.id == indexer.model)
            .and_then(|m| m.dimensions)
            .ok_or_else(|| ServiceError::unavailable(format!("the index model `{}` is not served", indexer.model)))
    }
}

/// A non-empty account id of at most [`MAX_ACCOUNT_ID_BYTES`].
pub fn check_account(account: &str) -> Result<(), ServiceError> {
    if account.is_empty() || account.len() > MAX_ACCOUNT_ID_BYTES {
        return Err(ServiceError::invalid("account_id", format!("account_id must be 1–{MAX_ACCOUNT_ID_BYTES} bytes")));
    }
    Ok(())
}

fn check_vector(vector: &[f32], dimensions: usize) -> Result<(), ServiceError> {
    if vector.len() != dimensions {
        return Err(ServiceError::invalid(
            "vector",
            format!("vector has {} dimensions; the index's model makes {dimensions}", vector.len()),
        ));
    }
    if let Some(i) = vector.iter().position(|v| !v.is_finite()) {
        return Err(ServiceError::invalid(format!("vector[{i}]"), "vector values must be finite numbers"));
    }
    if vector.iter().all(|v| *v == 0.0) {
        return Err(ServiceError::invalid("vector", "a zero vector has no direction to search in"));
    }
    Ok(())
}

fn similar(hit: Hit) -> SimilarPost {
    let post = hit.post;
    SimilarPost {
        post_id: post.post_id,
        account_id: post.account,
        platform: post.platform,
        text: post.text,
        created_at: post.created_at,
        engagement: post.engagement,
        lift: post.relative_engagement.map(f64::exp_m1),
        hashtags: post.hashtags,
        score: hit.score,
    }
}
