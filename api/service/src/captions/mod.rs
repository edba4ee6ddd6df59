//! `POST /v1/captions:generate`: variants of a draft written by the local model for each
//! platform, every one made to fit by code.
//!
//! For each platform and variant the model is asked (through the generation server's queue, one
//! request at a time, so one caller cannot fill it) to rewrite the draft within the platform's
//! limit. What it writes is then fitted (`fit.rs`): links and mentions it invented are removed,
//! the draft's are kept verbatim, hashtags are capped, an over-long text is cut at a sentence or
//! word boundary. The moderation gate checks every variant; a blocked one, or one that strayed
//! from the draft (sentence-vector cosine under [`MIN_SIMILARITY`]), is written again with another
//! seed, a bounded number of times, then replaced by the fitted draft. Without the model
//! (not configured, loading, failed) the fitted draft is the answer, labelled as rule-based.
//!
//! Callers that stream get each piece of text as the model writes it (`CaptionEvent::Text`),
//! then each finished variant. Dropping the future (a client that went away) drops the
//! generation's event channel, which stops the model at its next token.

mod fit;

use std::sync::Arc;
use std::time::{Duration, Instant};

use eiq_inference::generate::{GenerationEvent, GenerationRequest, GenerationStats};
use eiq_inference::{Admission, InferenceError, ModelRegistry};
use tokio::sync::mpsc;
use unicode_segmentation::UnicodeSegmentation;

pub use fit::{Fitted, Keep, fit};

use crate::error::ServiceError;
use crate::images::{ImageContext, ImageService};
use crate::limits::check_text;
use crate::posts::{Length, PostRulesService};
use crate::tenancy::Principal;
use crate::text::{Decision, EmbeddingService, GateRequest, GateService, PolicyChoice, Reason};

/// Most platforms in one request.
pub const MAX_PLATFORMS: usize = 10;
/// Most variants per platform.
pub const MAX_VARIANTS: usize = 5;
/// Most hashtags a request may ask for.
pub const MAX_HASHTAGS_WISH: usize = 30;
/// Longest `tone`, in bytes.
pub const MAX_TONE_BYTES: usize = 200;
/// Most tokens the model writes for one variant.
pub const MAX_GENERATED_TOKENS: usize = 256;
/// Longest draft the model is given, in bytes. A byte-level BPE writes at most one token per
/// byte, so this, the instructions and [`MAX_GENERATED_TOKENS`] stay inside the model's 4,096-token
/// context; a longer draft is fitted by rules (and the answer says why).
pub const MAX_MODEL_DRAFT_BYTES: usize = 3 * 1024;
/// Extra attempts for a variant the gate blocks or that strays from the draft, before the
/// fitted draft replaces it.
const RETRIES: usize = 2;
/// A generated variant less similar than this to the draft (cosine of sentence vectors) has
/// strayed from it (a 135M model sometimes answers the draft instead of rewriting it).
pub const MIN_SIMILARITY: f32 = 0.5;

/// Whether, and how many, hashtags a variant should carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HashtagWish {
    /// Not asked: the model may use a few, within the platform's cap.
    #[default]
    Unspecified,
    /// No hashtags beyond the draft's own.
    None,
    /// Up to this many.
    Count(usize),
}

/// The image a caption is for.
#[derive(Debug, Clone)]
pub enum ImageInput {
    /// An image analysed before (`images:analyze`), by its id.
    Id(String),
    /// The image itself, analysed on the way.
    Bytes(Vec<u8>),
}

#[derive(Debug, Clone)]
pub struct CaptionRequest {
    /// The draft, or a brief; may be empty when an image is given.
    pub text: String,
    /// Its text (OCR) and description go into the prompt beside the brief.
    pub image: Option<ImageInput>,
    pub platforms: Vec<String>,
    pub tone: Option<String>,
    pub hashtags: HashtagWish,
    /// Per platform; 1 when `None`.
    pub variants: Option<usize>,
    /// The same seed gives the same variants; a random one when `None`.
    pub seed: Option<u64>,
}

