//! The moderation gate every post passes before publishing: model scores and word lists against
//! a policy, giving `allow`, `review` or `block` with the reasons and spans behind it.
//!
//! It fails closed: if the model errors or does not answer in time, the post goes to `review`
//! with that reason, never to `allow`. Word lists still run, so a blocklisted post is blocked
//! even then. Only a client's own mistake (an empty post, a bad policy) is an error.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::analysis::{AnalysisService, Span, TaskScores, spans};
use super::policy::{Policy, PolicyBook};
use crate::error::ServiceError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Decision {
    Allow,
    Review,
    Block,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Allow => "allow",
            Decision::Review => "review",
            Decision::Block => "block",
        }
    }
}

/// A policy as a request gives it.
#[derive(Debug, Clone)]
pub enum PolicyChoice {
    Named(String),
    Inline(Policy),
}

#[derive(Debug, Clone)]
pub struct GateRequest {
    pub text: String,
    pub platform: Option<String>,
    pub policy: PolicyChoice,
}

/// Why a post is not simply allowed.
#[derive(Debug, Clone, PartialEq)]
pub struct Reason {
    pub category: String,
    pub score: f32,
    /// `review` or `block`: the threshold crossed (or the outcome, for a failure).
    pub decision: Decision,
    pub threshold: Option<f32>,
    /// The model id, or the word list, behind the score.
    pub source: String,
    pub source_version: String,
    pub detail: Option<String>,
}

#[derive(Debug, Clone)]
pub struct GateVerdict {
    pub decision: Decision,
    pub policy: String,
    pub platform: Option<String>,
    pub reasons: Vec<Reason>,
    pub spans: Vec<Span>,
    /// Every category's score, crossed or not.
    pub scores: BTreeMap<String, f32>,
}

const PROFANITY_SOURCE: &str = "profanity-wordlist";

#[derive(Clone)]
pub struct GateService {
    analysis: AnalysisService,
    policies: Arc<PolicyBook>,
    timeout: Duration,
}

impl GateService {
    pub fn new(analysis: AnalysisService, policies: PolicyBook, timeout: Duration) -> Self {
        Self { analysis, policies: Arc::new(policies), timeout }
    }

    pub fn policies(&self) -> &PolicyBook {
        &self.policies
    }

    /// Categories a policy may name: one or more per head of the served model, and `profanity`.
    /// Empty while the model loads.
    pub fn categories(&self) -> Vec<String> {
        let heads = self.analysis.heads();
        if heads.is_empty() {
            return Vec::new();
        }
        gate_categories(heads.iter().map(|h| (h.task.as_str(), h.labels.as_slice())))
    }

    pub async fn check(&self, request: GateRequest) -> Result<GateVerdict, ServiceError> {
        let started = Instant::now();
        let result = self.check_with(request).await;
        let outcome = match &result {
            Ok(verdict) => verdict.decision.as_str(),
            Err(_) => "invalid",
        };
        metrics::counter!("eiq_gate_decisions_total", "decision" => outcome).increment(1);
        metrics::histogram!("eiq_gate_seconds").record(started.elapsed().as_secs_f64());
        result
    }

