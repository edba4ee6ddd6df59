//! Post history per tenant: the one owner of the history store, and of imports into it.
//!
//! Imports hold one of `--max-concurrent-imports` slots from before their body is read until
//! they are stored, which bounds the memory that uploads and parsing can take together. A stored
//! import moves the store's change token, which starts a new generation of derived state
//! (`generations.rs`); the import warms it in the background so the next question is answered
//! from memory.

use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use std::collections::BTreeSet;

use eiq_datasets::{Imported, Post, RowError};
use eiq_features::{AccountMerge, FeatureError, HistoryFormat, HistoryStore, ImportLimits, ImportOptions};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::feature_error;
use super::generations::Generations;
use crate::error::{Hint, Resource, ServiceError};
use crate::limits::excerpt;
use crate::tenancy::{Principal, TenantId};
use crate::tenants::PlanBook;

/// Row errors listed in an import answer; the total is always given.
pub const LISTED_ROW_ERRORS: usize = 100;
/// How long an import waits for a free slot before it is told to come back.
const IMPORT_SLOT_WAIT: Duration = Duration::from_secs(30);

#[derive(Clone)]
pub struct HistoryService {
    inner: Arc<Inner>,
}

struct Inner {
    store: Arc<HistoryStore>,
    settings: ImportSettings,
    imports: Arc<Semaphore>,
    generations: Generations,
    imported: super::ImportListener,
}

/// A held import slot (see the module docs); dropped when the import is done.
pub struct ImportSlot {
    _permit: OwnedSemaphorePermit,
}

/// Where an import's history comes from.
pub enum ImportSource {
    Bytes(Vec<u8>),
    /// A file under `--import-root` on the server.
    Path(String),
}

impl ImportSource {
    /// The one rule for both protocols: an uploaded body or a server path, exactly one of them.
    pub fn from_parts(bytes: Vec<u8>, server_path: Option<String>) -> Result<Self, ServiceError> {
        match (server_path.filter(|p| !p.is_empty()), bytes.is_empty()) {
            (Some(path), true) => Ok(Self::Path(path)),
            (Some(_), false) => Err(ServiceError::invalid_request("give the history or a server path, not both")),
            (None, true) => {
                Err(ServiceError::invalid_request("no history: send the history file or give a server path"))
            }
            (None, false) => Ok(Self::Bytes(bytes)),
        }
    }
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
    /// The plans, whose `accounts` limit an import may not take a tenant past.
    pub plans: PlanBook,
}

pub struct ImportRequest {
    pub slot: ImportSlot,
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
    pub(super) fn new(
        store: Arc<HistoryStore>,
        settings: ImportSettings,
        generations: Generations,
        imported: super::ImportListener,
    ) -> Self {
        let imports = Arc::new(Semaphore::new(settings.max_concurrent.max(1)));
        Self { inner: Arc::new(Inner { store, settings, imports, generations, imported }) }
    }

    pub fn max_import_bytes(&self) -> usize {
        self.inner.settings.max_bytes
    }

    /// The answer for an upload that streamed past `--max-import-bytes`.
    pub fn upload_too_large(&self) -> ServiceError {
        let limit = self.max_import_bytes();
        ServiceError::TooLarge {
            limit: limit as u64,
            message: format!("the history is over the {limit}-byte import limit"),
            hint: Some(Hint::ImportFromServer),
        }
    }

    /// Waits for a free import slot, or says the server is busy. Take it before reading the body.
    pub async fn import_slot(&self) -> Result<ImportSlot, ServiceError> {
        match tokio::time::timeout(IMPORT_SLOT_WAIT, Arc::clone(&self.inner.imports).acquire_owned()).await {
            Ok(Ok(permit)) => Ok(ImportSlot { _permit: permit }),
            _ => Err(ServiceError::Busy {
                message: "every import slot is in use; try again shortly".into(),
                retry_after: Duration::from_secs(1),
            }),
        }
    }

