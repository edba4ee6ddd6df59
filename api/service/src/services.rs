//! The one list of services: built once at start-up, handed whole to REST, gRPC and the CLI.
//! A new capability adds its service here and nowhere else on the server's side.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use eiq_inference::{Lexicon, ModelRegistry};

use crate::captions::CaptionService;
use crate::engagement::{self, ForecastService, HistoryService, ImportSettings};
use crate::images::{ImageService, ImageSettings};
use crate::posts::PostRulesService;
use crate::text::{AnalysisService, EmbeddingService, GateService, PolicyBook};

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
}

/// What the services are built from (in the server, from `eiq serve`'s flags).
pub struct ServicesConfig {
    /// The models served; they may still be loading.
    pub registry: Arc<ModelRegistry>,
    /// The classification model behind analysis, moderation and the gate.
    pub text_model: String,
    /// The profanity word list, or why it is unavailable (requests that need it then get a 503).
    pub profanity: Result<Lexicon, String>,
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
}

impl Services {
    pub fn new(config: ServicesConfig) -> Self {
        let embeddings = EmbeddingService::new(Arc::clone(&config.registry), config.max_inputs);
        let registry = Arc::clone(&config.registry);
        let analysis = AnalysisService::new(config.registry, config.text_model, config.profanity, config.max_inputs);
        let gate = GateService::new(analysis.clone(), config.policies, config.gate_timeout);
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
        let (history, forecast) = engagement::open(&config.data_dir, config.imports);
        Self { embeddings, analysis, gate, history, forecast, posts, captions, images }
    }
}