/// How the variants were made.
#[derive(Debug, Clone, PartialEq)]
pub enum Method {
    /// The local model wrote them.
    Model { id: String },
    /// No model could: each variant is the draft, fitted by rules.
    Rules { reason: String },
}

/// Where one variant's text came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// The model's text, fitted; `attempt` 1 is the first try.
    Generated { attempt: usize },
    /// The draft, fitted (no model, or the gate blocked every attempt).
    FittedDraft,
}

#[derive(Debug, Clone)]
pub struct CaptionVariant {
    pub platform: String,
    pub text: String,
    pub length: Length,
    pub valid: bool,
    pub hashtags: Vec<String>,
    pub decision: Decision,
    pub reasons: Vec<Reason>,
    /// Cosine of the variant's sentence vector to the draft's (`None` if no encoder answered).
    pub similarity: Option<f32>,
    pub origin: Origin,
    /// The text had to be cut to fit.
    pub trimmed: bool,
}

/// Token counts and times of the generations behind an answer.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct GenerationUsage {
    pub generations: usize,
    pub prompt_tokens: usize,
    pub generated_tokens: usize,
    pub prompt_time: Duration,
    pub generation_time: Duration,
    /// From the request to the first piece of text of its first generation.
    pub first_token_after: Option<Duration>,
}

#[derive(Debug, Clone)]
pub struct Captions {
    pub method: Method,
    pub variants: Vec<CaptionVariant>,
    pub usage: GenerationUsage,
}

/// What a streaming caller receives, before the final [`Captions`].
#[derive(Debug, Clone)]
pub enum CaptionEvent {
    /// A piece of a variant's text as the model writes it (before fitting).
    Text { platform: String, variant: usize, text: String },
    /// A finished variant.
    Variant { index: usize, variant: CaptionVariant },
}

#[derive(Clone)]
pub struct CaptionService {
    inner: Arc<Inner>,
}

struct Inner {
    registry: Arc<ModelRegistry>,
    model: String,
    posts: PostRulesService,
    gate: GateService,
    embeddings: EmbeddingService,
    images: ImageService,
    timeout: Duration,
}

impl CaptionService {
    pub fn new(
        registry: Arc<ModelRegistry>,
        images: ImageService,
        model: String,
        posts: PostRulesService,
        gate: GateService,
        embeddings: EmbeddingService,
        timeout: Duration,
    ) -> Self {
        Self { inner: Arc::new(Inner { registry, model, posts, gate, embeddings, images, timeout }) }
    }

