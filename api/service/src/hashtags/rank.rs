//! Combining the three sources' scores into one ranking, and the tags never suggested.
//!
//! Each source scores a tag in [0, 1]; the final score is their weighted mean, plus a small bonus
//! for a history or corpus tag that names the draft's own words (`#ClimateAction` on a post about
//! climate action). A tag is keyed by its lower-cased form, so `#ActOnClimate` from the history and
//! `ActOnClimate` from the text are one candidate, written as the history writes it.

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use eiq_inference::{Lexicon, WordSegmenter};

use super::Suggestion;
use super::words::is_stopword;
use crate::text::AnalysisService;

/// How much each source counts in the final score.
const HISTORY_WEIGHT: f32 = 1.0;
const TEXT_WEIGHT: f32 = 0.5;
const CORPUS_WEIGHT: f32 = 0.6;
/// Added to a history or corpus tag whose every content word is in the draft.
const NAMED_BONUS: f32 = 0.15;
/// Text similarity below which a keyphrase scores nothing (unrelated phrases still reach ~0.2).
const TEXT_FLOOR: f32 = 0.2;

static SPAM: LazyLock<HashSet<String>> = LazyLock::new(|| {
    include_str!("spam.txt")
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(str::to_lowercase)
        .collect()
});

/// One tag while the sources are combined.
#[derive(Debug, Default)]
struct Candidate {
    spelling: String,
    history: f32,
    text: f32,
    corpus: f32,
}

/// Candidate tags by lower-cased key.
#[derive(Debug, Default)]
pub struct Candidates(HashMap<String, Candidate>);

/// What a suggestion may never be.
pub struct Exclusions<'a> {
    /// Tags the draft already has (lower-cased).
    pub in_draft: HashSet<String>,
    /// The tenant's blocklist (the `default` policy's).
    pub blocklist: Option<Lexicon>,
    /// For the profanity list.
    pub analysis: &'a AnalysisService,
}

impl Exclusions<'_> {
    fn excludes(&self, key: &str, spelling: &str, readable: &str) -> bool {
        let profane = |text: &str| self.analysis.profanity_spans(text).is_ok_and(|spans| !spans.is_empty());
        let blocked = |text: &str| self.blocklist.as_ref().is_some_and(|list| !list.find(text).is_empty());
        self.in_draft.contains(key)
            || SPAM.contains(key)
            || profane(readable)
            || profane(spelling)
            || blocked(readable)
            || blocked(spelling)
    }
}

impl Candidates {
    fn entry(&mut self, spelling: &str) -> &mut Candidate {
        let candidate = self.0.entry(spelling.to_lowercase()).or_default();
        if candidate.spelling.is_empty() {
            candidate.spelling = spelling.to_string();
        }
        candidate
    }

    /// A history tag: its vote, scaled by its engagement lift for the account (a tag that lifted
    /// engagement counts up to ~1.6×, one that hurt it down to ~0.6×). History spells the tag.
    pub fn history(&mut self, key: String, spelling: String, vote: f32, lift: f64) {
        let candidate = self.0.entry(key).or_default();
        candidate.spelling = spelling;
        candidate.history = (vote * (lift.clamp(-1.0, 1.0) as f32 * 0.5).exp()).min(1.0);
    }

    /// A keyphrase of the draft, by its embedding's cosine similarity to the draft's.
    pub fn text(&mut self, spelling: &str, similarity: f32) {
        let candidate = self.entry(spelling);
        candidate.text = candidate.text.max(((similarity - TEXT_FLOOR) / (1.0 - TEXT_FLOOR)).clamp(0.0, 1.0));
    }

    pub fn corpus(&mut self, spelling: &str, score: f32) {
        self.entry(spelling).corpus = score;
    }

    /// Every allowed candidate, best first; `evidence` gives a tag key's history posts and lift.
    pub fn rank(
        self,
        segmenter: &WordSegmenter,
        draft_words: &[String],
        excluded: &Exclusions,
        evidence: impl Fn(&str) -> (usize, Option<f64>),
    ) -> Vec<Suggestion> {
        let draft_words: HashSet<&str> = draft_words.iter().map(String::as_str).collect();
        let mut ranked: Vec<Suggestion> = Vec::new();
        for (key, candidate) in self.0 {
            let tag_words = segmenter.segment(&candidate.spelling);
            if excluded.excludes(&key, &candidate.spelling, &tag_words.join(" ")) {
                continue;
            }
            let content: Vec<&String> = tag_words.iter().filter(|w| !is_stopword(w)).collect();
            let named = !content.is_empty() && content.iter().all(|w| draft_words.contains(w.as_str()));
            let bonus = match named && (candidate.history > 0.0 || candidate.corpus > 0.0) {
                true => NAMED_BONUS,
                false => 0.0,
            };
            let total = HISTORY_WEIGHT * candidate.history
                + TEXT_WEIGHT * candidate.text
                + CORPUS_WEIGHT * candidate.corpus
                + bonus;
            let score = (total / (HISTORY_WEIGHT + TEXT_WEIGHT + CORPUS_WEIGHT)).min(1.0);
            if score <= 0.0 {
                continue;
            }
            let sources = [("history", candidate.history), ("text", candidate.text), ("corpus", candidate.corpus)]
                .into_iter()
                .filter(|(_, part)| *part > 0.0)
                .map(|(name, _)| name)
                .collect();
            let (posts, lift) = evidence(&key);
            ranked.push(Suggestion { tag: format!("#{}", candidate.spelling), score, sources, posts, lift });
        }
        ranked.sort_by(|a, b| b.score.total_cmp(&a.score).then_with(|| a.tag.cmp(&b.tag)));
        ranked
    }
}

pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    let dot: f32 = a.iter().zip(b).map(|(x, y)| x * y).sum();
    let norms = a.iter().map(|x| x * x).sum::<f32>().sqrt() * b.iter().map(|x| x * x).sum::<f32>().sqrt();
    if norms > 0.0 { dot / norms } else { 0.0 }
}
