//! The tenant layer's database: SQLite (WAL) at `<data dir>/eiq.db` by default, PostgreSQL when
//! several replicas share one (`--database-url postgres://…`).
//!
//! Both run the same migrations (`api/service/migrations/`, compiled in) through sqlx's `Any`
//! driver, and every query is written once, in SQL both accept (`$1` placeholders, `BIGINT`
//! times in Unix seconds), so a test suite run against each proves both.

use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, install_default_drivers};
use sqlx::{AnyPool, Executor};

/// Longest wait for a connection from the pool, and for SQLite's write lock.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);
const MAX_CONNECTIONS: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum DatabaseError {
    #[error("database: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("database migrations: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
    #[error("database url must start with sqlite: or postgres://, not `{0}`")]
    UnknownScheme(String),
}

/// A pool over either backend, migrated.
#[derive(Clone)]
pub struct Database {
    pub(crate) pool: AnyPool,
    /// PostgreSQL (claims can skip locked rows), not SQLite (one writer at a time).
    pub(crate) postgres: bool,
}

impl Database {
    /// The SQLite database in `data_dir` (created when missing).
    pub async fn embedded(data_dir: &Path) -> Result<Self, DatabaseError> {
        std::fs::create_dir_all(data_dir).map_err(|e| DatabaseError::Sql(sqlx::Error::Io(e)))?;
        Self::open(&format!("sqlite://{}?mode=rwc", data_dir.join("eiq.db").display())).await
    }

    /// `sqlite:…` or `postgres://…`, migrated to the latest schema.
    pub async fn open(url: &str) -> Result<Self, DatabaseError> {
        install_default_drivers();
        let sqlite = url.starts_with("sqlite:");
        if !sqlite && !url.starts_with("postgres://") && !url.starts_with("postgresql://") {
            let scheme = url.split(':').next().unwrap_or_default().chars().take(20).collect();
            return Err(DatabaseError::UnknownScheme(scheme));
        }
        let pool = AnyPoolOptions::new()
            .max_connections(if sqlite { 1 } else { MAX_CONNECTIONS })
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .after_connect(move |connection, _| {
                Box::pin(async move {
                    if sqlite {
                        // One writer at a time: WAL lets readers in other processes (the CLI) run
                        // beside it, and a busy database is waited for, not failed.
                        connection.execute("PRAGMA journal_mode = WAL").await?;
                        connection.execute("PRAGMA busy_timeout = 10000").await?;
                        connection.execute("PRAGMA foreign_keys = ON").await?;
                    }
                    Ok(())
                })
            })
            .connect(url)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        Ok(Self { pool, postgres: !sqlite })
    }
}