    /// Writes the variants; `events`, if given, receives text as it is written and each variant
    /// when done.
    pub async fn generate(
        &self,
        principal: &Principal,
        mut request: CaptionRequest,
        events: Option<mpsc::UnboundedSender<CaptionEvent>>,
    ) -> Result<Captions, ServiceError> {
        let started = Instant::now();
        let deadline = started + self.inner.timeout;
        let variants_per_platform = validate(&request)?;
        let mut targets: Vec<crate::posts::PlatformRules> = Vec::new();
        for platform in &request.platforms {
            let rules = self.inner.posts.rules_for(principal, platform).await?.rules;
            if !targets.iter().any(|t| t.id == rules.id) {
                targets.push(rules);
            }
        }
        let image = match request.image.take() {
            None => None,
            Some(ImageInput::Id(id)) => Some(self.inner.images.context(principal, &id)?),
            Some(ImageInput::Bytes(bytes)) => {
                Some(self.inner.images.analyze(principal, bytes, None).await?.0.context())
            }
        };
        // What the variants must stay close to and keep: the draft, or without one the image's
        // text (or its description).
        let source = match &image {
            Some(image) if request.text.trim().is_empty() => {
                if image.text.trim().is_empty() {
                    image.alt_text.clone()
                } else {
                    image.text.clone()
                }
            }
            _ => request.text.clone(),
        };
        let user = user_turn(&request.text, image.as_ref());
        let keep = Keep::of(&source);
        // The draft's own hashtags always fit the cap a request asks for.
        let own_hashtags = || eiq_datasets::twitter_text::extract_hashtags(&source).len();
        let wish_cap = match request.hashtags {
            HashtagWish::Unspecified => None,
            HashtagWish::None => Some(own_hashtags()),
            HashtagWish::Count(n) => Some(n.max(own_hashtags())),
        };
        let seed = request.seed.unwrap_or_else(random_seed);

        let generator = if request.text.len() > MAX_MODEL_DRAFT_BYTES {
            Err(ServiceError::invalid(
                "text",
                format!(
                    "the draft is {} bytes; the caption model reads drafts up to {MAX_MODEL_DRAFT_BYTES}",
                    request.text.len()
                ),
            ))
        } else {
            self.inner.registry.get_generator(&self.inner.model).map_err(ServiceError::from)
        };
        let method = match &generator {
            Ok(_) => Method::Model { id: self.inner.model.clone() },
            Err(err) => Method::Rules { reason: err.to_string() },
        };
        let mut usage = GenerationUsage::default();
        let mut variants = Vec::new();
        for target in &targets {
            let count = if generator.is_ok() { variants_per_platform } else { 1 };
            for index in 0..count {
                let variant_seed = seed.wrapping_add((variants.len() as u64) << 8);
                let mut chosen = None;
                if let Ok(generator) = &generator {
                    for attempt in 1..=1 + RETRIES {
                        // Past the deadline the remaining variants are fitted drafts.
                        if Instant::now() >= deadline {
                            break;
                        }
                        let system = system_prompt(target, &request, attempt, image.is_some());
                        let generation = GenerationRequest {
                            system: system.clone(),
                            user: user.clone(),
                            max_tokens: max_tokens(target),
                            temperature: 0.7,
                            top_p: 0.9,
                            seed: variant_seed.wrapping_add(attempt as u64),
                        };
                        let text = match self
                            .run(generator, generation, deadline, started, &mut usage, &target.id, index, &events)
                            .await
                        {
                            Ok(text) => text,
                            // A queue that fills mid-request costs this variant its generation, not
                            // the variants already written; a full queue at the start is a 429.
                            Err(ServiceError::Inference(InferenceError::QueueFull { .. })) if usage.generations > 0 => {
                                break;
                            }
                            Err(err) => return Err(err),
                        };
                        let fitted = fit(target, &keep, &strip_echo(&text, &system), wish_cap);
                        if fitted.text.trim().is_empty() {
                            continue;
                        }
                        let similarity = self.similarity(&source, &fitted.text).await;
                        if similarity.is_some_and(|s| s < MIN_SIMILARITY) {
                            continue;
                        }
                        let verdict = self.gate(principal, &fitted.text, &target.id).await;
                        if verdict.0 != Decision::Block {
                            chosen = Some((fitted, verdict, Origin::Generated { attempt }, similarity));
                            break;
                        }
                    }
                }
                let (fitted, (decision, reasons), origin, similarity) = match chosen {
                    Some(chosen) => chosen,
                    None => {
                        let fitted = fit(target, &keep, &source, wish_cap);
                        let verdict = self.gate(principal, &fitted.text, &target.id).await;
                        let similarity = self.similarity(&source, &fitted.text).await;
                        (fitted, verdict, Origin::FittedDraft, similarity)
                    }
                };
                let variant = CaptionVariant {
                    platform: target.id.clone(),
                    length: fitted.check.length,
                    valid: fitted.check.valid,
                    hashtags: fitted.check.hashtags.clone(),
                    text: fitted.text,
                    decision,
                    reasons,
                    similarity,
                    origin,
                    trimmed: fitted.trimmed,
                };
                if let Some(events) = &events {
                    let _ = events.send(CaptionEvent::Variant { index: variants.len(), variant: variant.clone() });
                }
                variants.push(variant);
            }
        }
        let method_label = if matches!(method, Method::Model { .. }) { "model" } else { "rules" };
        metrics::counter!("eiq_caption_requests_total", "method" => method_label).increment(1);
        metrics::histogram!("eiq_caption_request_seconds").record(started.elapsed().as_secs_f64());
        Ok(Captions { method, variants, usage })
    }

