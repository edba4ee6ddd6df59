//! The moderation gate every post passes before publishing: model scores and word lists against
//! a policy, giving `allow`, `review` or `block` with the reasons and spans behind it.
//!
//! It fails closed: if the model errors or does not answer in time, the post goes to `review`
//! with that reason, never to `allow`. Word lists still run, so a blocklisted post is blocked
//! even then. Only a client's own mistake (an empty post, a bad policy) is an error.

use std::collections::BTreeMap;
use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, Instant};

use eiq_inference::LexiconMatch;

use super::analysis::{AnalysisService, Span, TaskScores, spans};
use super::policy::{Policy, PolicyBook, Thresholds};
use crate::error::ServiceError;
use crate::index::{PostIndex, check_account};
use crate::limits::excerpt;
use crate::tenancy::Principal;

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

/// A request that names no policy gets `default`.
impl Default for PolicyChoice {
    fn default() -> Self {
        Self::Named("default".into())
    }
}

#[derive(Debug, Clone)]
pub struct GateRequest {
    pub text: String,
    pub platform: Option<String>,
    /// The account that will publish the post: the `duplicate` category compares it with that
    /// account's recent posts (no account, no duplicate check).
    pub account_id: Option<String>,
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
    /// The post index, for the `duplicate` category (none in batch tools that have no index).
    index: Option<PostIndex>,
}

impl GateService {
    pub fn new(analysis: AnalysisService, policies: PolicyBook, timeout: Duration) -> Self {
        Self { analysis, policies: Arc::new(policies), timeout, index: None }
    }

