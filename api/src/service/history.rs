//! Post history per tenant: imports, and what is derived from it (features, best-time slots,
//! account states, the trained forecaster).
//!
//! Derived state belongs to a *generation* of the history. An import replaces the generation;
//! the new one computes its digest and model once, on first use (concurrent callers wait for
//! the same computation), and an import starts that work in the background so the next
//! question is answered from memory. Trained models are also kept on disk with the store's change
//! token of the history they were trained on, so a restart does not retrain.
//!
//! A generation is tied to the store's change token, read on every question: an import made by
//! another process (`eiq batch import --tenant`) starts a new generation at once, not at restart.
//! Only tenants that have a history get any state here, and at most [`MAX_CACHED_TENANTS`] of
//! them (the least recently asked are dropped), so a caller inventing tenant ids grows nothing.
//! Imports hold one of `--max-concurrent-imports` slots from before their body is read until
//! they are stored, which bounds the memory that uploads and parsing can take together.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use eiq_datasets::{Imported, RowError};
use eiq_features::best_times::TenantSlots;
use eiq_features::{AccountMerge, FeatureError, HistoryFormat, HistoryStore, ImportLimits, ImportOptions};
use eiq_training::engagement::{AccountState, EngagementModel, GbdtParams, train_forecaster};
use polars::prelude::DataFrame;
use tokio::sync::{OnceCell, OwnedSemaphorePermit, Semaphore};

use super::limits::excerpt;
use crate::error::ServiceError;

/// Requests name their tenant in this header (REST) or metadata entry (gRPC); until API keys
/// arrive, a request that names none is the `default` tenant's.
pub const TENANT_HEADER: &str = "x-tenant-id";
pub const DEFAULT_TENANT: &str = "default";

/// Row errors listed in an import answer; the total is always given.
pub const LISTED_ROW_ERRORS: usize = 100;
/// Tenants whose derived state is kept in memory at once.
pub const MAX_CACHED_TENANTS: usize = 256;
/// How long an import waits for a free slot before it is told to come back.
const IMPORT_SLOT_WAIT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct HistoryService {
    inner: Arc<Inner>,
}

struct Inner {
    store: HistoryStore,
    models_dir: PathBuf,
    imports_config: ImportSettings,
    trees: GbdtParams,
    tenants: Mutex<TenantCache>,
    imports: Arc<Semaphore>,
}

/// The tenants with state in memory, each with when it was last asked for.
#[derive(Default)]
struct TenantCache {
    cells: HashMap<String, (Arc<TenantCell>, u64)>,
    clock: u64,
}

struct TenantCell {
    /// One import at a time per tenant: merges read, change and rewrite account files.
    writing: tokio::sync::Mutex<()>,
    current: RwLock<Arc<Generation>>,
}

#[derive(Default)]
struct Generation {
    /// The store's change token this generation was made for.
    version: String,
    digest: OnceCell<Result<Arc<Digest>, Failure>>,
    model: OnceCell<Result<Arc<EngagementModel>, Failure>>,
}

/// A cached failure: errors are not `Clone`, so the cache keeps what the caller needs.
#[derive(Debug, Clone)]
enum Failure {
    NotEnoughHistory(String),
    Internal(String),
}

impl From<Failure> for ServiceError {
    fn from(failure: Failure) -> Self {
        match failure {
            Failure::NotEnoughHistory(message) => ServiceError::FailedPrecondition(message),
            Failure::Internal(message) => ServiceError::Internal(message),
        }
    }
}

/// What best times and forecasts read: the tenant's history, digested.
pub struct Digest {
    pub slots: TenantSlots,
    pub states: HashMap<String, AccountState>,
    /// The tenant's feature rows, which the forecaster trains on.
    features: DataFrame,
}

/// A held import slot (see the module docs); dropped when the import is done.
pub struct ImportSlot {
    _permit: OwnedSemaphorePermit,
}

