//! What is derived from a tenant's history, per *generation* of it: the digest (features,
//! best-time slots, account states) and the trained forecaster.
//!
//! A generation is tied to the store's change token, read on every question: an import (by this
//! server, or by `eiq batch import --tenant` in another process) starts a new generation at once.
//! Each generation computes its digest and model once, on first use; concurrent callers wait for
//! the same computation. Only tenants that have a history get any state here, and at most
//! [`MAX_CACHED_TENANTS`] of them (the least recently asked are dropped), so a caller inventing
//! tenant ids grows nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use eiq_features::HistoryStore;
use eiq_features::best_times::TenantSlots;
use eiq_training::engagement::{AccountState, EngagementModel};
use polars::prelude::DataFrame;
use tokio::sync::{OnceCell, OwnedMutexGuard};

use super::accounts::{AccountStats, account_stats};
use super::feature_error;
use super::forecaster::{Failure, Forecaster};
use super::tags::{TagLift, tag_lift};
use crate::error::{Hint, Resource, ServiceError};
use crate::tenancy::TenantId;

/// Tenants whose derived state is kept in memory at once.
pub const MAX_CACHED_TENANTS: usize = 256;

/// What best times and forecasts read: the tenant's history, digested.
pub struct Digest {
    pub slots: TenantSlots,
    pub states: HashMap<String, AccountState>,
    /// Every account's posts, first and last post and platforms, by account id.
    pub accounts: Vec<AccountStats>,
    /// Every hashtag's posts and shrunk engagement lift, per account and for the tenant.
    pub tags: TagLift,
    /// The tenant's feature rows, which the forecaster trains on.
    features: DataFrame,
}

/// The one owner of derived state; cheap to clone.
#[derive(Clone)]
pub struct Generations {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<HistoryStore>,
    forecaster: Forecaster,
    tenants: Mutex<TenantCache>,
}

/// The tenants with state in memory, each with when it was last asked for.
#[derive(Default)]
struct TenantCache {
    cells: HashMap<TenantId, (Arc<TenantCell>, u64)>,
    clock: u64,
}

struct TenantCell {
    /// One import at a time per tenant: merges read, change and rewrite account files.
    writing: Arc<tokio::sync::Mutex<()>>,
    current: RwLock<Arc<Generation>>,
}

#[derive(Default)]
struct Generation {
    /// The store's change token this generation was made for.
    version: String,
    digest: OnceCell<Result<Arc<Digest>, Failure>>,
    model: OnceCell<Result<Arc<EngagementModel>, Failure>>,
}

impl Generations {
    pub(super) fn new(store: Arc<HistoryStore>, forecaster: Forecaster) -> Self {
        Self { inner: Arc::new(Inner { store, forecaster, tenants: Mutex::new(TenantCache::default()) }) }
    }

    /// The tenant's digested history (computed once per generation).
    pub async fn digest(&self, tenant: &TenantId) -> Result<Arc<Digest>, ServiceError> {
        let generation = self.generation(tenant)?;
        self.digest_of(&generation, tenant).await
    }

    /// The tenant's forecaster: from disk when it matches the history, else trained now.
    pub async fn model(&self, tenant: &TenantId) -> Result<Arc<EngagementModel>, ServiceError> {
        let generation = self.generation(tenant)?;
        // Trains on the digest's features: the history is read and featurised once per generation.
        let digest = self.digest_of(&generation, tenant).await?;
        let (inner, tenant, version) = (Arc::clone(&self.inner), tenant.clone(), generation.version.clone());
        once(&generation.model, "training", move || inner.forecaster.load_or_train(&tenant, &version, &digest.features))
            .await
    }

    /// Holds the tenant's import lock: one merge at a time per tenant.
    pub(super) async fn writing(&self, tenant: &TenantId) -> OwnedMutexGuard<()> {
        let lock = Arc::clone(&self.cell(tenant).writing);
        lock.lock_owned().await
    }

    /// Starts computing the new generation after an import, so the next question does not pay.
    pub(super) fn warm(&self, tenant: TenantId) {
        let generations = self.clone();
        tokio::spawn(async move {
            let _ = generations.model(&tenant).await;
        });
    }

