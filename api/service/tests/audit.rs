//! The audit log's hash chain on both databases (SQLite always, PostgreSQL when
//! `EIQ_TEST_DATABASE_URL` names one): appends from many tasks at once stay one gapless chain,
//! listing filters and pages, and verification names the first row that was changed, removed or
//! reordered by someone editing the store directly.

mod common;

use common::{databases, unique};

use eiq_service::audit::{AuditEvent, AuditLog, AuditQuery, Verification};
use eiq_service::tenancy::TenantId;
use eiq_service::tenants::Database;

/// (backend, the log, a raw pool on the same database for tampering).
async fn logs(dir: &std::path::Path) -> Vec<(&'static str, AuditLog, sqlx::AnyPool)> {
    sqlx::any::install_default_drivers();
    let mut logs = Vec::new();
    for (backend, url, database) in databases(dir).await {
        logs.push((backend, AuditLog::new(database), sqlx::AnyPool::connect(&url).await.unwrap()));
    }
    logs
}

fn event(tenant: &TenantId, event: &str, actor: &str) -> AuditEvent {
    AuditEvent {
        tenant: Some(tenant.clone()),
        actor: actor.into(),
        auth_method: "api_key".into(),
        role: "admin".into(),
        event: event.into(),
        resource: "/v1/keys".into(),
        action: "POST /v1/keys".into(),
        outcome: "succeeded".into(),
        source_ip: "127.0.0.1".into(),
        user_agent: "test".into(),
        details: serde_json::json!({"status": "201"}),
    }
}

/// A chain of `rows` events at times 1000, 2000, … ms.
async fn chain(log: &AuditLog, name: &str, rows: i64) -> TenantId {
    let tenant = unique(name);
    for i in 1..=rows {
        log.append(event(&tenant, if i % 2 == 0 { "keys.revoke" } else { "keys.create" }, "abc"), i * 1_000)
            .await
            .unwrap();
    }
    tenant
}

async fn tamper(pool: &sqlx::AnyPool, statement: &str, tenant: &TenantId) {
    sqlx::query(statement).bind(tenant.as_str()).execute(pool).await.unwrap();
}

#[tokio::test]
async fn concurrent_appends_make_one_gapless_chain() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, log, _) in logs(dir.path()).await {
        let tenant = unique("busy");
        let tasks: Vec<_> = (0..24)
            .map(|i| {
                let (log, tenant) = (log.clone(), tenant.clone());
                tokio::spawn(async move { log.append(event(&tenant, "history.import", &format!("k{i}")), i).await })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        let page = log.list(&tenant, &AuditQuery { limit: Some(1_000), ..AuditQuery::default() }).await.unwrap();
        let seqs: Vec<i64> = page.records.iter().map(|r| r.seq).collect();
        assert_eq!(seqs, (1..=24).collect::<Vec<_>>(), "{backend}");
        assert!(matches!(log.verify(Some(&tenant)).await.unwrap(), Verification::Intact { rows: 24, .. }), "{backend}");
        // Another tenant's chain is its own.
        let other = chain(&log, "other", 2).await;
        let Verification::Intact { rows, head } = log.verify(Some(&other)).await.unwrap() else { panic!("{backend}") };
        assert_eq!(rows, 2);
        let last = log.list(&other, &AuditQuery::default()).await.unwrap().records.pop().unwrap();
        assert_eq!(head, last.hash, "{backend}");
    }
}

#[tokio::test]
async fn listing_filters_and_pages() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, log, _) in logs(dir.path()).await {
        let tenant = chain(&log, "list", 7).await;
        let query = |q: AuditQuery| {
            let (log, tenant) = (log.clone(), tenant.clone());
            async move { log.list(&tenant, &q).await.unwrap() }
        };
        let revokes = query(AuditQuery { event: Some("keys.revoke".into()), ..AuditQuery::default() }).await;
        assert_eq!(revokes.records.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 4, 6], "{backend}");
        let window = query(AuditQuery { since: Some(3), until: Some(5), ..AuditQuery::default() }).await;
        assert_eq!(window.records.iter().map(|r| r.seq).collect::<Vec<_>>(), [3, 4, 5], "{backend}");
        assert!(query(AuditQuery { actor: Some("nobody".into()), ..AuditQuery::default() }).await.records.is_empty());
        // Pages of 3 walk the whole chain once.
        let (mut seen, mut after) = (Vec::new(), None);
        loop {
            let page = query(AuditQuery { limit: Some(3), after_seq: after, ..AuditQuery::default() }).await;
            seen.extend(page.records.iter().map(|r| r.seq));
            match page.next_after {
                Some(next) => after = Some(next),
                None => break,
            }
        }
        assert_eq!(seen, (1..=7).collect::<Vec<_>>(), "{backend}");
        for limit in [0, 1_001] {
            let err = log.list(&tenant, &AuditQuery { limit: Some(limit), ..AuditQuery::default() }).await.unwrap_err();
            assert_eq!(err.param(), Some("limit"), "{backend}");
        }
    }
}

