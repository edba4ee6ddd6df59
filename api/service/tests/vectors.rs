//! The `VectorStore` contract, run against the embedded engine, and against a Qdrant cluster
//! too when `EIQ_TEST_QDRANT_URL` is set (README: "Running the store tests against a cluster").
//! Vectors are synthetic: the contract is about ids, payloads, filters and tenants.

use std::sync::Arc;

use eiq_service::tenancy::TenantId;
use eiq_service::vectors::{
    ClusterStore, EdgeStore, PointFilter, PostPayload, PostPoint, StoreError, VectorStore, point_id,
};

const DIMENSIONS: usize = 8;

fn tenant(name: &str) -> TenantId {
    TenantId::parse(name).unwrap()
}

/// A unit vector pointing mostly along `axis`.
fn vector(axis: usize, tilt: f32) -> Vec<f32> {
    let mut v = vec![tilt; DIMENSIONS];
    v[axis % DIMENSIONS] = 1.0;
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
    v.into_iter().map(|x| x / norm).collect()
}

fn point(tenant: &str, account: &str, post: &str, created_at: i64, axis: usize) -> PostPoint {
    PostPoint {
        id: point_id(tenant, account, post),
        vector: vector(axis, 0.05),
        post: PostPayload {
            tenant: tenant.into(),
            account: account.into(),
            post_id: post.into(),
            platform: if account.ends_with('x') { "x".into() } else { "bluesky".into() },
            created_at,
            hashtags: vec!["Launch".into()],
            engagement: 12.0,
            relative_engagement: Some(0.5),
            text: format!("post {post}"),
            text_hash: 7,
            fingerprint: created_at as u64,
        },
    }
}

/// Every store the contract runs on: the embedded one always, a cluster when configured.
fn stores(dir: &std::path::Path) -> Vec<Arc<dyn VectorStore>> {
    let mut stores: Vec<Arc<dyn VectorStore>> = vec![Arc::new(EdgeStore::open(&dir.join("edge"), DIMENSIONS).unwrap())];
    if let Ok(url) = std::env::var("EIQ_TEST_QDRANT_URL") {
        let collection = format!("eiq_test_{}", std::process::id());
        let key = std::env::var("EIQ_TEST_QDRANT_API_KEY").ok();
        stores.push(Arc::new(ClusterStore::new(&url, key, &collection, DIMENSIONS).unwrap()));
    }
    stores
}

#[tokio::test]
async fn the_contract_holds_on_every_store() {
    let dir = tempfile::tempdir().unwrap();
    for store in stores(dir.path()) {
        contract(store.as_ref()).await;
    }
}

async fn contract(store: &dyn VectorStore) {
    let (acme, rival) = (tenant("acme"), tenant("rival"));
    let day = 86_400;
    store
        .upsert(vec![
            point("acme", "brand_x", "1", 1_700_000_000, 0),
            point("acme", "brand_x", "2", 1_700_000_000 + 10 * day, 1),
            point("acme", "team_b", "3", 1_700_000_000 + 20 * day, 0),
            // The same account and post ids, and the same vector, in another tenant.
            point("rival", "brand_x", "1", 1_700_000_000, 0),
        ])
        .await
        .unwrap();
    let describe = store.describe();

    // Nearest first, with the payload back whole.
    let hits = store.search(&acme, vector(0, 0.0), PointFilter::default(), 10).await.unwrap();
    assert_eq!(hits.len(), 3, "{describe}");
    assert!(hits[0].score > 0.99 && hits[0].score >= hits[1].score, "{describe}");
    assert!(hits.iter().all(|h| h.post.tenant == "acme"), "{describe}");
    let first = hits.iter().find(|h| h.post.post_id == "1").unwrap();
    assert_eq!(first.post.hashtags, ["Launch"]);
    assert_eq!((first.post.relative_engagement, first.post.fingerprint), (Some(0.5), 1_700_000_000));

    // Filters run in the engine: account, platform, time (inclusive).
    let by_account = PointFilter { account: Some("team_b".into()), ..Default::default() };
    let hits = store.search(&acme, vector(0, 0.0), by_account.clone(), 10).await.unwrap();
    assert_eq!(hits.iter().map(|h| h.post.post_id.as_str()).collect::<Vec<_>>(), ["3"], "{describe}");
    let by_platform = PointFilter { platform: Some("x".into()), ..Default::default() };
    assert_eq!(store.count(&acme, by_platform).await.unwrap(), 2, "{describe}");
    let window = PointFilter {
        since: Some(1_700_000_000 + 10 * day),
        until: Some(1_700_000_000 + 20 * day),
        ..Default::default()
    };
    assert_eq!(store.count(&acme, window).await.unwrap(), 2, "{describe}");
    assert_eq!(store.count(&acme, PointFilter::default()).await.unwrap(), 3);
    assert_eq!(store.count(&rival, PointFilter::default()).await.unwrap(), 1);

    // A re-upsert of the same post replaces its point.
    let mut again = point("acme", "brand_x", "1", 1_700_000_000, 0);
    again.post.engagement = 99.0;
    store.upsert(vec![again]).await.unwrap();
    assert_eq!(store.count(&acme, PointFilter::default()).await.unwrap(), 3);

    // Scans page through one tenant's points only.
    let (mut seen, mut after) = (Vec::new(), None);
    loop {
        let page = store.scan(&acme, after, 2).await.unwrap();
        seen.extend(page.points.iter().map(|p| p.id));
        match page.next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    seen.sort_unstable();
    let mut expected: Vec<u64> =
        [("brand_x", "1"), ("brand_x", "2"), ("team_b", "3")].iter().map(|(a, p)| point_id("acme", a, p)).collect();
    expected.sort_unstable();
    assert_eq!(seen, expected, "{describe}");

    // Vectors come back; another tenant's ids do not, and cannot be deleted through this tenant.
    let rival_id = point_id("rival", "brand_x", "1");
    let vectors = store.vectors(&acme, vec![expected[0], rival_id]).await.unwrap();
    assert_eq!(vectors.len(), 1, "{describe}");
    assert_eq!(vectors[0].1.len(), DIMENSIONS);
    store.delete(&acme, vec![rival_id, point_id("acme", "team_b", "3")]).await.unwrap();
    assert_eq!(store.count(&rival, PointFilter::default()).await.unwrap(), 1, "{describe}");
    assert_eq!(store.count(&acme, PointFilter::default()).await.unwrap(), 2, "{describe}");
    store.persist().await.unwrap();
}

#[tokio::test]
async fn the_embedded_store_keeps_what_it_persisted_and_refuses_another_size() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edge");
    {
        let store = EdgeStore::open(&path, DIMENSIONS).unwrap();
        store.upsert(vec![point("acme", "brand_x", "1", 1_700_000_000, 0)]).await.unwrap();
        store.persist().await.unwrap();
    }
    let store = EdgeStore::open(&path, DIMENSIONS).unwrap();
    assert_eq!(store.count(&tenant("acme"), PointFilter::default()).await.unwrap(), 1);
    drop(store);
    match EdgeStore::open(&path, DIMENSIONS * 2) {
        Err(StoreError::Dimensions { stored, model }) => assert_eq!((stored, model), (DIMENSIONS, DIMENSIONS * 2)),
        other => panic!("expected a dimension error, got {:?}", other.map(|s| s.describe())),
    }
}
