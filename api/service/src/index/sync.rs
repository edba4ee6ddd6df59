//! Bringing a tenant's points in line with its history, from whatever state a crash left.
//!
//! A sync does not trust what it did last time; it compares. It reads the history (the one
//! source of truth) and the store's ids and hashes, then:
//! - embeds and upserts the posts whose point is missing or whose text changed;
//! - re-upserts, with their stored vectors, the posts whose counts or baseline changed;
//! - deletes points the history no longer has.
//!
//! Only after the store has persisted all of it does the tenant's *marker* record the history's
//! change token (`<marker dir>/<tenant>`, written atomically). A process killed at any moment
//! therefore leaves either a stale marker (the next sync compares again and does only what is
//! missing, since upserts are idempotent) or a correct one. The embedded engine loses unflushed
//! writes on a crash; the comparison finds those too.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

use eiq_datasets::Post;
use eiq_features::HistoryStore;
use eiq_inference::Admission;
use polars::prelude::DataFrame;
use sha2::{Digest as _, Sha256};

use crate::engagement::feature_error;
use crate::error::ServiceError;
use crate::tenancy::TenantId;
use crate::text::EmbeddingService;
use crate::vectors::{PostPayload, PostPoint, StoredPoint, VectorStore, point_id};

/// Texts embedded per call: large enough for full batches, small enough that progress shows.
pub const EMBED_CHUNK: usize = 256;
/// Chunks being embedded at once while earlier ones are written.
const PIPELINE_DEPTH: usize = 2;
/// Points read per scan page.
const SCAN_PAGE: usize = 4_096;
/// Syncs of one tenant in a row before giving up on a history that keeps changing.
const MAX_ROUNDS: usize = 3;

/// How far a sync has got, for progress bars.
#[derive(Debug, Clone, Copy, Default)]
pub struct SyncProgress {
    /// Posts in the history.
    pub posts: usize,
    /// Posts whose point is (now) current.
    pub current: usize,
}

/// What a sync did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SyncReport {
    pub posts: usize,
    pub embedded: usize,
    pub updated: usize,
    pub deleted: usize,
}

/// Embeds, compares and writes; one per store.
pub struct Indexer {
    pub(crate) store: Arc<dyn VectorStore>,
    history: Arc<HistoryStore>,
    embeddings: EmbeddingService,
    /// The model whose vectors the store holds.
    pub(super) model: String,
    markers: PathBuf,
}

impl Indexer {
    pub fn new(
        store: Arc<dyn VectorStore>,
        history: Arc<HistoryStore>,
        embeddings: EmbeddingService,
        model: String,
        markers: PathBuf,
    ) -> Self {
        Self { store, history, embeddings, model, markers }
    }

    /// The tenant's indexed change token, if its points are known to match that history.
    fn marker(&self, tenant: &TenantId) -> Option<String> {
        let text = std::fs::read_to_string(self.markers.join(tenant.as_str())).ok()?;
        let (model, version) = text.trim_end().split_once('\n')?;
        (model == self.model).then(|| version.to_string())
    }

    fn write_marker(&self, tenant: &TenantId, version: &str) -> Result<(), ServiceError> {
        use std::io::Write as _;
        let body = format!("{}\n{version}\n", self.model);
        let path = self.markers.join(tenant.as_str());
        let temporary = self.markers.join(format!(".{tenant}.tmp-{}", std::process::id()));
        let written = std::fs::create_dir_all(&self.markers)
            .and_then(|()| std::fs::File::create(&temporary))
            .and_then(|mut file| file.write_all(body.as_bytes()).and_then(|()| file.sync_all()))
            .and_then(|()| std::fs::rename(&temporary, &path));
        written.map_err(|e| ServiceError::internal("index marker", e))
    }

    /// Whether the tenant's points match its current history.
    pub fn is_current(&self, tenant: &TenantId) -> Result<bool, ServiceError> {
        let version = self.history.version(tenant.as_str()).map_err(feature_error)?;
        Ok(version.is_none() || version == self.marker(tenant))
    }