pub enum ImportSource {
    Bytes(Vec<u8>),
    /// A file under `--import-root` on the server.
    Path(String),
}

/// How imports are bounded (from `eiq serve`'s flags).
#[derive(Debug, Clone)]
pub struct ImportSettings {
    /// The folder server-side imports may read; none turns them off.
    pub root: Option<PathBuf>,
    /// Largest upload or server file, in bytes; also the most a Parquet file may decode to.
    pub max_bytes: usize,
    pub max_rows: usize,
    /// Imports read and parsed at once.
    pub max_concurrent: usize,
}

pub struct ImportRequest {
    pub slot: ImportSlot,
    pub tenant: String,
    pub format: Option<HistoryFormat>,
    pub options: ImportOptions,
    pub source: ImportSource,
}

#[derive(Debug)]
pub struct ImportReport {
    pub imported: usize,
    pub skipped_reposts: usize,
    /// The first [`LISTED_ROW_ERRORS`] bad rows, and how many there were in all.
    pub errors: Vec<RowError>,
    pub error_count: usize,
    pub accounts: Vec<AccountMerge>,
}

impl HistoryService {
    pub fn new(data_dir: &Path, settings: ImportSettings) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: HistoryStore::new(data_dir),
                models_dir: data_dir.join("models"),
                imports: Arc::new(Semaphore::new(settings.max_concurrent.max(1))),
                imports_config: settings,
                trees: GbdtParams::default(),
                tenants: Mutex::new(TenantCache::default()),
            }),
        }
    }

    pub fn max_import_bytes(&self) -> usize {
        self.inner.imports_config.max_bytes
    }

    /// Waits for a free import slot, or says the server is busy. Take it before reading the body.
    pub async fn import_slot(&self) -> Result<ImportSlot, ServiceError> {
        match tokio::time::timeout(IMPORT_SLOT_WAIT, Arc::clone(&self.inner.imports).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(ImportSlot { _permit: permit }),
            _ => Err(ServiceError::Busy("every import slot is in use; try again shortly".into())),
        }
    }

    pub async fn import(&self, request: ImportRequest) -> Result<ImportReport, ServiceError> {
        // Checked before anything is read or cached under the name.
        eiq_features::store::checked_tenant(&request.tenant).map_err(feature_error)?;
        let (bytes, format) = match request.source {
            ImportSource::Bytes(bytes) => {
                let format = request.format.ok_or_else(|| {
                    ServiceError::InvalidInput(format!("say the upload's format (one of {})", HistoryFormat::NAMES))
                })?;
                (bytes, format)
            }
            ImportSource::Path(path) => self.read_server_file(&path, request.format).await?,
        };
        if bytes.len() > self.inner.imports_config.max_bytes {
            return Err(ServiceError::TooLarge(format!(
                "the history is {} bytes; the limit is {} (--max-import-bytes)",
                bytes.len(),
                self.inner.imports_config.max_bytes
            )));
        }
        let settings = &self.inner.imports_config;
        let options = ImportOptions {
            limits: ImportLimits {
                max_rows: settings.max_rows,
                max_decoded_bytes: settings.max_bytes as u64,
                ..ImportLimits::default()
            },
            ..request.options
        };
        let imported: Imported = blocking(move || eiq_features::import_bytes(&bytes, format, &options)).await?;
        let cell = self.tenant(&request.tenant);
        let _writing = cell.writing.lock().await;
        let service = self.clone();
        let tenant = request.tenant.clone();
        let Imported { posts, errors, error_count, skipped_reposts } = imported;
        let imported = posts.len();
        let accounts = blocking(move || service.inner.store.merge(&tenant, posts)).await?;
        // The store's change token moved, so the next question starts a new generation: warm it
        // now so that question does not pay for it.
        let warm = self.clone();
        let tenant = request.tenant.clone();
        tokio::spawn(async move {
            let _ = warm.model(&tenant).await;
        });
        Ok(ImportReport {
            imported,
            skipped_reposts,
            error_count,
            errors: errors.into_iter().take(LISTED_ROW_ERRORS).collect(),
            accounts,
        })
    }

    async fn read_server_file(
        &self,
        path: &str,
        format: Option<HistoryFormat>,
    ) -> Result<(Vec<u8>, HistoryFormat), ServiceError> {
        let root = self.inner.imports_config.root.clone().ok_or_else(|| {
            ServiceError::Forbidden("server-side imports are off; start the server with --import-root".into())
        })?;
        let limit = self.inner.imports_config.max_bytes;
        let relative = path.to_string();
        let read = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ServiceError> {
            // Missing, outside the root, through a link, not a regular file: one answer for all,
            // so the answer tells nothing about the server's files.
            let not_found =
                || ServiceError::NotFound(format!("no file `{}` under the import root", excerpt(&relative)));
            let file = super::beneath::open_file(&root, &relative).ok_or_else(not_found)?;
            let size = file.metadata().map_or(0, |m| m.len());
            if size > limit as u64 {
                return Err(ServiceError::TooLarge(format!(
                    "`{}` is {size} bytes; the limit is {limit} (--max-import-bytes)",
                    excerpt(&relative)
                )));
            }
            let mut bytes = Vec::with_capacity(size as usize);
            file.take(limit as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| ServiceError::Internal(format!("reading an import file: {e}")))?;
            if bytes.len() > limit {
                return Err(ServiceError::TooLarge(format!("`{}` grew past the limit", excerpt(&relative))));
            }
            Ok(bytes)
        })
        .await
        .map_err(|e| ServiceError::Internal(format!("import read task: {e}")))??;
        // Only once the file is known to be there, so that this answer tells nothing either.
        let format = format.or_else(|| HistoryFormat::from_path(Path::new(path))).ok_or_else(|| {
            ServiceError::InvalidInput(format!(
                "cannot tell the format of `{}`; say one of {}",
                excerpt(path),
                HistoryFormat::NAMES
            ))
        })?;
        Ok((read, format))
    }

    /// The tenant's digested history (computed once per generation).
    pub async fn digest(&self, tenant: &str) -> Result<Arc<Digest>, ServiceError> {
        let generation = self.generation(tenant)?;
        self.digest_of(&generation, tenant).await
    }

    async fn digest_of(&self, generation: &Generation, tenant: &str) -> Result<Arc<Digest>, ServiceError> {
        let (service, tenant) = (self.clone(), tenant.to_string());
        once(&generation.digest, "digest", move || service.compute_digest(&tenant)).await
    }

    /// The tenant's forecaster: from disk when it matches the history, else trained now.
    pub async fn model(&self, tenant: &str) -> Result<Arc<EngagementModel>, ServiceError> {
        let generation = self.generation(tenant)?;
        // Trains on the digest's features: the history is read and featurised once per generation.
        let digest = self.digest_of(&generation, tenant).await?;
        let (service, tenant, version) = (self.clone(), tenant.to_string(), generation.version.clone());
        once(&generation.model, "training", move || service.load_or_train(&tenant, &version, &digest.features)).await
    }

    /// The generation for the store's current history of `tenant`; a tenant without history
    /// is not found, and nothing is kept for it.
    fn generation(&self, tenant: &str) -> Result<Arc<Generation>, ServiceError> {
        eiq_features::store::checked_tenant(tenant).map_err(feature_error)?;
        let version = self.inner.store.version(tenant).map_err(feature_error)?.ok_or_else(|| {
            ServiceError::NotFound(format!(
                "tenant `{tenant}` has no history; import it first (POST /v1/history:import)"
            ))
        })?;
        let cell = self.tenant(tenant);
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

    fn tenant(&self, tenant: &str) -> Arc<TenantCell> {
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
                .filter(|(_, (cell, _))| Arc::strong_count(cell) == 1)
                .min_by_key(|(_, (_, used))| *used)
                .map(|(name, _)| name.clone());
            if let Some(name) = idle {
                cache.cells.remove(&name);
            }
        }
        let cell = Arc::new(TenantCell { writing: tokio::sync::Mutex::new(()), current: RwLock::new(Arc::default()) });
        cache.cells.insert(tenant.to_string(), (Arc::clone(&cell), now));
        cell
    }

    fn compute_digest(&self, tenant: &str) -> Result<Arc<Digest>, Failure> {
        let internal = |e: &dyn std::fmt::Display| Failure::Internal(e.to_string());
        let posts = self.inner.store.load_tenant(tenant).map_err(|e| internal(&e))?;
        let features = eiq_features::features(posts).map_err(|e| internal(&e))?;
        let slots = TenantSlots::new(&features).map_err(|e| internal(&e))?;
        let states = AccountState::all_from_features(&features).map_err(|e| internal(&e))?;
        Ok(Arc::new(Digest { slots, states, features }))
    }

    /// `version` is the store's change token read before `features` were: a model is never kept
    /// under a newer token than the history it was trained on.
    fn load_or_train(
        &self,
        tenant: &str,
        version: &str,
        features: &DataFrame,
    ) -> Result<Arc<EngagementModel>, Failure> {
        let internal = |e: &dyn std::fmt::Display| Failure::Internal(e.to_string());
        let dir = self.inner.models_dir.join(tenant);
        let (model_path, history_path) = (dir.join("engagement.json"), dir.join("engagement.history"));
        if std::fs::read_to_string(&history_path).is_ok_and(|h| h == version)
            && let Ok(json) = std::fs::read_to_string(&model_path)
            && let Ok(model) = EngagementModel::from_json(&json)
        {
            return Ok(Arc::new(model));
        }
        let model = match train_forecaster(features, &format!("tenant {tenant}"), &self.inner.trees) {
            Ok(model) => model,
            Err(eiq_training::TrainingError::NotEnoughHistory(why)) => return Err(Failure::NotEnoughHistory(why)),
            Err(e) => return Err(internal(&e)),
        };
        let saved = std::fs::create_dir_all(&dir)
            .and_then(|()| std::fs::write(&model_path, model.to_json()))
            .and_then(|()| std::fs::write(&history_path, version));
        if let Err(e) = saved {
            tracing::warn!(tenant, error = %e, "could not keep the trained forecaster on disk");
        }
        Ok(Arc::new(model))
    }
}

