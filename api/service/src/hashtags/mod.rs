//! Hashtag suggestions from evidence: the tags this account used on posts like the draft, and
//! what they did for engagement; the draft's own keyphrases; and, before a tenant has a history,
//! the tags of public tweets like it.
//!
//! Three sources score each candidate tag in [0, 1]:
//! - **history**: the draft's nearest posts in the post index (the account's, or the tenant's
//!   when the account's carry no tags), each voting for its tags by similarity², scaled by the
//!   tag's shrunk engagement lift for the account (`engagement/tags.rs`);
//! - **text**: keyphrases of the draft (`keyphrases.rs`) scored by embedding similarity to the
//!   draft, KeyBERT-style, written in CamelCase;
//! - **corpus**: TF-IDF profiles of the tags of public tweets (`corpus.rs`).
//!
//! Tags are compared by their lower-cased form, and the words of a tag (`#ActOnClimate` → act on
//! climate, by `WordSegmenter`) let a history or corpus tag that names the draft's own words rank
//! higher. Never suggested: a tag already in the draft, one the tenant's blocklist or the
//! profanity list matches, and the spam tags of `spam.txt`. Each platform's cap is data
//! (`caps.toml`), bounded by the platform's hard limit and the tenant's override of it.

mod caps;
mod corpus;
pub mod evaluation;
mod keyphrases;
mod rank;
mod words;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use eiq_inference::WordSegmenter;
use tokio::sync::OnceCell;

pub use caps::{HashtagCap, caps};
pub use corpus::{CORPUS_TWEETS, CorpusMatch, TagCorpus};
pub use words::{content_words, tokens};

use self::rank::{Candidates, Exclusions};
use crate::engagement::Digest;
use crate::error::{Hint, Resource, ServiceError};
use crate::index::{PostIndex, check_account};
use crate::limits::{check_text, excerpt};
use crate::posts::PostRulesService;
use crate::tenancy::Principal;
use crate::text::{AnalysisService, GateService};
use crate::vectors::PointFilter;

/// Most tags one suggestion may ask for.
pub const MAX_SUGGESTED_HASHTAGS: usize = 30;
/// Tags suggested when neither `k` nor a platform says how many.
pub const DEFAULT_SUGGESTED_HASHTAGS: usize = 5;
/// Nearest history posts that vote for their tags.
const HISTORY_NEIGHBOURS: usize = 50;
/// Corpus tags considered.
const CORPUS_CANDIDATES: usize = 30;

#[derive(Debug, Clone, Default)]
pub struct SuggestRequest {
    pub text: String,
    pub platform: Option<String>,
    pub account_id: Option<String>,
    pub k: Option<usize>,
}

/// One suggested tag and the evidence behind it.
#[derive(Debug, Clone, PartialEq)]
pub struct Suggestion {
    /// With `#`.
    pub tag: String,
    pub score: f32,
    /// `history`, `text`, `corpus`: the sources that proposed it.
    pub sources: Vec<&'static str>,
    /// The history posts (the account's, else the tenant's) that carry the tag.
    pub posts: usize,
    /// The tag's shrunk engagement lift for the account (0.25 = +25 %), when the history has it.
    pub lift: Option<f64>,
}

/// Whose history backed the suggestions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HistoryScope {
    Account,
    Tenant,
    /// No history: text and corpus only.
    None,
}

