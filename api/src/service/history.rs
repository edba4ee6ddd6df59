//! Post history per tenant: imports, and what is derived from it (features, best-time slots,
//! account states, the trained forecaster).
//!
//! Derived state belongs to a *generation* of the history. An import replaces the generation;
//! the new one computes its digest and model once, on first use (concurrent callers wait for
//! the same computation), and an import starts that work in the background so the next
//! question is answered from memory. Trained models are also kept on disk with the history
//! fingerprint they were trained on, so a restart does not retrain.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use eiq_datasets::{Imported, RowError};
use eiq_features::best_times::TenantSlots;
use eiq_features::{AccountMerge, FeatureError, HistoryFormat, HistoryStore, ImportOptions};
use eiq_training::engagement::{AccountState, EngagementModel, GbdtParams, train_forecaster};
use polars::prelude::DataFrame;
use tokio::sync::OnceCell;

use crate::error::ServiceError;

/// Requests name their tenant in this header (REST) or metadata entry (gRPC); until API keys
/// arrive, a request that names none is the `default` tenant's.
pub const TENANT_HEADER: &str = "x-tenant-id";
pub const DEFAULT_TENANT: &str = "default";

/// Row errors listed in an import answer; the total is always given.
pub const LISTED_ROW_ERRORS: usize = 100;

#[derive(Clone)]
pub struct HistoryService {
    inner: Arc<Inner>,
}

struct Inner {
    store: HistoryStore,
    models_dir: PathBuf,
    import_root: Option<PathBuf>,
    max_import_bytes: usize,
    trees: GbdtParams,
    tenants: Mutex<HashMap<String, Arc<TenantCell>>>,
}

struct TenantCell {
    /// One import at a time per tenant: merges read, change and rewrite account files.
    writing: tokio::sync::Mutex<()>,
    current: RwLock<Arc<Generation>>,
}

#[derive(Default)]
struct Generation {
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

pub enum ImportSource {
    Bytes(Vec<u8>),
    /// A file under `--import-root` on the server.
    Path(String),
}

pub struct ImportRequest {
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
    pub fn new(data_dir: &Path, import_root: Option<PathBuf>, max_import_bytes: usize) -> Self {
        Self {
            inner: Arc::new(Inner {
                store: HistoryStore::new(data_dir),
                models_dir: data_dir.join("models"),
                import_root,
                max_import_bytes,
                trees: GbdtParams::default(),
                tenants: Mutex::new(HashMap::new()),
            }),
        }
    }

    pub fn max_import_bytes(&self) -> usize {
        self.inner.max_import_bytes
    }

    pub async fn import(&self, request: ImportRequest) -> Result<ImportReport, ServiceError> {
        let (bytes, format) = match request.source {
            ImportSource::Bytes(bytes) => {
                let format = request.format.ok_or_else(|| {
                    ServiceError::InvalidInput(format!("say the upload's format (one of {})", HistoryFormat::NAMES))
                })?;
                (bytes, format)
            }
            ImportSource::Path(path) => self.read_server_file(&path, request.format).await?,
        };
        if bytes.len() > self.inner.max_import_bytes {
            return Err(ServiceError::TooLarge(format!(
                "the history is {} bytes; the limit is {} (--max-import-bytes)",
                bytes.len(),
                self.inner.max_import_bytes
            )));
        }
        let options = request.options;
        let imported: Imported = blocking(move || eiq_features::import_bytes(&bytes, format, &options)).await?;
        let cell = self.tenant(&request.tenant);
        let _writing = cell.writing.lock().await;
        let service = self.clone();
        let tenant = request.tenant.clone();
        let Imported { posts, errors, skipped_reposts } = imported;
        let imported = posts.len();
        let accounts = blocking(move || service.inner.store.merge(&tenant, posts)).await?;
        *cell.current.write().expect("not poisoned") = Arc::new(Generation::default());
        // Warm the new generation so the next question does not pay for it.
        let warm = self.clone();
        let tenant = request.tenant.clone();
        tokio::spawn(async move {
            let _ = warm.model(&tenant).await;
        });
        Ok(ImportReport {
            imported,
            skipped_reposts,
            error_count: errors.len(),
            errors: errors.into_iter().take(LISTED_ROW_ERRORS).collect(),
            accounts,
        })
    }