    pub async fn import(&self, principal: &Principal, request: ImportRequest) -> Result<ImportReport, ServiceError> {
        let settings = &self.inner.settings;
        let (bytes, format) = match request.source {
            ImportSource::Bytes(bytes) => {
                let format = request.format.ok_or_else(|| {
                    ServiceError::invalid(
                        "format",
                        format!("say the upload's format (one of {})", HistoryFormat::NAMES),
                    )
                })?;
                (bytes, format)
            }
            ImportSource::Path(path) => self.read_server_file(&path, request.format).await?,
        };
        if bytes.len() > settings.max_bytes {
            return Err(ServiceError::TooLarge {
                limit: settings.max_bytes as u64,
                message: format!("the history is {} bytes; the import limit is {}", bytes.len(), settings.max_bytes),
                hint: Some(Hint::ServerSetting { flag: "--max-import-bytes", action: "the server sets it with" }),
            });
        }
        let options = ImportOptions {
            limits: ImportLimits {
                max_rows: settings.max_rows,
                max_decoded_bytes: settings.max_bytes as u64,
                ..ImportLimits::default()
            },
            ..request.options
        };
        let imported: Imported = blocking(move || eiq_features::import_bytes(&bytes, format, &options)).await?;
        let tenant = principal.tenant.clone();
        let _writing = self.inner.generations.writing(&tenant).await;
        let Imported { posts, errors, error_count, skipped_reposts } = imported;
        let imported = posts.len();
        self.check_accounts(principal, &posts).await?;
        let (store, name) = (Arc::clone(&self.inner.store), tenant.clone());
        let accounts = blocking(move || store.merge(name.as_str(), posts)).await?;
        (self.inner.imported)(&tenant);
        self.inner.generations.warm(tenant);
        Ok(ImportReport {
            imported,
            skipped_reposts,
            error_count,
            errors: errors.into_iter().take(LISTED_ROW_ERRORS).collect(),
            accounts,
        })
    }

    /// Refuses an import that would take the tenant past its plan's number of accounts (checked
    /// under the tenant's write lock, so imports on this server cannot pass it together).
    async fn check_accounts(&self, principal: &Principal, posts: &[Post]) -> Result<(), ServiceError> {
        let Some(plan) = principal.plan else { return Ok(()) };
        let Some(limit) = self.inner.settings.plans.limits(plan).accounts else { return Ok(()) };
        let (store, name) = (Arc::clone(&self.inner.store), principal.tenant.clone());
        let mut accounts: BTreeSet<String> =
            blocking(move || store.accounts(name.as_str())).await?.into_iter().collect();
        accounts.extend(posts.iter().map(|p| p.account_id.clone()));
        if accounts.len() as u64 > limit {
            return Err(ServiceError::forbidden(format!(
                "the {} plan allows {limit} accounts; this import would make {}",
                plan.as_str(),
                accounts.len()
            )));
        }
        Ok(())
    }

    /// Deletes `tenant`'s posts created before `before` (Unix seconds): a plan's analytics
    /// retention. The post index and the derived state follow as after an import.
    pub async fn prune(&self, tenant: &TenantId, before: i64) -> Result<usize, ServiceError> {
        let _writing = self.inner.generations.writing(tenant).await;
        let (store, name) = (Arc::clone(&self.inner.store), tenant.clone());
        let deleted = blocking(move || store.prune(name.as_str(), before)).await?;
        if deleted > 0 {
            (self.inner.imported)(tenant);
            self.inner.generations.warm(tenant.clone());
        }
        Ok(deleted)
    }

    async fn read_server_file(
        &self,
        path: &str,
        format: Option<HistoryFormat>,
    ) -> Result<(Vec<u8>, HistoryFormat), ServiceError> {
        let root = self.inner.settings.root.clone().ok_or_else(|| ServiceError::Forbidden {
            message: "server-side imports are off".into(),
            hint: Some(Hint::ServerSetting { flag: "--import-root", action: "start the server with" }),
        })?;
        let limit = self.inner.settings.max_bytes;
        let relative = path.to_string();
        let read = tokio::task::spawn_blocking(move || -> Result<Vec<u8>, ServiceError> {
            // Missing, outside the root, through a link, not a regular file: one answer for all,
            // so the answer tells nothing about the server's files.
            let not_found = || ServiceError::NotFound {
                resource: Resource::ImportFile,
                message: format!("no file `{}` under the import root", excerpt(&relative)),
                hint: None,
            };
            let too_large = |message: String| ServiceError::TooLarge { limit: limit as u64, message, hint: None };
            let file = super::beneath::open_file(&root, &relative).ok_or_else(not_found)?;
            let size = file.metadata().map_or(0, |m| m.len());
            if size > limit as u64 {
                return Err(too_large(format!(
                    "`{}` is {size} bytes; the import limit is {limit}",
                    excerpt(&relative)
                )));
            }
            let mut bytes = Vec::with_capacity(size as usize);
            file.take(limit as u64 + 1)
                .read_to_end(&mut bytes)
                .map_err(|e| ServiceError::internal("reading an import file", e))?;
            if bytes.len() > limit {
                return Err(too_large(format!("`{}` grew past the import limit", excerpt(&relative))));
            }
            Ok(bytes)
        })
        .await
        .map_err(|e| ServiceError::internal("import read task", e))??;
        // Only once the file is known to be there, so that this answer tells nothing either.
        let format = format.or_else(|| HistoryFormat::from_path(Path::new(path))).ok_or_else(|| {
            ServiceError::invalid(
                "format",
                format!("cannot tell the format of `{}`; say one of {}", excerpt(path), HistoryFormat::NAMES),
            )
        })?;
        Ok((read, format))
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, FeatureError> + Send + 'static,
) -> Result<T, ServiceError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ServiceError::internal("import task", e))?
        .map_err(feature_error)
}