    /// One generation through the queue; the text it wrote (all of it, if the deadline cut it).
    #[allow(clippy::too_many_arguments)]
    async fn run(
        &self,
        generator: &eiq_inference::ServedGenerator,
        request: GenerationRequest,
        deadline: Instant,
        started: Instant,
        usage: &mut GenerationUsage,
        platform: &str,
        variant: usize,
        events: &Option<mpsc::UnboundedSender<CaptionEvent>>,
    ) -> Result<String, ServiceError> {
        let mut receiver = generator.queue.submit(request, deadline).map_err(ServiceError::from)?;
        let mut text = String::new();
        let stats: GenerationStats = loop {
            let event = tokio::time::timeout_at(deadline.into(), receiver.recv()).await;
            match event {
                Ok(Some(GenerationEvent::Started { .. })) => {}
                Ok(Some(GenerationEvent::Text(piece))) => {
                    if usage.first_token_after.is_none() {
                        usage.first_token_after = Some(started.elapsed());
                    }
                    if let Some(events) = events {
                        let _ = events.send(CaptionEvent::Text {
                            platform: platform.to_string(),
                            variant,
                            text: piece.clone(),
                        });
                    }
                    text.push_str(&piece);
                }
                Ok(Some(GenerationEvent::Done(stats))) => break stats,
                Ok(Some(GenerationEvent::Failed(err))) => return Err(err.into()),
                Ok(None) => return Err(InferenceError::WorkerStopped.into()),
                // The deadline: what was written so far is fitted like the rest.
                Err(_) => return Ok(text),
            }
        };
        usage.generations += 1;
        usage.prompt_tokens += stats.prompt_tokens;
        usage.generated_tokens += stats.generated_tokens;
        usage.prompt_time += stats.prompt_time;
        usage.generation_time += stats.generation_time;
        Ok(text)
    }

    /// The default policy's decision and reasons for a variant; an unavailable gate is `review`.
    async fn gate(&self, principal: &Principal, text: &str, platform: &str) -> (Decision, Vec<Reason>) {
        let request = GateRequest {
            text: text.to_string(),
            platform: Some(platform.to_string()),
            account_id: None,
            policy: PolicyChoice::default(),
        };
        match self.inner.gate.check(principal, request).await {
            Ok(verdict) => (verdict.decision, verdict.reasons),
            Err(err) => (
                Decision::Review,
                vec![Reason {
                    category: "gate_unavailable".into(),
                    score: 1.0,
                    decision: Decision::Review,
                    threshold: None,
                    source: "gate".into(),
                    source_version: String::new(),
                    detail: Some(err.to_string()),
                }],
            ),
        }
    }

    /// The cosine of `text`'s sentence vector to the draft's, from the default encoder (`None` if
    /// it cannot answer; the draft's vector comes from its cache after the first call).
    async fn similarity(&self, draft: &str, text: &str) -> Option<f32> {
        if text.trim().is_empty() {
            return Some(0.0);
        }
        let inputs = vec![draft.to_string(), text.to_string()];
        let embeddings = self.inner.embeddings.embed(None, inputs, None, Admission::Refuse).await.ok()?;
        Some(embeddings.vectors[0].iter().zip(&embeddings.vectors[1]).map(|(a, b)| a * b).sum())
    }
}