    async fn read_server_file(
        &self,
        path: &str,
        format: Option<HistoryFormat>,
    ) -> Result<(Vec<u8>, HistoryFormat), ServiceError> {
        let root = self.inner.import_root.as_ref().ok_or_else(|| {
            ServiceError::Forbidden("server-side imports are off; start the server with --import-root".into())
        })?;
        let root = root.canonicalize().map_err(|e| ServiceError::Internal(format!("--import-root: {e}")))?;
        // Relative to the root; `..` and links out of it are refused after resolving.
        let resolved = root
            .join(path)
            .canonicalize()
            .map_err(|_| ServiceError::NotFound(format!("no file `{path}` under the import root")))?;
        if !resolved.starts_with(&root) || !resolved.is_file() {
            return Err(ServiceError::Forbidden(format!("`{path}` is not a file under the import root")));
        }
        let format = format.or_else(|| HistoryFormat::from_path(&resolved)).ok_or_else(|| {
            ServiceError::InvalidInput(format!(
                "cannot tell the format of `{path}`; say one of {}",
                HistoryFormat::NAMES
            ))
        })?;
        let size = std::fs::metadata(&resolved).map(|m| m.len()).unwrap_or(0);
        if size > self.inner.max_import_bytes as u64 {
            return Err(ServiceError::TooLarge(format!(
                "`{path}` is {size} bytes; the limit is {} (--max-import-bytes)",
                self.inner.max_import_bytes
            )));
        }
        let bytes =
            tokio::fs::read(&resolved).await.map_err(|e| ServiceError::Internal(format!("reading `{path}`: {e}")))?;
        Ok((bytes, format))
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
        let (service, tenant) = (self.clone(), tenant.to_string());
        once(&generation.model, "training", move || service.load_or_train(&tenant, &digest.features)).await
    }

    fn generation(&self, tenant: &str) -> Result<Arc<Generation>, ServiceError> {
        // Validates the name before anything is cached under it.
        eiq_features::store::checked_tenant(tenant).map_err(feature_error)?;
        Ok(Arc::clone(&self.tenant(tenant).current.read().expect("not poisoned")))
    }

    fn tenant(&self, tenant: &str) -> Arc<TenantCell> {
        let mut tenants = self.inner.tenants.lock().expect("not poisoned");
        Arc::clone(tenants.entry(tenant.to_string()).or_insert_with(|| {
            Arc::new(TenantCell { writing: tokio::sync::Mutex::new(()), current: RwLock::new(Arc::default()) })
        }))
    }

    fn compute_digest(&self, tenant: &str) -> Result<Arc<Digest>, Failure> {
        let internal = |e: &dyn std::fmt::Display| Failure::Internal(e.to_string());
        let posts = self.inner.store.load_tenant(tenant).map_err(|e| internal(&e))?;
        let features = eiq_features::features(posts).map_err(|e| internal(&e))?;
        let slots = TenantSlots::new(&features).map_err(|e| internal(&e))?;
        let states = AccountState::all_from_features(&features).map_err(|e| internal(&e))?;
        Ok(Arc::new(Digest { slots, states, features }))
    }

    fn load_or_train(&self, tenant: &str, features: &DataFrame) -> Result<Arc<EngagementModel>, Failure> {
        let internal = |e: &dyn std::fmt::Display| Failure::Internal(e.to_string());
        let fingerprint = self.inner.store.fingerprint(tenant).map_err(|e| internal(&e))?;
        let dir = self.inner.models_dir.join(tenant);
        let (model_path, history_path) = (dir.join("engagement.json"), dir.join("engagement.history"));
        if std::fs::read_to_string(&history_path).is_ok_and(|h| h == fingerprint)
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
            .and_then(|()| std::fs::write(&history_path, &fingerprint));
        if let Err(e) = saved {
            tracing::warn!(tenant, error = %e, "could not keep the trained forecaster on disk");
        }
        Ok(Arc::new(model))
    }
}

/// Runs `work` on a blocking thread the first time `cell` is asked for; later and concurrent
/// callers get the same answer.
async fn once<T: Send + Sync + 'static>(
    cell: &OnceCell<Result<Arc<T>, Failure>>,
    what: &str,
    work: impl FnOnce() -> Result<Arc<T>, Failure> + Send + 'static,
) -> Result<Arc<T>, ServiceError> {
    let answer = cell
        .get_or_init(|| async move {
            tokio::task::spawn_blocking(work)
                .await
                .unwrap_or_else(|e| Err(Failure::Internal(format!("{what} task: {e}"))))
        })
        .await;
    answer.clone().map_err(ServiceError::from)
}

pub(crate) fn feature_error(error: FeatureError) -> ServiceError {
    match error {
        FeatureError::WrongFormat { .. } | FeatureError::BadRow(_) | FeatureError::InvalidName(_) => {
            ServiceError::InvalidInput(error.to_string())
        }
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
