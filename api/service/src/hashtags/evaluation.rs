//! Hashtag recovery, the evaluation of suggestions (test `api/tests/hashtags.rs`, benchmark
//! `benches/src/bin/hashtag_eval.rs`): take tweets whose text ends in a run of hashtags, remove
//! the run, ask for k suggestions, and count a hit when one removed tag comes back (hit@k).
//!
//! Two baselines run on the same history and queries:
//! - **popular**: the history's most used tags, whatever the draft says;
//! - **BM25 neighbours**: the history tweets most like the draft by BM25 (k1 = 1.2, b = 0.75),
//!   each voting for its tags by its score.

use std::collections::HashMap;

use super::words::content_words;

/// A tweet with its trailing hashtags removed, and those tags (lower-cased, without `#`).
#[derive(Debug, Clone, PartialEq)]
pub struct RecoveryQuery {
    pub text: String,
    pub removed: Vec<String>,
}

/// The queries of one tweet per line: those that end in hashtags and keep some text without them.
/// A word counts as a hashtag when it is one followed only by punctuation (`#salmon…`, as
/// truncated cross-posts end).
pub fn recovery_queries(tweets: &str) -> Vec<RecoveryQuery> {
    let mut queries = Vec::new();
    for line in tweets.lines() {
        let mut words: Vec<&str> = line.split_whitespace().collect();
        let mut removed = Vec::new();
        while let Some(last) = words.last() {
            let tags = eiq_datasets::twitter_text::extract_hashtags(last);
            match tags.as_slice() {
                [tag] if tag.start == 0 && !last[tag.end..].chars().any(char::is_alphanumeric) => {
                    removed.push(tag.value.to_lowercase());
                    words.pop();
                }
                _ => break,
            }
        }
        let text = words.join(" ");
        if !removed.is_empty() && !content_words(&text, 100).is_empty() {
            queries.push(RecoveryQuery { text, removed });
        }
    }
    queries
}

/// A post with every hashtag taken out, and those tags; `None` when it has none, or no text
/// without them (the within-account evaluation, where tags sit anywhere in a post).
pub fn without_hashtags(post: &str) -> Option<RecoveryQuery> {
    let tags = eiq_datasets::twitter_text::extract_hashtags(post);
    let mut text = String::with_capacity(post.len());
    let mut from = 0;
    for tag in &tags {
        text.push_str(&post[from..tag.start]);
        from = tag.end;
    }
    text.push_str(&post[from..]);
    let text = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let removed: Vec<String> = tags.into_iter().map(|t| t.value.to_lowercase()).collect();
    (!removed.is_empty() && !content_words(&text, 100).is_empty()).then_some(RecoveryQuery { text, removed })
}

/// Whether any suggested tag (with or without `#`, any case) is one the query removed.
pub fn is_hit(suggested: &[String], removed: &[String]) -> bool {
    suggested.iter().any(|tag| removed.contains(&tag.trim_start_matches('#').to_lowercase()))
}

/// The history's tags by use, most used first.
pub fn most_used_tags(history: &str, k: usize) -> Vec<String> {
    let mut counts: HashMap<String, usize> = HashMap::new();
    for line in history.lines() {
        for tag in eiq_datasets::twitter_text::extract_hashtags(line) {
            *counts.entry(tag.value.to_lowercase()).or_default() += 1;
        }
    }
    let mut ranked: Vec<(String, usize)> = counts.into_iter().collect();
    ranked.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    ranked.into_iter().take(k).map(|(tag, _)| tag).collect()
}

/// BM25 over the history tweets that carry tags; neighbours vote for their tags.
pub struct Bm25Neighbours {
    documents: Vec<(Vec<String>, usize)>,
    postings: HashMap<String, Vec<(u32, u32)>>,
    idf: HashMap<String, f32>,
    average_length: f32,
}

