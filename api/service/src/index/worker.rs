//! The indexing worker: one task that syncs queued tenants one at a time.
//!
//! The queue holds each tenant at most once (a set beside the channel), so a burst of imports
//! for one tenant is one sync, and the queue can never hold more than the tenants that have a
//! history. A sync that fails because the encoder is still loading, or the store does not
//! answer, is retried with a growing pause; the tenant stays queued meanwhile.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use eiq_features::HistoryStore;
use tokio::sync::mpsc;

use super::sync::Indexer;
use crate::tenancy::TenantId;

/// Longest pause between attempts at a tenant whose sync keeps failing.
const MAX_RETRY_PAUSE: Duration = Duration::from_secs(60);

/// Where imports and start-up put tenants to index; cheap to clone.
#[derive(Clone)]
pub struct IndexQueue {
    sender: mpsc::UnboundedSender<TenantId>,
    queued: Arc<Mutex<HashSet<TenantId>>>,
    /// Tenants waiting or being synced, for `/ready`-style reporting and tests.
    busy: Arc<std::sync::atomic::AtomicUsize>,
}

impl IndexQueue {
    /// A queue and the receiving end the worker takes.
    pub fn new() -> (Self, mpsc::UnboundedReceiver<TenantId>) {
        let (sender, receiver) = mpsc::unbounded_channel();
        let queue = Self { sender, queued: Arc::default(), busy: Arc::default() };
        (queue, receiver)
    }

    /// Queues `tenant` unless it is already waiting.
    pub fn push(&self, tenant: &TenantId) {
        let mut queued = self.queued.lock().unwrap_or_else(|p| p.into_inner());
        if queued.insert(tenant.clone()) {
            self.busy.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            // The worker lives as long as the services; a closed channel means shutdown.
            let _ = self.sender.send(tenant.clone());
        }
    }

    /// Tenants queued or being indexed now.
    pub fn pending(&self) -> usize {
        self.busy.load(std::sync::atomic::Ordering::SeqCst)
    }

    fn taken(&self, tenant: &TenantId) {
        self.queued.lock().unwrap_or_else(|p| p.into_inner()).remove(tenant);
    }

    fn done(&self) {
        self.busy.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// Starts the worker on the current runtime: first every tenant with a history (catching up
/// after a crash costs only a comparison for tenants already indexed), then whatever is queued.
pub fn spawn(
    indexer: Arc<Indexer>,
    history: Arc<HistoryStore>,
    queue: IndexQueue,
    mut receiver: mpsc::UnboundedReceiver<TenantId>,
) {
    tokio::spawn(async move {
        let tenants = tokio::task::spawn_blocking(move || history.tenants()).await;
        match tenants {
            Ok(Ok(tenants)) => {
                for tenant in tenants.iter().filter_map(|t| TenantId::parse(t).ok()) {
                    queue.push(&tenant);
                }
            }
            Ok(Err(error)) => tracing::warn!(%error, "listing tenants to index"),
            Err(error) => tracing::warn!(%error, "listing tenants to index"),
        }
        while let Some(tenant) = receiver.recv().await {
            let mut pause = Duration::from_millis(500);
            loop {
                // Taken before the sync, so an import during it queues the tenant again.
                queue.taken(&tenant);
                match indexer.sync(&tenant, &|_| {}).await {
                    Ok(report) => {
                        if report != Default::default() {
                            tracing::info!(%tenant, ?report, "indexed");
                        }
                        break;
                    }
                    Err(error) => {
                        tracing::info!(%tenant, %error, ?pause, "indexing postponed");
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(MAX_RETRY_PAUSE);
                    }
                }
            }
            queue.done();
        }
    });
}
