//! The embedded store: Qdrant's engine (`qdrant-edge` 0.7.2) in this process.
//!
//! Three facts of that engine shape this file:
//! - **Nothing survives a crash that was not flushed**: 0.7.2 writes a WAL but never replays it.
//!   So [`VectorStore::persist`] flushes, and the indexer records a tenant as indexed only after
//!   it (`index/sync.rs`): a process killed mid-way re-sends whatever was not flushed.
//! - **`flush` panics if a write is in progress** (it `try_lock`s and `expect`s), so every write,
//!   flush and optimisation goes through one `writing` mutex; reads run alongside.
//! - **No background optimiser**: writes land in a plain segment searched by brute force over the
//!   points the payload index lets through (a tenant's or an account's, which is fast). Once
//!   [`UNINDEXED_POINTS`] points are unindexed, `persist` runs `optimize`, which builds HNSW
//!   and groups points by tenant (`is_tenant`).
//!
//! The engine is synchronous; every call runs on a blocking thread.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use qdrant_edge::external::ordered_float::OrderedFloat;
use qdrant_edge::external::serde_json;
use qdrant_edge::{
    Condition, CountRequest, CreateIndex, DEFAULT_VECTOR_NAME, Distance, EdgeConfig, EdgeShard, EdgeVectorParams,
    FieldCondition, FieldIndexOperations, Filter, HasIdCondition, IntegerIndexParams, KeywordIndexParams, Match,
    NamedQuery, PayloadFieldSchema, PayloadSchemaParams, PayloadSchemaType, PointId, PointInsertOperations,
    PointOperations, PointStruct, PointStructPersisted, QueryEnum, QueryRequest, Range, ScoringQuery, ScrollRequest,
    UpdateOperation, ValueVariants, VectorInternal, VectorStorageDatatype, VectorStructInternal, WithPayloadInterface,
    WithVector,
};

use super::{
    Hit, PointFilter, PostPoint, SCAN_FIELDS, ScanPage, StoreError, StoreFuture, VectorStore, payload_from_json,
    payload_json, stored_point,
};
use crate::tenancy::TenantId;

/// Unindexed points that make `persist` build the HNSW index.
pub const UNINDEXED_POINTS: usize = 20_000;

pub struct EdgeStore {
    shard: Arc<EdgeShard>,
    /// Unindexed points that make `persist` build the index (`None`: never).
    optimize_over: Option<usize>,
    /// Held by every write, flush and optimisation (see the module docs).
    writing: Arc<Mutex<()>>,
    dir: PathBuf,
}

impl EdgeStore {
    /// Opens the store in `dir`, creating it for `dimensions`-sized cosine vectors; a store
    /// made for another size is an error (a model change needs a new directory).
    pub fn open(dir: &Path, dimensions: usize) -> Result<Self, StoreError> {
        Self::open_with(dir, dimensions, Some(UNINDEXED_POINTS))
    }

    /// [`EdgeStore::open`], building the HNSW index on `persist` once `optimize_over` points are
    /// unindexed (`None`: never; searches then scan what the payload index lets through).
    pub fn open_with(dir: &Path, dimensions: usize, optimize_over: Option<usize>) -> Result<Self, StoreError> {
        std::fs::create_dir_all(dir).map_err(|e| engine(format!("creating the store's folder: {e}")))?;
        let shard = if dir.join("edge_config.json").exists() {
            EdgeShard::load(dir, None).map_err(|e| engine(opening(dir, e)))?
        } else {
            let config = EdgeConfig::builder()
                .vector(
                    DEFAULT_VECTOR_NAME,
                    // Half precision in memory: half the bytes of f32, and cosines within ~1e-3.
                    EdgeVectorParams::builder(dimensions, Distance::Cosine)
                        .datatype(VectorStorageDatatype::Float16)
                        .build(),
                )
                .on_disk_payload(true)
                .build();
            EdgeShard::new(dir, config).map_err(|e| engine(opening(dir, e)))?
        };
        let stored = shard.config().vectors.get(DEFAULT_VECTOR_NAME).map(|v| v.size);
        if stored != Some(dimensions) {
            return Err(StoreError::Dimensions { stored: stored.unwrap_or(0), model: dimensions });
        }
        let store = Self { shard: Arc::new(shard), optimize_over, writing: Arc::default(), dir: dir.to_path_buf() };
        store.create_indexes()?;
        Ok(store)
    }

