//! The one list of services: built once at start-up, handed whole to REST, gRPC and the CLI.
//! A new capability adds its service here and nowhere else on the server's side.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use sha2::Digest as _;

use eiq_inference::{Lexicon, ModelRegistry, WordSegmenter};

use crate::captions::CaptionService;
use crate::engagement::{self, ForecastService, HistoryService, ImportListener, ImportSettings};
use crate::hashtags::HashtagService;
use crate::images::{ImageService, ImageSettings};
use crate::index::{IndexQueue, Indexer, PostIndex};
use crate::posts::PostRulesService;
use crate::text::{AnalysisService, EmbeddingService, GateService, PolicyBook};
use crate::vectors::{ClusterStore, EdgeStore, VectorStore};

/// Every capability; cheap to clone (each service is a handle).
#[derive(Clone)]
pub struct Services {
    pub embeddings: EmbeddingService,
    pub analysis: AnalysisService,
    pub gate: GateService,
    pub history: HistoryService,
    pub forecast: ForecastService,
    pub posts: PostRulesService,
    pub captions: CaptionService,
    pub images: ImageService,
    pub index: PostIndex,
    pub hashtags: HashtagService,
}

/// What the services are built from (in the server, from `eiq serve`'s flags).
pub struct ServicesConfig {
    /// The models served; they may still be loading.
    pub registry: Arc<ModelRegistry>,
    /// The classification model behind analysis, moderation and the gate.
    pub text_model: String,
    /// The profanity word list, or why it is unavailable (requests that need it then get a 503).
    pub profanity: Result<Lexicon, String>,
    /// Word frequencies for reading hashtags (`wordsegment`); without them tags split only at
    /// their capitals.
    pub segmenter: Result<WordSegmenter, String>,
    /// Most texts in one request.
    pub max_inputs: usize,
    pub policies: PolicyBook,
    /// How long the gate waits for the model before failing closed.
    pub gate_timeout: Duration,
    /// The generation model behind captions (rule-based fitting when it is not served).
    pub caption_model: String,
    /// Longest a caption request may take, queueing included.
    pub caption_timeout: Duration,
    /// The OCR model and the limits of image analysis.
    pub images: ImageSettings,
    /// Where histories, trained forecasters and tenants' platform overrides are kept.
    pub data_dir: PathBuf,
    pub imports: ImportSettings,
    pub vectors: VectorSettings,
}

/// Where post vectors are kept.
#[derive(Debug, Clone, Default)]
pub enum VectorSettings {
    /// Qdrant's engine in this process, under `<data dir>/vectors/`.
    #[default]
    Embedded,
    /// A Qdrant cluster (gRPC URL), with its API key if it needs one.
    Cluster { url: String, api_key: Option<String>, collection: String },
}

impl Services {
    pub fn new(config: ServicesConfig) -> Self {
        let embeddings = EmbeddingService::new(Arc::clone(&config.registry), config.max_inputs);
        let registry = Arc::clone(&config.registry);
        let (index, engagement) = post_index(&config.vectors, &config.data_dir, config.imports, &embeddings);
        let analysis = AnalysisService::new(config.registry, config.text_model, config.profanity, config.max_inputs);
        let gate = GateService::new(analysis.clone(), config.policies, config.gate_timeout).with_index(index.clone());
        let posts = PostRulesService::new(&config.data_dir);
        let images = ImageService::new(Arc::clone(&registry), config.images);
        let captions = CaptionService::new(
            registry,
            images.clone(),
            config.caption_model,
            posts.clone(),
            gate.clone(),
            embeddings.clone(),
            config.caption_timeout,
        );
        let segmenter = config.segmenter.unwrap_or_else(|reason| {
            tracing::warn!(%reason, "word frequencies unavailable: hashtags split only at capitals");
            WordSegmenter::from_counts("", "")
        });
        let hashtags =
            HashtagService::new(index.clone(), posts.clone(), analysis.clone(), gate.clone(), Arc::new(segmenter));
        Self {
            embeddings,
            analysis,
            gate,
            hashtags,
            history: engagement.history,
            forecast: engagement.forecast,
            posts,
            captions,
            images,
            index,
        }
    }
}

/// The post index over the history services, which tell it of every import; its worker starts
/// when built inside a runtime (a CLI command that indexes by itself builds it outside one).
fn post_index(
    vectors: &VectorSettings,
    data_dir: &std::path::Path,
    imports: ImportSettings,
    embeddings: &EmbeddingService,
) -> (PostIndex, engagement::Engagement) {
    let (queue, receiver) = IndexQueue::new();
    let listener: ImportListener = {
        let queue = queue.clone();
        Arc::new(move |tenant| queue.push(tenant))
    };
    let engagement = engagement::open(data_dir, imports, listener);
    let model = embeddings.default_model().to_string();
    let indexer = open_store(vectors, data_dir, embeddings, &model).map(|(store, markers)| {
        Arc::new(Indexer::new(store, Arc::clone(&engagement.store), embeddings.clone(), model, markers))
    });
    match (&indexer, tokio::runtime::Handle::try_current()) {
        (Ok(indexer), Ok(_)) => {
            tracing::info!(store = %indexer.store.describe(), "post index");
            crate::index::spawn_worker(Arc::clone(indexer), Arc::clone(&engagement.store), queue.clone(), receiver);
        }
        (Err(reason), _) => tracing::error!(%reason, "post index unavailable"),
        (Ok(_), Err(_)) => {}
    }
    let index = PostIndex::new(indexer, queue, embeddings.clone(), engagement.generations.clone());
    (index, engagement)
}

/// The configured vector store and the folder of its tenants' markers, or why it cannot open.
pub fn open_store(
    settings: &VectorSettings,
    data_dir: &std::path::Path,
    embeddings: &EmbeddingService,
    model: &str,
) -> Result<(Arc<dyn VectorStore>, PathBuf), String> {
    let dimensions = embeddings
        .models()
        .into_iter()
        .find(|m| m.id == model)
        .and_then(|m| m.dimensions)
        .ok_or_else(|| format!("the default model `{model}` is not an encoder"))?;
    let root = data_dir.join("vectors");
    match settings {
        VectorSettings::Embedded => {
            let dir = root.join(format!("edge-{model}"));
            let store = EdgeStore::open(&dir.join("shard"), dimensions).map_err(|e| e.to_string())?;
            Ok((Arc::new(store), dir.join("indexed")))
        }
        VectorSettings::Cluster { url, api_key, collection } => {
            let store = ClusterStore::new(url, api_key.clone(), collection, dimensions).map_err(|e| e.to_string())?;
            // Markers are per cluster and collection: another cluster starts unindexed.
            let key = format!("{url}\u{0}{collection}");
            let digest = sha2::Sha256::digest(key.as_bytes());
            let dir = root.join(format!("qdrant-{}", hex::encode(&digest[..8])));
            Ok((Arc::new(store), dir.join("indexed")))
        }
    }
}