impl HistoryScope {
    pub fn as_str(self) -> &'static str {
        match self {
            HistoryScope::Account => "account",
            HistoryScope::Tenant => "tenant",
            HistoryScope::None => "none",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Suggestions {
    pub hashtags: Vec<Suggestion>,
    /// The most the platform takes (none without a platform).
    pub limit: Option<usize>,
    pub history: HistoryScope,
    /// What the caller should know (no history, indexing under way).
    pub notes: Vec<String>,
}

#[derive(Clone)]
pub struct HashtagService {
    inner: Arc<Inner>,
}

struct Inner {
    index: PostIndex,
    posts: PostRulesService,
    analysis: AnalysisService,
    gate: GateService,
    segmenter: Arc<WordSegmenter>,
    /// Built on first use (a few hundred milliseconds), then shared.
    corpus: OnceCell<Arc<TagCorpus>>,
}

impl HashtagService {
    pub fn new(
        index: PostIndex,
        posts: PostRulesService,
        analysis: AnalysisService,
        gate: GateService,
        segmenter: Arc<WordSegmenter>,
    ) -> Self {
        Self { inner: Arc::new(Inner { index, posts, analysis, gate, segmenter, corpus: OnceCell::new() }) }
    }

    pub fn segmenter(&self) -> &WordSegmenter {
        &self.inner.segmenter
    }

    /// The public-tweet corpus, built on first use.
    pub async fn corpus(&self) -> Result<Arc<TagCorpus>, ServiceError> {
        let segmenter = Arc::clone(&self.inner.segmenter);
        self.inner
            .corpus
            .get_or_try_init(|| async move {
                tokio::task::spawn_blocking(move || Arc::new(TagCorpus::build(CORPUS_TWEETS, &segmenter)))
                    .await
                    .map_err(|e| ServiceError::internal("hashtag corpus", e))
            })
            .await
            .cloned()
    }

    pub async fn suggest(&self, principal: &Principal, request: SuggestRequest) -> Result<Suggestions, ServiceError> {
        let text = request.text.trim();
        if text.is_empty() {
            return Err(ServiceError::invalid("text", "text is empty"));
        }
        check_text("text", text)?;
        if let Some(account) = &request.account_id {
            check_account(account)?;
        }
        if let Some(k) = request.k
            && !(1..=MAX_SUGGESTED_HASHTAGS).contains(&k)
        {
            return Err(ServiceError::invalid("k", format!("k must be 1–{MAX_SUGGESTED_HASHTAGS}, not {k}")));
        }
        let (limit, k) = self.count(principal, &request).await?;
        let digest = self.inner.index.digest(&principal.tenant).await?;
        let mut notes = Vec::new();
        let account = history_account(request.account_id.as_deref(), digest.as_deref(), &mut notes)?;

        let phrases = keyphrases::candidates(text, &self.inner.segmenter);
        let mut texts = vec![text.to_string()];
        texts.extend(phrases.iter().map(|p| p.text.clone()));
        let vectors = self.inner.index.embed_texts(texts).await?;
        let mut candidates = Candidates::default();
        let history = match &digest {
            Some(digest) => {
                let history = self.history(principal, digest, account, vectors[0].clone(), &mut candidates).await;
                let scope = match history {
                    Ok(HistoryScope::None) => {
                        notes.push(
                            "no similar history post carries a hashtag: suggestions come from the text and corpus"
                                .into(),
                        );
                        HistoryScope::None
                    }
                    Ok(scope) => scope,
                    // The store is down: the other sources still answer, and the note says why.
                    Err(ServiceError::Unavailable { .. }) => {
                        notes.push("the post index is unavailable: suggestions come from the text and corpus".into());
                        HistoryScope::None
                    }
                    Err(other) => return Err(other),
                };
                if !self.inner.index.is_indexed(&principal.tenant)? {
                    notes.push("the latest history import is still being indexed".into());
                }
                scope
            }
            None => HistoryScope::None,
        };
        for (phrase, vector) in phrases.iter().zip(&vectors[1..]) {
            candidates.text(&phrase.tag, rank::cosine(&vectors[0], vector));
        }
        let corpus = self.corpus().await?;
        let mut words = content_words(text, corpus::MAX_WORDS);
        for tag in eiq_datasets::twitter_text::extract_hashtags(text) {
            words.extend(self.inner.segmenter.segment(&tag.value).into_iter().filter(|w| !words::is_stopword(w)));
        }
        for found in corpus.suggest(&words, CORPUS_CANDIDATES) {
            candidates.corpus(&found.spelling, found.score);
        }

        let excluded = Exclusions {
            in_draft: eiq_datasets::twitter_text::extract_hashtags(text)
                .into_iter()
                .map(|t| t.value.to_lowercase())
                .collect(),
            blocklist: self.inner.gate.policies().get("default").ok().map(|(_, lists)| lists.blocklist.clone()),
            analysis: &self.inner.analysis,
        };
        let mut ranked = candidates.rank(&self.inner.segmenter, &words, &excluded, |key| {
            let stat = digest.as_ref().and_then(|d| d.tags.get(account, key));
            (stat.map_or(0, |s| s.posts), stat.map(|s| s.lift.exp_m1()))
        });
        ranked.truncate(k);
        Ok(Suggestions { hashtags: ranked, limit: limit.map(|(cap, _)| cap), history, notes })
    }

    /// The platform's cap with its default count (none without a platform), and how many to return.
    async fn count(
        &self,
        principal: &Principal,
        request: &SuggestRequest,
    ) -> Result<(Option<(usize, Option<usize>)>, usize), ServiceError> {
        let limit = match &request.platform {
            Some(platform) => {
                let rules = self.inner.posts.rules_for(principal, platform).await?.rules;
                let cap = caps().get(rules.id.as_str());
                let hard = rules.max_hashtags.unwrap_or(MAX_SUGGESTED_HASHTAGS);
                Some((cap.map_or(hard, |c| c.cap.min(hard)), cap.map(|c| c.default)))
            }
            None => None,
        };
        let k = match (request.k, limit) {
            (Some(k), Some((cap, _))) => k.min(cap),
            (Some(k), None) => k,
            (None, Some((cap, default))) => default.unwrap_or(DEFAULT_SUGGESTED_HASHTAGS).min(cap),
            (None, None) => DEFAULT_SUGGESTED_HASHTAGS,
        };
        Ok((limit, k))
    }

    /// The tags of the draft's nearest history posts: the account's, else the tenant's.
    async fn history(
        &self,
        principal: &Principal,
        digest: &Digest,
        account: Option<&str>,
        draft: Vec<f32>,
        candidates: &mut Candidates,
    ) -> Result<HistoryScope, ServiceError> {
        let mut scopes = Vec::new();
        if let Some(account) = account {
            scopes.push((HistoryScope::Account, PointFilter { account: Some(account.into()), ..Default::default() }));
        }
        scopes.push((HistoryScope::Tenant, PointFilter::default()));
        for (scope, filter) in scopes {
            let hits = self.inner.index.nearest(&principal.tenant, draft.clone(), filter, HISTORY_NEIGHBOURS).await?;
            let votes = history_votes(&hits);
            if votes.is_empty() {
                continue;
            }
            for (key, (spelling, vote)) in votes {
                let lift = digest.tags.get(account, &key).map_or(0.0, |s| s.lift);
                candidates.history(key, spelling, vote, lift);
            }
            return Ok(scope);
        }
        Ok(HistoryScope::None)
    }
}

/// The account whose history backs the suggestions. An account the tenant's history lacks is not
/// found; without any history, suggestions come from text and corpus, and a note says so.
fn history_account<'a>(
    account: Option<&'a str>,
    digest: Option<&Digest>,
    notes: &mut Vec<String>,
) -> Result<Option<&'a str>, ServiceError> {
    match (account, digest) {
        (Some(account), Some(digest)) if !digest.accounts.iter().any(|a| a.account_id == account) => {
            Err(ServiceError::NotFound {
                resource: Resource::Account(account.to_string()),
                message: format!("account `{}` has no history", excerpt(account)),
                hint: Some(Hint::ImportHistory),
            })
        }
        (Some(account), Some(_)) => Ok(Some(account)),
        (Some(account), None) => {
            notes.push(format!(
                "account `{}` has no history: suggestions come from the text and the public corpus only",
                excerpt(account)
            ));
            Ok(None)
        }
        (None, None) => {
            notes.push("the tenant has no history: suggestions come from the text and the public corpus only".into());
            Ok(None)
        }
        (None, Some(_)) => Ok(None),
    }
}

/// Each tag's similarity²-weighted share of the neighbours' votes, with its most voted spelling.
fn history_votes(hits: &[crate::vectors::Hit]) -> HashMap<String, (String, f32)> {
    let mut total = 0.0f32;
    let mut votes: HashMap<String, (HashMap<String, f32>, f32)> = HashMap::new();
    for hit in hits {
        let weight = hit.score.max(0.0).powi(2);
        total += weight;
        let mut seen = HashSet::new();
        for tag in &hit.post.hashtags {
            let key = tag.to_lowercase();
            if seen.insert(key.clone()) {
                let entry = votes.entry(key).or_default();
                *entry.0.entry(tag.clone()).or_default() += weight;
                entry.1 += weight;
            }
        }
    }
    if total <= 0.0 {
        return HashMap::new();
    }
    votes
        .into_iter()
        .map(|(key, (spellings, vote))| {
            let spelling = spellings.into_iter().max_by(|a, b| a.1.total_cmp(&b.1)).map(|(s, _)| s).unwrap_or_default();
            (key, (spelling, (vote / total * 2.0).min(1.0)))
        })
        .collect()
}