/// Runs `work` on a blocking thread the first time `cell` is asked for; later and concurrent
/// callers get the same answer. An internal failure (a disk error, say) is not kept: it may pass,
/// so the next caller tries again rather than meeting it until the next import.
async fn once<T: Send + Sync + 'static>(
    cell: &OnceCell<Result<Arc<T>, Failure>>,
    what: &str,
    work: impl FnOnce() -> Result<Arc<T>, Failure> + Send + 'static,
) -> Result<Arc<T>, ServiceError> {
    let answer = cell
        .get_or_try_init(|| async move {
            let result = tokio::task::spawn_blocking(work)
                .await
                .unwrap_or_else(|e| Err(Failure::Internal(format!("{what} task: {e}"))));
            match result {
                Err(Failure::Internal(message)) => Err(ServiceError::Internal(message)),
                kept => Ok(kept),
            }
        })
        .await?;
    answer.clone().map_err(ServiceError::from)
}

pub(crate) fn feature_error(error: FeatureError) -> ServiceError {
    match error {
        FeatureError::WrongFormat { .. } | FeatureError::BadRow(_) | FeatureError::InvalidName(_) => {
            ServiceError::InvalidInput(error.to_string())
        }
        FeatureError::TooLarge(_) => ServiceError::TooLarge(error.to_string()),
        FeatureError::Io { .. } | FeatureError::Polars(_) => ServiceError::Internal(error.to_string()),
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, FeatureError> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ServiceError::Internal(format!("import task: {e}")))?
        .map_err(feature_error)
}