#[tokio::test]
async fn verification_names_the_first_row_edited_in_the_store() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, log, pool) in logs(dir.path()).await {
        let broken = async |tenant: &TenantId| match log.verify(Some(tenant)).await.unwrap() {
            Verification::Broken { seq, problem } => (seq, problem),
            intact => panic!("{backend}: {intact:?}"),
        };
        // A field changed.
        let changed = chain(&log, "changed", 5).await;
        tamper(&pool, "UPDATE audit_log SET outcome = 'failed' WHERE tenant = $1 AND seq = 3", &changed).await;
        assert_eq!(broken(&changed).await.0, 3, "{backend}");
        // A row removed from the middle, and the newest row removed.
        let removed = chain(&log, "removed", 5).await;
        tamper(&pool, "DELETE FROM audit_log WHERE tenant = $1 AND seq = 4", &removed).await;
        let (seq, problem) = broken(&removed).await;
        assert_eq!(seq, 4, "{backend}: {problem}");
        let truncated = chain(&log, "truncated", 5).await;
        tamper(&pool, "DELETE FROM audit_log WHERE tenant = $1 AND seq = 5", &truncated).await;
        assert_eq!(broken(&truncated).await.0, 5, "{backend}");
        // Two rows swapped.
        let swapped = chain(&log, "swapped", 5).await;
        for statement in [
            "UPDATE audit_log SET seq = -1 WHERE tenant = $1 AND seq = 2",
            "UPDATE audit_log SET seq = 2 WHERE tenant = $1 AND seq = 3",
            "UPDATE audit_log SET seq = 3 WHERE tenant = $1 AND seq = -1",
        ] {
            tamper(&pool, statement, &swapped).await;
        }
        assert_eq!(broken(&swapped).await.0, 2, "{backend}");
        // A row rewritten with its own hash recomputed still breaks the link from the next row.
        let rehashed = chain(&log, "rehashed", 4).await;
        let rows = log.list(&rehashed, &AuditQuery::default()).await.unwrap().records;
        let forged = AuditLog::new(Database::embedded(&dir.path().join("forge")).await.unwrap());
        let mut replacement = event(&rehashed, "keys.create", "someone-else");
        replacement.tenant = Some(rehashed.clone());
        let forged_row = forged.append(replacement, rows[0].at_ms).await.unwrap();
        tamper(
            &pool,
            &format!(
                "UPDATE audit_log SET actor = 'someone-else', hash = '{}' WHERE tenant = $1 AND seq = 1",
                forged_row.hash
            ),
            &rehashed,
        )
        .await;
        assert_eq!(broken(&rehashed).await.0, 1, "{backend}");
        // The untouched chain verifies.
        let intact = chain(&log, "intact", 3).await;
        assert!(matches!(log.verify(Some(&intact)).await.unwrap(), Verification::Intact { rows: 3, .. }));
    }
}