    /// Brings the tenant's points in line with its history (see the module docs).
    pub async fn sync(
        &self,
        tenant: &TenantId,
        progress: &(dyn Fn(SyncProgress) + Send + Sync),
    ) -> Result<SyncReport, ServiceError> {
        let mut total = SyncReport::default();
        for _ in 0..MAX_ROUNDS {
            let Some(version) = self.history.version(tenant.as_str()).map_err(feature_error)? else {
                return Ok(total);
            };
            if self.marker(tenant).as_deref() == Some(version.as_str()) {
                return Ok(total);
            }
            let report = self.sync_once(tenant, progress).await?;
            total.posts = report.posts;
            total.embedded += report.embedded;
            total.updated += report.updated;
            total.deleted += report.deleted;
            self.store.persist().await.map_err(store_error)?;
            self.write_marker(tenant, &version)?;
        }
        Ok(total)
    }

    async fn sync_once(
        &self,
        tenant: &TenantId,
        progress: &(dyn Fn(SyncProgress) + Send + Sync),
    ) -> Result<SyncReport, ServiceError> {
        let (history, name, model) = (Arc::clone(&self.history), tenant.clone(), self.model.clone());
        let wanted = tokio::task::spawn_blocking(move || wanted_points(&history, &name, &model))
            .await
            .map_err(|e| ServiceError::internal("index task", e))??;
        let stored = self.stored(tenant).await?;

        let mut report = SyncReport { posts: wanted.len(), ..SyncReport::default() };
        let mut embed = Vec::new();
        let mut refresh = Vec::new();
        let mut current = 0;
        for post in &wanted {
            match stored.get(&post.0) {
                Some(point) if point.fingerprint == post.1.fingerprint => current += 1,
                Some(point) if point.text_hash == post.1.text_hash => refresh.push(post),
                _ => embed.push(post),
            }
        }
        progress(SyncProgress { posts: wanted.len(), current });

        for chunk in refresh.chunks(EMBED_CHUNK) {
            let ids = chunk.iter().map(|(id, _)| *id).collect();
            let vectors: HashMap<u64, Vec<f32>> =
                self.store.vectors(tenant, ids).await.map_err(store_error)?.into_iter().collect();
            let mut points = Vec::with_capacity(chunk.len());
            for (id, post) in chunk {
                match vectors.get(id) {
                    Some(vector) => points.push(PostPoint { id: *id, vector: vector.clone(), post: post.clone() }),
                    // Gone since the scan: embed it again.
                    None => embed.push(&wanted[wanted.iter().position(|(w, _)| w == id).expect("listed")]),
                }
            }
            report.updated += points.len();
            current += points.len();
            self.store.upsert(points).await.map_err(store_error)?;
            progress(SyncProgress { posts: wanted.len(), current });
        }

        // Two chunks in flight: the encoder embeds the next while this one is written.
        let mut in_flight = std::collections::VecDeque::new();
        let mut chunks = embed.chunks(EMBED_CHUNK).peekable();
        while chunks.peek().is_some() || !in_flight.is_empty() {
            while in_flight.len() < PIPELINE_DEPTH
                && let Some(chunk) = chunks.next()
            {
                let texts: Vec<String> = chunk.iter().map(|(_, post)| embeddable(&post.text)).collect();
                let (embeddings, model) = (self.embeddings.clone(), self.model.clone());
                let task =
                    tokio::spawn(async move { embeddings.embed(Some(&model), texts, None, Admission::Wait).await });
                in_flight.push_back((chunk, task));
            }
            let Some((chunk, task)) = in_flight.pop_front() else { break };
            let embedded = task.await.map_err(|e| ServiceError::internal("embedding task", e))??;
            let points = chunk
                .iter()
                .zip(embedded.vectors)
                .map(|((id, post), vector)| PostPoint { id: *id, vector, post: post.clone() })
                .collect::<Vec<_>>();
            report.embedded += points.len();
            current += points.len();
            self.store.upsert(points).await.map_err(store_error)?;
            progress(SyncProgress { posts: wanted.len(), current });
        }

        let keep: std::collections::HashSet<u64> = wanted.iter().map(|(id, _)| *id).collect();
        let stale: Vec<u64> = stored.keys().filter(|id| !keep.contains(id)).copied().collect();
        report.deleted = stale.len();
        for chunk in stale.chunks(SCAN_PAGE) {
            self.store.delete(tenant, chunk.to_vec()).await.map_err(store_error)?;
        }
        Ok(report)
    }