    fn create_indexes(&self) -> Result<(), StoreError> {
        let index = |field: &str, schema: PayloadFieldSchema| {
            UpdateOperation::FieldIndexOperation(FieldIndexOperations::CreateIndex(CreateIndex {
                field_name: field.parse().expect("a plain field name"),
                field_schema: Some(schema),
            }))
        };
        let tenant = PayloadSchemaParams::Keyword(KeywordIndexParams { is_tenant: Some(true), ..Default::default() });
        let time = PayloadSchemaParams::Integer(IntegerIndexParams {
            lookup: Some(false),
            range: Some(true),
            ..Default::default()
        });
        let _writing = self.writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        for operation in [
            index("tenant", PayloadFieldSchema::FieldParams(tenant)),
            index("account", PayloadFieldSchema::FieldType(PayloadSchemaType::Keyword)),
            index("platform", PayloadFieldSchema::FieldType(PayloadSchemaType::Keyword)),
            index("created_at", PayloadFieldSchema::FieldParams(time)),
        ] {
            self.shard.update(operation).map_err(|e| engine(e.to_string()))?;
        }
        Ok(())
    }

    /// Runs `work` on the shard on a blocking thread.
    fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&EdgeShard, &Mutex<()>) -> Result<T, StoreError> + Send + 'static,
    ) -> StoreFuture<'_, T> {
        let (shard, writing) = (Arc::clone(&self.shard), Arc::clone(&self.writing));
        Box::pin(async move {
            tokio::task::spawn_blocking(move || work(&shard, &writing))
                .await
                .map_err(|e| engine(format!("store task: {e}")))?
        })
    }
}

impl VectorStore for EdgeStore {
    fn describe(&self) -> String {
        format!("embedded (qdrant-edge 0.7.2) in {}", self.dir.display())
    }

    fn upsert(&self, points: Vec<PostPoint>) -> StoreFuture<'_, ()> {
        self.run(move |shard, writing| {
            if points.is_empty() {
                return Ok(());
            }
            let points: Vec<PointStructPersisted> = points
                .into_iter()
                .map(|p| PointStruct::new(p.id, p.vector, serde_json::Value::Object(payload_json(&p.post))).into())
                .collect();
            let operation = UpdateOperation::PointOperation(PointOperations::UpsertPoints(
                PointInsertOperations::PointsList(points),
            ));
            let _writing = writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            shard.update(operation).map_err(|e| engine(e.to_string()))
        })
    }

    fn delete(&self, tenant: &TenantId, ids: Vec<u64>) -> StoreFuture<'_, ()> {
        let tenant = tenant.clone();
        self.run(move |shard, writing| {
            if ids.is_empty() {
                return Ok(());
            }
            // By filter, so an id can only ever delete the caller's own point.
            let ids: HasIdCondition = ids.into_iter().map(PointId::NumId).collect();
            let mut filter = tenant_filter(&tenant, &PointFilter::default());
            filter.must.get_or_insert_with(Vec::new).push(Condition::HasId(ids));
            let operation = UpdateOperation::PointOperation(PointOperations::DeletePointsByFilter(filter));
            let _writing = writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            shard.update(operation).map_err(|e| engine(e.to_string()))
        })
    }

    fn vectors(&self, tenant: &TenantId, ids: Vec<u64>) -> StoreFuture<'_, Vec<(u64, Vec<f32>)>> {
        let tenant = tenant.clone();
        self.run(move |shard, _| {
            let ids: Vec<PointId> = ids.into_iter().map(PointId::NumId).collect();
            let records = shard
                .retrieve(
                    &ids,
                    Some(WithPayloadInterface::Fields(vec!["tenant".parse().expect("a field")])),
                    Some(WithVector::Bool(true)),
                )
                .map_err(|e| engine(e.to_string()))?;
            Ok(records
                .into_iter()
                .filter(|r| {
                    r.payload.as_ref().and_then(|p| p.0.get("tenant")).and_then(|t| t.as_str()) == Some(tenant.as_str())
                })
                .filter_map(|r| Some((numeric(&r.id)?, dense(r.vector?)?)))
                .collect())
        })
    }

    fn search(&self, tenant: &TenantId, vector: Vec<f32>, filter: PointFilter, k: usize) -> StoreFuture<'_, Vec<Hit>> {
        let filter = tenant_filter(tenant, &filter);
        self.run(move |shard, _| {
            let hits = shard
                .query(QueryRequest {
                    prefetches: Vec::new(),
                    query: Some(ScoringQuery::Vector(QueryEnum::Nearest(NamedQuery {
                        query: VectorInternal::Dense(vector),
                        using: None,
                    }))),
                    filter: Some(filter),
                    score_threshold: None,
                    limit: k,
                    offset: 0,
                    params: None,
                    with_vector: WithVector::Bool(false),
                    with_payload: WithPayloadInterface::Bool(true),
                })
                .map_err(|e| engine(e.to_string()))?;
            Ok(hits
                .into_iter()
                .filter_map(|h| {
                    let post = payload_from_json(&h.payload?.0)?;
                    Some(Hit { id: numeric(&h.id)?, score: h.score, post })
                })
                .collect())
        })
    }

    fn scan(&self, tenant: &TenantId, after: Option<u64>, limit: usize) -> StoreFuture<'_, ScanPage> {
        let filter = tenant_filter(tenant, &PointFilter::default());
        self.run(move |shard, _| {
            let fields = SCAN_FIELDS.iter().map(|f| f.parse().expect("a field")).collect();
            let (records, next) = shard
                .scroll(ScrollRequest {
                    offset: after.map(PointId::NumId),
                    limit: Some(limit),
                    filter: Some(filter),
                    with_payload: Some(WithPayloadInterface::Fields(fields)),
                    with_vector: WithVector::Bool(false),
                    order_by: None,
                })
                .map_err(|e| engine(e.to_string()))?;
            let points = records
                .into_iter()
                .filter_map(|r| Some(stored_point(numeric(&r.id)?, &r.payload.map(|p| p.0).unwrap_or_default())))
                .collect();
            Ok(ScanPage { points, next: next.as_ref().and_then(numeric) })
        })
    }

    fn count(&self, tenant: &TenantId, filter: PointFilter) -> StoreFuture<'_, u64> {
        let filter = tenant_filter(tenant, &filter);
        self.run(move |shard, _| {
            let count =
                shard.count(CountRequest { filter: Some(filter), exact: true }).map_err(|e| engine(e.to_string()))?;
            Ok(count as u64)
        })
    }

    fn persist(&self) -> StoreFuture<'_, ()> {
        let optimize_over = self.optimize_over;
        self.run(move |shard, writing| {
            let _writing = writing.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
            let info = shard.info();
            let unindexed = info.points_count.saturating_sub(info.indexed_vectors_count);
            if optimize_over.is_some_and(|over| unindexed >= over) {
                shard.optimize().map_err(|e| engine(e.to_string()))?;
            }
            shard.flush();
            Ok(())
        })
    }
}