    async fn digest_of(&self, generation: &Generation, tenant: &TenantId) -> Result<Arc<Digest>, ServiceError> {
        let (inner, tenant) = (Arc::clone(&self.inner), tenant.clone());
        once(&generation.digest, "digest", move || inner.compute_digest(&tenant)).await
    }

    /// The generation for the store's current history of `tenant`; a tenant without history
    /// is not found, and nothing is kept for it.
    fn generation(&self, tenant: &TenantId) -> Result<Arc<Generation>, ServiceError> {
        let version = self.inner.store.version(tenant.as_str()).map_err(feature_error)?.ok_or_else(|| {
            ServiceError::NotFound {
                message: format!("tenant `{tenant}` has no history"),
                resource: Resource::History(tenant.clone()),
                hint: Some(Hint::ImportHistory),
            }
        })?;
        let cell = self.cell(tenant);
        {
            let current = cell.current.read().expect("not poisoned");
            if current.version == version {
                return Ok(Arc::clone(&current));
            }
        }
        let mut current = cell.current.write().expect("not poisoned");
        if current.version != version {
            *current = Arc::new(Generation { version, ..Generation::default() });
        }
        Ok(Arc::clone(&current))
    }

    fn cell(&self, tenant: &TenantId) -> Arc<TenantCell> {
        let mut cache = self.inner.tenants.lock().expect("not poisoned");
        cache.clock += 1;
        let now = cache.clock;
        if let Some((cell, used)) = cache.cells.get_mut(tenant) {
            *used = now;
            return Arc::clone(cell);
        }
        if cache.cells.len() >= MAX_CACHED_TENANTS {
            // The least recently asked tenant that nobody is using right now.
            let idle = cache
                .cells
                .iter()
                .filter(|(_, (cell, _))| Arc::strong_count(cell) == 1 && Arc::strong_count(&cell.writing) == 1)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(name, _)| name.clone());
            if let Some(name) = idle {
                cache.cells.remove(&name);
            }
        }
        let cell = Arc::new(TenantCell { writing: Arc::default(), current: RwLock::new(Arc::default()) });
        cache.cells.insert(tenant.clone(), (Arc::clone(&cell), now));
        cell
    }
}

impl Inner {
    fn compute_digest(&self, tenant: &TenantId) -> Result<Arc<Digest>, Failure> {
        let internal = Failure::internal("digest");
        let posts = self.store.load_tenant(tenant.as_str()).map_err(|e| internal(&e))?;
        let features = eiq_features::features(posts.clone()).map_err(|e| internal(&e))?;
        let slots = TenantSlots::new(&features).map_err(|e| internal(&e))?;
        let states = AccountState::all_from_features(&features).map_err(|e| internal(&e))?;
        let accounts = account_stats(&features).map_err(|e| internal(&e))?;
        let tags = tag_lift(&posts, &features).map_err(|e| internal(&e))?;
        Ok(Arc::new(Digest { slots, states, accounts, tags, features }))
    }
}

/// Runs `work` on a blocking thread the first time `cell` is asked for; later and concurrent
/// callers get the same answer. An internal failure (a disk error, say) is not kept: it may pass,
/// so the next caller tries again rather than meeting it until the next import.
async fn once<T: Send + Sync + 'static>(
    cell: &OnceCell<Result<Arc<T>, Failure>>,
    context: &'static str,
    work: impl FnOnce() -> Result<Arc<T>, Failure> + Send + 'static,
) -> Result<Arc<T>, ServiceError> {
    let answer = cell
        .get_or_try_init(|| async move {
            let result =
                tokio::task::spawn_blocking(work).await.unwrap_or_else(|e| Err(Failure::internal(context)(&e)));
            match result {
                Err(Failure::Internal { context, detail }) => Err(ServiceError::Internal { context, detail }),
                kept => Ok(kept),
            }
        })
        .await?;
    answer.clone().map_err(|failure| match failure {
        Failure::NotEnoughHistory(message) => ServiceError::FailedPrecondition { message },
        Failure::Internal { context, detail } => ServiceError::Internal { context, detail },
    })
}