impl Bm25Neighbours {
    const K1: f32 = 1.2;
    const B: f32 = 0.75;
    /// Neighbours that vote.
    const NEIGHBOURS: usize = 20;

    pub fn new(history: &str) -> Self {
        let mut documents = Vec::new();
        let mut postings: HashMap<String, Vec<(u32, u32)>> = HashMap::new();
        for line in history.lines() {
            let tags: Vec<String> = eiq_datasets::twitter_text::extract_hashtags(line)
                .into_iter()
                .map(|t| t.value.to_lowercase())
                .collect();
            if tags.is_empty() {
                continue;
            }
            let words = content_words(line, 200);
            let id = documents.len() as u32;
            let mut frequencies: HashMap<&str, u32> = HashMap::new();
            for word in &words {
                *frequencies.entry(word).or_default() += 1;
            }
            for (word, tf) in frequencies {
                postings.entry(word.to_string()).or_default().push((id, tf));
            }
            documents.push((tags, words.len()));
        }
        let n = documents.len() as f32;
        let idf = postings
            .iter()
            .map(|(word, list)| {
                let df = list.len() as f32;
                (word.clone(), ((n - df + 0.5) / (df + 0.5) + 1.0).ln())
            })
            .collect();
        let average_length = documents.iter().map(|(_, len)| *len as f32).sum::<f32>() / n.max(1.0);
        Self { documents, postings, idf, average_length }
    }

    pub fn suggest(&self, text: &str, k: usize) -> Vec<String> {
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for word in content_words(text, 200) {
            let (Some(list), Some(idf)) = (self.postings.get(&word), self.idf.get(&word)) else { continue };
            for &(doc, tf) in list {
                let length = self.documents[doc as usize].1 as f32;
                let tf = tf as f32;
                let norm = Self::K1 * (1.0 - Self::B + Self::B * length / self.average_length.max(1.0));
                *scores.entry(doc).or_default() += idf * tf * (Self::K1 + 1.0) / (tf + norm);
            }
        }
        let mut neighbours: Vec<(u32, f32)> = scores.into_iter().collect();
        neighbours.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut votes: HashMap<&str, f32> = HashMap::new();
        for (doc, score) in neighbours.into_iter().take(Self::NEIGHBOURS) {
            for tag in &self.documents[doc as usize].0 {
                *votes.entry(tag).or_default() += score;
            }
        }
        let mut ranked: Vec<(&str, f32)> = votes.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then_with(|| a.0.cmp(b.0)));
        ranked.into_iter().take(k).map(|(tag, _)| tag.to_string()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn queries_lose_their_trailing_tags_only() {
        let lines = "Beach day #summer #Fun\n#only #tags\nno tags here\n#start of a line with text\nDinner #salmon,…";
        let queries = recovery_queries(lines);
        let beach = RecoveryQuery { text: "Beach day".into(), removed: vec!["fun".into(), "summer".into()] };
        let dinner = RecoveryQuery { text: "Dinner".into(), removed: vec!["salmon".into()] };
        assert_eq!(queries, [beach, dinner]);
        assert!(is_hit(&["#FUN".into()], &queries[0].removed));
        let inline = without_hashtags("New #rstats package for #Maps today").unwrap();
        assert_eq!(
            (inline.text.as_str(), inline.removed.as_slice()),
            ("New package for today", &["rstats".to_string(), "maps".to_string()][..])
        );
        assert_eq!(without_hashtags("#only #tags"), None);
        assert!(!is_hit(&["#beach".into()], &queries[0].removed));
    }

    #[test]
    fn baselines_rank_by_use_and_by_neighbours() {
        let history = "sunny beach waves #summer\nbeach sand #summer\nnew phone #tech\nphone case #tech\nphone #tech";
        assert_eq!(most_used_tags(history, 1), ["tech"]);
        assert_eq!(Bm25Neighbours::new(history).suggest("a beach walk", 1), ["summer"]);
    }
}