/// The tenant and the caller's conditions, for the engine to apply.
fn tenant_filter(tenant: &TenantId, filter: &PointFilter) -> Filter {
    let keyword = |key: &str, value: &str| {
        Condition::Field(FieldCondition::new_match(
            key.parse().expect("a plain field name"),
            Match::new_value(ValueVariants::String(value.to_string())),
        ))
    };
    let mut must = vec![keyword("tenant", tenant.as_str())];
    if let Some(account) = &filter.account {
        must.push(keyword("account", account));
    }
    if let Some(platform) = &filter.platform {
        must.push(keyword("platform", platform));
    }
    if filter.since.is_some() || filter.until.is_some() {
        must.push(Condition::Field(FieldCondition::new_range(
            "created_at".parse().expect("a plain field name"),
            Range {
                gte: filter.since.map(|s| OrderedFloat(s as f64)),
                lte: filter.until.map(|s| OrderedFloat(s as f64)),
                ..Default::default()
            },
        )));
    }
    Filter { must: Some(must), ..Default::default() }
}

fn numeric(id: &PointId) -> Option<u64> {
    match id {
        PointId::NumId(n) => Some(*n),
        PointId::Uuid(_) => None,
    }
}

fn dense(vector: VectorStructInternal) -> Option<Vec<f32>> {
    match vector {
        VectorStructInternal::Single(v) => Some(v),
        VectorStructInternal::Named(mut named) => match named.remove(DEFAULT_VECTOR_NAME)? {
            VectorInternal::Dense(v) => Some(v),
            _ => None,
        },
        VectorStructInternal::MultiDense(_) => None,
    }
}

fn engine(message: String) -> StoreError {
    StoreError::Engine(message)
}

/// An open failure, saying the likely cause: another process holds the store.
fn opening(dir: &Path, error: impl std::fmt::Display) -> String {
    format!(
        "opening the embedded vector store in {}: {error} (is another `eiq` process using this data directory?)",
        dir.display()
    )
}