    /// Every point the store holds for the tenant, by id.
    async fn stored(&self, tenant: &TenantId) -> Result<HashMap<u64, StoredPoint>, ServiceError> {
        let mut stored = HashMap::new();
        let mut after = None;
        loop {
            let page = self.store.scan(tenant, after, SCAN_PAGE).await.map_err(store_error)?;
            stored.extend(page.points.into_iter().map(|p| (p.id, p)));
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(stored),
            }
        }
    }
}

/// A post's text as the encoder reads it: an empty post (media only) still gets a vector.
fn embeddable(text: &str) -> String {
    match text.trim().is_empty() {
        true => "(no text)".to_string(),
        false => text.to_string(),
    }
}

/// The point every post of the tenant's history should have, without vectors.
fn wanted_points(
    history: &HistoryStore,
    tenant: &TenantId,
    model: &str,
) -> Result<Vec<(u64, PostPayload)>, ServiceError> {
    let frame = history.load_tenant(tenant.as_str()).map_err(feature_error)?;
    let features = eiq_features::features(frame.clone()).map_err(feature_error)?;
    let outcomes = outcomes(&features).map_err(|e| ServiceError::internal("index features", e))?;
    let posts = eiq_features::stored_posts(&frame).map_err(feature_error)?;
    Ok(posts
        .into_iter()
        .map(|post| {
            let (engagement, relative) =
                outcomes.get(&(post.account_id.clone(), post.post_id.clone())).copied().unwrap_or((0.0, None));
            let payload = payload(tenant, model, post, engagement, relative);
            (point_id(tenant.as_str(), &payload.account, &payload.post_id), payload)
        })
        .collect())
}

/// (account, post) → (engagement, relative engagement).
type Outcomes = HashMap<(String, String), (f64, Option<f64>)>;

/// Each post's outcome, from the feature rows.
fn outcomes(features: &DataFrame) -> Result<Outcomes, polars::error::PolarsError> {
    let accounts = features.column("account_id")?.str()?;
    let posts = features.column("post_id")?.str()?;
    let engagement = features.column("engagement")?.cast(&polars::prelude::DataType::Float64)?;
    let engagement = engagement.f64()?;
    let relative = features.column("relative_engagement")?.f64()?;
    let mut out = HashMap::with_capacity(features.height());
    for i in 0..features.height() {
        if let (Some(account), Some(post)) = (accounts.get(i), posts.get(i)) {
            let relative = relative.get(i).filter(|r| r.is_finite());
            out.insert((account.to_string(), post.to_string()), (engagement.get(i).unwrap_or(0.0), relative));
        }
    }
    Ok(out)
}

fn payload(tenant: &TenantId, model: &str, post: Post, engagement: f64, relative: Option<f64>) -> PostPayload {
    let hashtags = eiq_datasets::twitter_text::extract_hashtags(&post.text).into_iter().map(|t| t.value).collect();
    let text_hash = hash64(&[model.as_bytes(), post.text.as_bytes()]);
    let mut payload = PostPayload {
        tenant: tenant.as_str().to_string(),
        account: post.account_id,
        post_id: post.post_id,
        platform: post.platform,
        created_at: post.created_at,
        hashtags,
        engagement,
        relative_engagement: relative,
        text: post.text,
        text_hash,
        fingerprint: 0,
    };
    let described = format!(
        "{}\u{0}{}\u{0}{}\u{0}{}\u{0}{:?}\u{0}{}\u{0}{:?}",
        payload.account,
        payload.post_id,
        payload.platform,
        payload.created_at,
        payload.hashtags,
        payload.engagement,
        payload.relative_engagement
    );
    payload.fingerprint = hash64(&[&text_hash.to_le_bytes(), described.as_bytes()]);
    payload
}

fn hash64(parts: &[&[u8]]) -> u64 {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_le_bytes());
        hasher.update(part);
    }
    u64::from_le_bytes(hasher.finalize()[..8].try_into().expect("8 bytes"))
}

/// A store failure as callers see it: the detail (which may name paths) is only logged.
pub(super) fn store_error(error: crate::vectors::StoreError) -> ServiceError {
    tracing::warn!(%error, "vector store");
    ServiceError::Unavailable {
        message: "the vector store is unavailable; try again shortly".into(),
        hint: None,
        retry_after: Some(std::time::Duration::from_secs(5)),
    }
}
