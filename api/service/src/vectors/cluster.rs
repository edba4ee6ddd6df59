//! A Qdrant cluster through `qdrant-client` (gRPC), for deployments that already run one.
//!
//! One collection holds every tenant (payload-based multitenancy): `tenant` is a keyword index
//! marked `is_tenant`, so Qdrant keeps each tenant's points together and builds per-tenant
//! graphs. Every call has the client's timeout; a cluster that does not answer is an error the
//! indexer retries, never a hang.

use std::time::Duration;

use qdrant_client::qdrant::{
    Condition, CountPointsBuilder, CreateCollectionBuilder, CreateFieldIndexCollectionBuilder, DeletePointsBuilder,
    Distance, FieldType, Filter, GetPointsBuilder, IntegerIndexParamsBuilder, KeywordIndexParamsBuilder,
    PayloadIncludeSelector, PointId, PointStruct, Query, QueryPointsBuilder, Range, ScrollPointsBuilder,
    UpsertPointsBuilder, VectorParamsBuilder, r#match::MatchValue, point_id::PointIdOptions, vector_output,
    vectors_config, vectors_output::VectorsOptions,
};
use qdrant_client::{Payload, Qdrant};

use super::{
    Hit, PointFilter, PostPoint, SCAN_FIELDS, ScanPage, StoreError, StoreFuture, VectorStore, payload_from_json,
    payload_json, stored_point,
};
use crate::tenancy::TenantId;

/// Longest any one request to the cluster may take.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

pub struct ClusterStore {
    client: Qdrant,
    collection: String,
    url: String,
    dimensions: usize,
    /// Set once the collection and its indexes exist.
    ready: tokio::sync::OnceCell<()>,
}

impl ClusterStore {
    /// A client for `url`; the collection (cosine, `dimensions`) and its payload indexes are
    /// created on first use when missing, and a collection of another size is an error then.
    pub fn new(url: &str, api_key: Option<String>, collection: &str, dimensions: usize) -> Result<Self, StoreError> {
        let client = Qdrant::from_url(url)
            .api_key(api_key)
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(Duration::from_secs(10))
            .build()
            .map_err(cluster)?;
        Ok(Self {
            client,
            collection: collection.to_string(),
            url: url.to_string(),
            dimensions,
            ready: tokio::sync::OnceCell::new(),
        })
    }

    async fn ready(&self) -> Result<(), StoreError> {
        self.ready.get_or_try_init(|| self.prepare()).await.map(|_| ())
    }

    async fn prepare(&self) -> Result<(), StoreError> {
        let (client, collection) = (&self.client, self.collection.as_str());
        if !client.collection_exists(collection).await.map_err(cluster)? {
            client
                .create_collection(
                    CreateCollectionBuilder::new(collection)
                        .vectors_config(VectorParamsBuilder::new(self.dimensions as u64, Distance::Cosine)),
                )
                .await
                .map_err(cluster)?;
        }
        let info = client.collection_info(collection).await.map_err(cluster)?;
        let stored = info
            .result
            .and_then(|r| r.config)
            .and_then(|c| c.params)
            .and_then(|p| p.vectors_config)
            .and_then(|v| v.config)
            .and_then(|c| match c {
                vectors_config::Config::Params(params) => Some(params.size as usize),
                vectors_config::Config::ParamsMap(_) => None,
            });
        if stored != Some(self.dimensions) {
            return Err(StoreError::Dimensions { stored: stored.unwrap_or(0), model: self.dimensions });
        }
        let tenant_key = KeywordIndexParamsBuilder::default().is_tenant(true);
        let indexes = [
            CreateFieldIndexCollectionBuilder::new(collection, "tenant", FieldType::Keyword)
                .field_index_params(tenant_key),
            CreateFieldIndexCollectionBuilder::new(collection, "account", FieldType::Keyword),
            CreateFieldIndexCollectionBuilder::new(collection, "platform", FieldType::Keyword),
            CreateFieldIndexCollectionBuilder::new(collection, "created_at", FieldType::Integer)
                .field_index_params(IntegerIndexParamsBuilder::new(false, true)),
        ];
        for index in indexes {
            client.create_field_index(index.wait(true)).await.map_err(cluster)?;
        }
        Ok(())
    }
}

impl VectorStore for ClusterStore {
    fn describe(&self) -> String {
        format!("qdrant at {} (collection {})", self.url, self.collection)
    }

