//! Metering and quotas on both databases (SQLite always, PostgreSQL when `EIQ_TEST_DATABASE_URL`
//! names one): counts from several meters (replicas) add up, and a quota consumed from many tasks
//! at once is never overdrawn.

mod common;

use common::{databases, unique};

use eiq_service::ServiceError;
use eiq_service::tenants::Plan;
use eiq_service::usage::{Metric, UsageMeter, period_of};

/// 2026-11-15, noon UTC, in milliseconds.
const NOW: i64 = 1_794_744_000_000;

#[tokio::test]
async fn counts_from_several_replicas_add_up() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, _, database) in databases(dir.path()).await {
        let tenant = unique("meter");
        let (first, second) = (UsageMeter::new(database.clone()), UsageMeter::new(database));
        first.count(&tenant, Metric::ApiCalls, 3, NOW);
        second.count(&tenant, Metric::ApiCalls, 4, NOW);
        second.count(&tenant, Metric::AiGeneratedPosts, 1, NOW);
        // Unflushed counts are part of this replica's answer already.
        assert_eq!(first.usage(&tenant, &period_of(NOW)).await.unwrap().count(Metric::ApiCalls), 3, "{backend}");
        first.flush().await.unwrap();
        second.flush().await.unwrap();
        first.flush().await.unwrap();
        let usage = first.usage(&tenant, &period_of(NOW)).await.unwrap();
        assert_eq!((usage.count(Metric::ApiCalls), usage.count(Metric::AiGeneratedPosts)), (7, 1), "{backend}");
        let other_month = first.usage(&tenant, "2026-12").await.unwrap();
        assert_eq!(other_month.count(Metric::ApiCalls), 0, "{backend}");
        let exported = first.export("2026-11", "2026-11").await.unwrap();
        let row = exported.iter().find(|u| u.tenant == tenant.as_str()).expect(backend);
        assert_eq!(row.count(Metric::ApiCalls), 7, "{backend}");
    }
}

#[tokio::test]
async fn a_quota_is_never_overdrawn_and_warns_once() {
    let dir = tempfile::tempdir().unwrap();
    for (backend, _, database) in databases(dir.path()).await {
        let tenant = unique("quota");
        let meters: Vec<UsageMeter> = (0..2).map(|_| UsageMeter::new(database.clone())).collect();
        let tasks: Vec<_> = (0..12)
            .map(|i| {
                let (meter, tenant) = (meters[i % 2].clone(), tenant.clone());
                tokio::spawn(async move {
                    meter.consume(&tenant, Metric::PublishedPosts, 1, Some(5), Plan::Starter, NOW).await
                })
            })
            .collect();
        let (mut taken, mut refused, mut crossed) = (Vec::new(), 0, 0);
        for task in tasks {
            match task.await.unwrap() {
                Ok(consumption) => {
                    crossed += usize::from(consumption.crossed_warning);
                    assert_eq!(consumption.warning, consumption.used >= 4, "{backend}: {consumption:?}");
                    taken.push(consumption.used);
                }
                Err(ServiceError::QuotaExceeded { plan, retry_after, message }) => {
                    assert_eq!(plan, "starter", "{backend}");
                    assert!(message.contains("5 published posts a month"), "{backend}: {message}");
                    // Until December 1st, 00:00 UTC: 15.5 days.
                    assert_eq!(retry_after.as_secs(), 15 * 86_400 + 12 * 3_600, "{backend}");
                    refused += 1;
                }
                Err(other) => panic!("{backend}: {other}"),
            }
        }
        taken.sort();
        assert_eq!(taken, [1, 2, 3, 4, 5], "{backend}");
        assert_eq!((refused, crossed), (7, 1), "{backend}");
        // A consumption of several units is all or nothing; no limit is no limit.
        let other = unique("bulk");
        let meter = &meters[0];
        assert_eq!(
            meter.consume(&other, Metric::PublishedPosts, 3, Some(4), Plan::Starter, NOW).await.unwrap().used,
            3
        );
        assert!(meter.consume(&other, Metric::PublishedPosts, 2, Some(4), Plan::Starter, NOW).await.is_err());
        assert_eq!(
            meter.consume(&other, Metric::PublishedPosts, 1, Some(4), Plan::Starter, NOW).await.unwrap().used,
            4
        );
        let unlimited = meter.consume(&other, Metric::PublishedPosts, 100, None, Plan::Enterprise, NOW).await.unwrap();
        assert_eq!((unlimited.used, unlimited.warning), (104, false), "{backend}");
    }
}
