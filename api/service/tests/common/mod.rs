//! Shared by the tenant-layer store tests: every database to run against (SQLite always,
//! PostgreSQL when `EIQ_TEST_DATABASE_URL` names one; `.ci/run` sets it), and tenant names that
//! are new on each run, since a PostgreSQL database outlives test runs.

#![allow(dead_code)] // each test binary uses its own subset

use eiq_service::tenancy::TenantId;
use eiq_service::tenants::Database;

/// (backend, its URL, the database migrated), SQLite's in `dir`.
pub async fn databases(dir: &std::path::Path) -> Vec<(&'static str, String, Database)> {
    let sqlite = format!("sqlite://{}", dir.join("eiq.db").display());
    let mut databases = vec![("sqlite", sqlite, Database::embedded(dir).await.unwrap())];
    match std::env::var("EIQ_TEST_DATABASE_URL") {
        Ok(url) => {
            let database = Database::open(&url).await.expect("EIQ_TEST_DATABASE_URL answers");
            databases.push(("postgres", url, database));
        }
        Err(_) => eprintln!("EIQ_TEST_DATABASE_URL is not set: the PostgreSQL half of this test is skipped"),
    }
    databases
}

/// `name` with a random suffix.
pub fn unique(name: &str) -> TenantId {
    let mut bytes = [0u8; 4];
    getrandom::getrandom(&mut bytes).unwrap();
    TenantId::parse(&format!("{name}-{}", hex::encode(bytes))).unwrap()
}