    /// The gate with the `duplicate` category, answered from `index`.
    pub fn with_index(self, index: PostIndex) -> Self {
        Self { index: Some(index), ..self }
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

    pub async fn check(&self, principal: &Principal, request: GateRequest) -> Result<GateVerdict, ServiceError> {
        let started = Instant::now();
        let result = self.check_with(principal, request).await;
        let outcome = match &result {
            Ok(verdict) => verdict.decision.as_str(),
            Err(_) => "invalid",
        };
        metrics::counter!("eiq_gate_decisions_total", "decision" => outcome).increment(1);
        metrics::histogram!("eiq_gate_seconds").record(started.elapsed().as_secs_f64());
        result
    }

    async fn check_with(&self, principal: &Principal, request: GateRequest) -> Result<GateVerdict, ServiceError> {
        super::analysis::validate_texts(std::slice::from_ref(&request.text), 1, "text")?;
        if let Some(account) = &request.account_id {
            check_account(account)?;
        }
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
                    .map_err(|e| ServiceError::unavailable(e.to_string()))?;
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
        let (analysis, duplicate) = tokio::join!(
            tokio::time::timeout(self.timeout, self.analysis.analyze(vec![request.text.clone()], None)),
            tokio::time::timeout(self.timeout, self.duplicate(principal, &request, policy)),
        );
        let analysis = match analysis {
            Ok(Ok(analysis)) => Ok(analysis),
            Ok(Err(err)) if err.is_invalid_input() => return Err(err),
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
        found.sort_by_key(|span| span.bytes.start);
        drop_allowed(&mut found, &lists.allowlist.find(&request.text));

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
        // One reason per entry, however often the post repeats it; `spans` lists every place.
        let mut by_entry: BTreeMap<&str, (&Span, usize)> = BTreeMap::new();
        for span in found.iter().filter(|s| s.category == "blocklist") {
            by_entry.entry(span.entry.as_str()).or_insert((span, 0)).1 += 1;
        }
        for (entry, (first, times)) in by_entry {
            let repeats = if times > 1 { format!(" ({times} times)") } else { String::new() };
            reasons.push(Reason {
                category: "blocklist".into(),
                score: 1.0,
                decision: Decision::Block,
                threshold: None,
                source: format!("policy {name}"),
                source_version: String::new(),
                detail: Some(format!("`{}` matches blocklist entry `{entry}`{repeats}", first.text)),
            });
        }
        match duplicate {
            Ok(Ok(None)) => {}
            Ok(Ok(Some((score, reason)))) => {
                scores.insert("duplicate".into(), score);
                reasons.extend(reason);
            }
            Ok(Err(err)) if err.is_invalid_input() => return Err(err),
            Ok(Err(err)) => reasons.push(failure("duplicate", "post-index", err.to_string())),
            Err(_) => reasons.push(failure(
                "duplicate",
                "post-index",
                format!("no answer within {} ms", self.timeout.as_millis()),
            )),
        }
        reasons.sort_by(|a, b| b.decision.cmp(&a.decision).then(b.score.total_cmp(&a.score)));
        let decision = reasons.iter().map(|r| r.decision).max().unwrap_or(Decision::Allow);
        Ok(GateVerdict { decision, policy: name, platform: request.platform, reasons, spans: found, scores })
    }
}

impl GateService {
    /// The `duplicate` category: the account's most similar post within the policy's window, as
    /// a score and, past a threshold, a reason naming that post. `None` without an account (or
    /// an index).
    async fn duplicate(
        &self,
        principal: &Principal,
        request: &GateRequest,
        policy: &Policy,
    ) -> Result<Option<(f32, Option<Reason>)>, ServiceError> {
        let (Some(index), Some(account)) = (&self.index, &request.account_id) else { return Ok(None) };
        let thresholds = policy.duplicate_thresholds();
        if thresholds.review.is_none() && thresholds.block.is_none() {
            return Ok(None);
        }
        let window = i64::from(policy.duplicate_window_days()) * 86_400;
        let since = chrono::Utc::now().timestamp() - window;
        let Some(nearest) = index.nearest_in_account(&principal.tenant, account, &request.text, since).await? else {
            return Ok(Some((0.0, None)));
        };
        let model = index.model().unwrap_or_default().to_string();
        let reason = crossed("duplicate", nearest.score, &thresholds, &model, "").map(|mut reason| {
            let date = chrono::DateTime::from_timestamp(nearest.created_at, 0)
                .map_or_else(|| nearest.created_at.to_string(), |d| d.format("%Y-%m-%d").to_string());
            reason.detail =
                Some(format!("repeats post {} of {date} (similarity {:.2})", excerpt(&nearest.post_id), nearest.score));
            reason
        });
        Ok(Some((nearest.score, reason)))
    }
}

/// Removes from `found` (sorted by start) every span that overlaps an allowed match, in one sweep
/// over both: a text dense with matches must not cost matches × allowed matches.
fn drop_allowed(found: &mut Vec<Span>, allowed: &[LexiconMatch]) {
    // The allowed bytes as sorted, disjoint ranges, so their ends increase too.
    let mut sorted: Vec<&Range<usize>> = allowed.iter().map(|m| &m.span).collect();
    sorted.sort_unstable_by_key(|range| range.start);
    let mut union: Vec<Range<usize>> = Vec::with_capacity(sorted.len());
    for range in sorted {
        match union.last_mut() {
            Some(last) if range.start < last.end => last.end = last.end.max(range.end),
            _ => union.push(range.clone()),
        }
    }
    let mut union = union.into_iter().peekable();
    found.retain(|span| {
        // Ranges ending before this span starts end before every later span starts, too.
        while union.next_if(|range| range.end <= span.bytes.start).is_some() {}
        union.peek().is_none_or(|range| range.start >= span.bytes.end)
    });
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
fn crossed(category: &str, score: f32, thresholds: &Thresholds, source: &str, version: &str) -> Option<Reason> {
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
    categories.push("duplicate".into());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn span(bytes: Range<usize>) -> Span {
        let text = "x".repeat(bytes.len());
        Span { category: "profanity", entry: text.clone(), start: bytes.start, end: bytes.end, text, bytes }
    }

    fn allowed(bytes: Range<usize>) -> LexiconMatch {
        LexiconMatch { entry: "brand".into(), span: bytes }
    }

    #[test]
    fn allowed_matches_remove_exactly_the_spans_they_overlap() {
        let mut found = vec![span(0..4), span(2..6), span(6..9), span(10..14), span(20..24), span(30..34)];
        // Out of order and overlapping, as no caller gives them but any might.
        drop_allowed(&mut found, &[allowed(22..40), allowed(5..7), allowed(4..6), allowed(9..10)]);
        let kept: Vec<Range<usize>> = found.into_iter().map(|s| s.bytes).collect();
        assert_eq!(kept, [0..4, 10..14]);
    }

    #[test]
    fn a_dense_text_with_a_dense_allowlist_is_one_sweep() {
        // Every other word allowed, 100,000 of each: the pairwise check was 10^10 comparisons.
        let words = 200_000;
        let mut found: Vec<Span> = (0..words).map(|i| span(i * 5..i * 5 + 4)).collect();
        let allow: Vec<LexiconMatch> = (0..words).step_by(2).map(|i| allowed(i * 5..i * 5 + 4)).collect();
        drop_allowed(&mut found, &allow);
        assert_eq!(found.len(), words / 2);
        assert!(found.iter().all(|s| (s.bytes.start / 5) % 2 == 1));
    }
}