    async fn check_with(&self, request: GateRequest) -> Result<GateVerdict, ServiceError> {
        super::analysis::validate_texts(std::slice::from_ref(&request.text), 1, "text")?;
        let categories = self.categories();
        let known = (!categories.is_empty()).then_some(categories.as_slice());
        let inline_lists;
        let (name, policy, lists) = match &request.policy {
            PolicyChoice::Named(name) => {
                let (policy, lists) = self.policies.get(name)?;
                // Checked at start-up but for the categories, which depend on the loaded model: a
                // mismatch is the server's configuration, not the client's mistake.
                policy
                    .validate(&format!("policies.{name}"), known)
                    .map_err(|e| ServiceError::Unavailable(e.to_string()))?;
                (name.clone(), policy, lists)
            }
            PolicyChoice::Inline(policy) => {
                policy.validate("policy", known)?;
                inline_lists = policy.word_lists();
                ("inline".to_string(), policy, &inline_lists)
            }
        };

        let mut reasons = Vec::new();
        let mut scores = BTreeMap::new();
        let analysis =
            tokio::time::timeout(self.timeout, self.analysis.analyze(vec![request.text.clone()], None)).await;
        let analysis = match analysis {
            Ok(Ok(analysis)) => Ok(analysis),
            Ok(Err(err @ ServiceError::InvalidInput(_))) => return Err(err),
            Ok(Err(err)) => Err(err.to_string()),
            Err(_) => Err(format!("no answer within {} ms", self.timeout.as_millis())),
        };
        let mut found = match analysis {
            Ok(mut analysis) => {
                let result = analysis.results.remove(0);
                for (category, score) in category_scores(&result.tasks) {
                    if let Some(thresholds) = policy.thresholds.get(&category) {
                        reasons.extend(crossed(&category, score, thresholds, &analysis.model, &analysis.model_version));
                    }
                    scores.insert(category, score);
                }
                result.spans
            }
            Err(detail) => {
                tracing::warn!(%detail, "moderation model unavailable; failing closed");
                reasons.push(failure("model_unavailable", self.analysis.model(), detail));
                // The word lists do not need the model.
                self.analysis.profanity_spans(&request.text).unwrap_or_else(|err| {
                    reasons.push(failure("profanity", PROFANITY_SOURCE, err.to_string()));
                    Vec::new()
                })
            }
        };

        found.extend(spans(&request.text, "blocklist", lists.blocklist.find(&request.text)));
        let allowed = lists.allowlist.find(&request.text);
        found.retain(|span| !allowed.iter().any(|a| a.span.start < span.bytes.end && span.bytes.start < a.span.end));
        found.sort_by_key(|span| span.bytes.start);

        let profane = found.iter().any(|s| s.category == "profanity");
        let profanity_score = if profane { 1.0 } else { 0.0 };
        scores.insert("profanity".into(), profanity_score);
        if let Some(thresholds) = policy.thresholds.get("profanity") {
            reasons.extend(crossed(
                "profanity",
                profanity_score,
                thresholds,
                PROFANITY_SOURCE,
                "better-profanity 0.7.0",
            ));
        }
        for span in found.iter().filter(|s| s.category == "blocklist") {
            reasons.push(Reason {
                category: "blocklist".into(),
                score: 1.0,
                decision: Decision::Block,
                threshold: None,
                source: format!("policy {name}"),
                source_version: String::new(),
                detail: Some(format!("`{}` matches blocklist entry `{}`", span.text, span.entry)),
            });
        }
        reasons.sort_by(|a, b| b.decision.cmp(&a.decision).then(b.score.total_cmp(&a.score)));
        let decision = reasons.iter().map(|r| r.decision).max().unwrap_or(Decision::Allow);
        Ok(GateVerdict { decision, policy: name, platform: request.platform, reasons, spans: found, scores })
    }
}

/// A part that could not answer: the post goes to review, never to allow.
fn failure(category: &str, source: &str, detail: String) -> Reason {
    Reason {
        category: category.into(),
        score: 1.0,
        decision: Decision::Review,
        threshold: None,
        source: source.into(),
        source_version: String::new(),
        detail: Some(detail),
    }
}

/// The reason `score` gives under `thresholds`, if it crosses one (block before review).
fn crossed(
    category: &str,
    score: f32,
    thresholds: &super::policy::Thresholds,
    source: &str,
    version: &str,
) -> Option<Reason> {
    let hit = [(Decision::Block, thresholds.block), (Decision::Review, thresholds.review)]
        .into_iter()
        .find_map(|(decision, threshold)| threshold.filter(|&t| score >= t).map(|t| (decision, t)))?;
    Some(Reason {
        category: category.to_string(),
        score,
        decision: hit.0,
        threshold: Some(hit.1),
        source: source.to_string(),
        source_version: version.to_string(),
        detail: None,
    })
}

/// Gate categories of one head with the label each reads: a binary head is one category named
/// for its task, scored by its second label (`offensive`, `hate`, `irony`); a multi-class head
/// gives `task.label` per label (`sentiment.negative`).
fn head_categories(task: &str, labels: &[String]) -> Vec<(String, usize)> {
    match labels.len() {
        2 => vec![(task.to_string(), 1)],
        _ => labels.iter().enumerate().map(|(i, label)| (format!("{task}.{label}"), i)).collect(),
    }
}

/// Every category of `(task, labels)` heads, and `profanity`.
pub fn gate_categories<'a>(heads: impl IntoIterator<Item = (&'a str, &'a [String])>) -> Vec<String> {
    let mut categories: Vec<String> =
        heads.into_iter().flat_map(|(task, labels)| head_categories(task, labels)).map(|(name, _)| name).collect();
    categories.push("profanity".into());
    categories
}

fn category_scores(tasks: &[TaskScores]) -> Vec<(String, f32)> {
    tasks
        .iter()
        .flat_map(|t| {
            let labels: Vec<String> = t.scores.iter().map(|(label, _)| label.clone()).collect();
            head_categories(&t.task, &labels).into_iter().map(|(name, i)| (name, t.scores[i].1))
        })
        .collect()
}