    fn upsert(&self, points: Vec<PostPoint>) -> StoreFuture<'_, ()> {
        Box::pin(async move {
            self.ready().await?;
            if points.is_empty() {
                return Ok(());
            }
            let points: Vec<PointStruct> = points
                .into_iter()
                .map(|p| PointStruct::new(p.id, p.vector, Payload::from(payload_json(&p.post))))
                .collect();
            self.client
                .upsert_points(UpsertPointsBuilder::new(&self.collection, points).wait(true))
                .await
                .map_err(cluster)?;
            Ok(())
        })
    }

    fn delete(&self, tenant: &TenantId, ids: Vec<u64>) -> StoreFuture<'_, ()> {
        let tenant = tenant.clone();
        Box::pin(async move {
            self.ready().await?;
            if ids.is_empty() {
                return Ok(());
            }
            // By filter, so an id can only ever delete the caller's own point.
            let mut filter = tenant_filter(&tenant, &PointFilter::default());
            filter.must.push(Condition::has_id(ids));
            self.client
                .delete_points(DeletePointsBuilder::new(&self.collection).points(filter).wait(true))
                .await
                .map_err(cluster)?;
            Ok(())
        })
    }

    fn vectors(&self, tenant: &TenantId, ids: Vec<u64>) -> StoreFuture<'_, Vec<(u64, Vec<f32>)>> {
        let tenant = tenant.clone();
        Box::pin(async move {
            self.ready().await?;
            let ids: Vec<PointId> = ids.into_iter().map(PointId::from).collect();
            let points = self
                .client
                .get_points(GetPointsBuilder::new(&self.collection, ids).with_payload(true).with_vectors(true))
                .await
                .map_err(cluster)?
                .result;
            Ok(points
                .into_iter()
                .filter(|p| {
                    p.payload.get("tenant").and_then(|t| t.as_str()).map(String::as_str) == Some(tenant.as_str())
                })
                .filter_map(|p| {
                    let id = numeric(p.id.as_ref()?)?;
                    match p.vectors?.vectors_options? {
                        VectorsOptions::Vector(output) => match output.into_vector() {
                            vector_output::Vector::Dense(dense) => Some((id, dense.data)),
                            _ => None,
                        },
                        VectorsOptions::Vectors(_) => None,
                    }
                })
                .collect())
        })
    }

    fn search(&self, tenant: &TenantId, vector: Vec<f32>, filter: PointFilter, k: usize) -> StoreFuture<'_, Vec<Hit>> {
        let filter = tenant_filter(tenant, &filter);
        Box::pin(async move {
            self.ready().await?;
            let response = self
                .client
                .query(
                    QueryPointsBuilder::new(&self.collection)
                        .query(Query::new_nearest(vector))
                        .filter(filter)
                        .limit(k as u64)
                        .with_payload(true),
                )
                .await
                .map_err(cluster)?;
            Ok(response
                .result
                .into_iter()
                .filter_map(|point| {
                    let id = numeric(point.id.as_ref()?)?;
                    let post = payload_from_json(&json_map(point.payload))?;
                    Some(Hit { id, score: point.score, post })
                })
                .collect())
        })
    }

    fn scan(&self, tenant: &TenantId, after: Option<u64>, limit: usize) -> StoreFuture<'_, ScanPage> {
        let filter = tenant_filter(tenant, &PointFilter::default());
        Box::pin(async move {
            self.ready().await?;
            let mut request = ScrollPointsBuilder::new(&self.collection)
                .filter(filter)
                .limit(limit.min(u32::MAX as usize) as u32)
                .with_payload(PayloadIncludeSelector { fields: SCAN_FIELDS.map(String::from).to_vec() });
            if let Some(after) = after {
                request = request.offset(after);
            }
            let page = self.client.scroll(request).await.map_err(cluster)?;
            let points = page
                .result
                .into_iter()
                .filter_map(|p| Some(stored_point(numeric(p.id.as_ref()?)?, &json_map(p.payload))))
                .collect();
            Ok(ScanPage { points, next: page.next_page_offset.as_ref().and_then(numeric) })
        })
    }

    fn count(&self, tenant: &TenantId, filter: PointFilter) -> StoreFuture<'_, u64> {
        let filter = tenant_filter(tenant, &filter);
        Box::pin(async move {
            self.ready().await?;
            let response = self
                .client
                .count(CountPointsBuilder::new(&self.collection).filter(filter).exact(true))
                .await
                .map_err(cluster)?;
            Ok(response.result.map_or(0, |r| r.count))
        })
    }

    fn persist(&self) -> StoreFuture<'_, ()> {
        // Every write waited for the cluster to apply it (`wait(true)`); it persists on its own.
        Box::pin(async { Ok(()) })
    }
}

fn tenant_filter(tenant: &TenantId, filter: &PointFilter) -> Filter {
    let keyword = |key: &str, value: &str| Condition::matches(key, MatchValue::Keyword(value.to_string()));
    let mut must = vec![keyword("tenant", tenant.as_str())];
    if let Some(account) = &filter.account {
        must.push(keyword("account", account));
    }
    if let Some(platform) = &filter.platform {
        must.push(keyword("platform", platform));
    }
    if filter.since.is_some() || filter.until.is_some() {
        must.push(Condition::range(
            "created_at",
            Range { gte: filter.since.map(|s| s as f64), lte: filter.until.map(|s| s as f64), ..Default::default() },
        ));
    }
    Filter::must(must)
}

fn numeric(id: &PointId) -> Option<u64> {
    match id.point_id_options.as_ref()? {
        PointIdOptions::Num(n) => Some(*n),
        PointIdOptions::Uuid(_) => None,
    }
}

fn json_map(
    payload: std::collections::HashMap<String, qdrant_client::qdrant::Value>,
) -> serde_json::Map<String, serde_json::Value> {
    serde_json::Map::from(Payload::from(payload))
}

fn cluster(error: qdrant_client::QdrantError) -> StoreError {
    StoreError::Engine(error.to_string())
}