/// The instructions (platform, limit, tone, hashtags) go in the system turn and the draft alone
/// in the user turn: a 135M model given both in one turn tends to echo the instructions.
fn system_prompt(rules: &crate::posts::PlatformRules, request: &CaptionRequest, attempt: usize, image: bool) -> String {
    let task = if image { "Write a post about the user's photo" } else { "Rewrite the user's post" };
    let mut prompt = format!(
        "You are a social media manager. {task} for {} in at most {} characters",
        rules.name,
        (rules.limit * 9 / 10).min(600)
    );
    if let Some(tone) = request.tone.as_deref().map(str::trim).filter(|t| !t.is_empty()) {
        prompt.push_str(&format!(", in a {tone} tone"));
    }
    prompt.push_str(". Keep every link and @mention exactly as written.");
    match request.hashtags {
        HashtagWish::None => prompt.push_str(" Do not add hashtags."),
        HashtagWish::Count(n) => prompt.push_str(&format!(" End with up to {n} relevant hashtags.")),
        HashtagWish::Unspecified => {}
    }
    if attempt > 1 {
        prompt.push_str(" Keep it friendly and respectful.");
    }
    prompt.push_str(" Reply with the new post only.");
    prompt
}

/// The user turn: the draft alone, or with an image, the brief and what the image shows (its
/// text is in its alt text), within the bytes the model reads.
fn user_turn(draft: &str, image: Option<&ImageContext>) -> String {
    let Some(image) = image else {
        return draft.to_string();
    };
    let mut turn = String::new();
    if !draft.trim().is_empty() {
        turn.push_str(&format!("Brief: {}\n", draft.trim()));
    }
    let room = MAX_MODEL_DRAFT_BYTES.saturating_sub(turn.len() + 16);
    let mut description = image.alt_text.as_str();
    if description.len() > room {
        let mut end = room;
        while !description.is_char_boundary(end) {
            end -= 1;
        }
        description = &description[..end];
    }
    turn.push_str(&format!("Photo: {description}"));
    turn
}

/// Drops sentences of the model's answer that repeat its instructions.
fn strip_echo(answer: &str, system: &str) -> String {
    let system = system.to_lowercase();
    answer
        .split_sentence_bounds()
        .filter(|sentence| {
            let sentence = sentence.trim().to_lowercase();
            sentence.chars().count() < 12 || !system.contains(sentence.trim_end_matches(['.', '!', ':']))
        })
        .collect::<String>()
}

/// Tokens enough for the platform's limit (about 3 characters a token), within the maximum.
fn max_tokens(rules: &crate::posts::PlatformRules) -> usize {
    (rules.limit / 3 + 16).clamp(32, MAX_GENERATED_TOKENS)
}

fn random_seed() -> u64 {
    use std::hash::{BuildHasher, RandomState};
    RandomState::new().hash_one(Instant::now())
}

/// The request's sizes; the variants per platform.
fn validate(request: &CaptionRequest) -> Result<usize, ServiceError> {
    check_text("text", &request.text)?;
    if request.text.trim().is_empty() && request.image.is_none() {
        return Err(ServiceError::invalid("text", "text is empty: send the draft, a brief or an image"));
    }
    if request.platforms.is_empty() || request.platforms.len() > MAX_PLATFORMS {
        return Err(ServiceError::invalid(
            "platforms",
            format!("platforms: name 1–{MAX_PLATFORMS}; {} given", request.platforms.len()),
        ));
    }
    for (index, platform) in request.platforms.iter().enumerate() {
        crate::posts::find(&format!("platforms[{index}]"), platform)?;
    }
    let variants = request.variants.unwrap_or(1);
    if !(1..=MAX_VARIANTS).contains(&variants) {
        return Err(ServiceError::invalid("variants", format!("variants must be 1–{MAX_VARIANTS}; {variants} given")));
    }
    if let HashtagWish::Count(n) = request.hashtags
        && n > MAX_HASHTAGS_WISH
    {
        return Err(ServiceError::invalid("hashtags", format!("hashtags: at most {MAX_HASHTAGS_WISH}; {n} given")));
    }
    if request.tone.as_ref().is_some_and(|tone| tone.len() > MAX_TONE_BYTES) {
        return Err(ServiceError::invalid("tone", format!("tone: at most {MAX_TONE_BYTES} bytes")));
    }
    Ok(variants)
}
