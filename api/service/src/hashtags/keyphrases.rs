//! Candidate keyphrases of a draft, the text source's tags (KeyBERT-style: the service scores
//! each by the similarity of its embedding to the draft's).
//!
//! Candidates are the one- and two-word runs of content words (stopwords break a phrase, as in
//! KeyBERT's CountVectorizer with stop words), ranked first by how informative their words are
//! (rarer words in the web corpus of `WordSegmenter` count more; unknown words, names mostly,
//! most), so that only [`MAX_PHRASES`] go to the encoder.

use std::collections::HashSet;

use eiq_inference::WordSegmenter;

use super::words::{Token, camel_case, is_stopword, tokens};

/// Most phrases embedded per suggestion: the encoder's cost is per phrase.
pub const MAX_PHRASES: usize = 12;
/// Words of a draft read for phrases.
const MAX_TOKENS: usize = 200;

#[derive(Debug, Clone, PartialEq)]
pub struct Phrase {
    /// Lower-cased words, as the encoder reads them.
    pub text: String,
    /// The phrase as a tag body, in CamelCase.
    pub tag: String,
}

pub fn candidates(draft: &str, segmenter: &WordSegmenter) -> Vec<Phrase> {
    let words = tokens(draft, MAX_TOKENS);
    let mut runs: Vec<Vec<Token>> = vec![Vec::new()];
    for word in words {
        if is_stopword(&word.lower) {
            runs.push(Vec::new());
        } else if let Some(run) = runs.last_mut() {
            run.push(word);
        }
    }
    let informative = |word: &Token| {
        let count = segmenter.count(&word.lower);
        // log10 of the corpus size over the count: 12 for a word never seen.
        (1.0e12 / (count + 1.0)).log10()
    };
    let mut seen = HashSet::new();
    let mut scored: Vec<(f64, Phrase)> = Vec::new();
    for run in runs.iter().filter(|run| !run.is_empty()) {
        for size in 1..=2 {
            for window in run.windows(size) {
                if size == 1 && window[0].lower.chars().count() < 3 {
                    continue;
                }
                let text = window.iter().map(|w| w.lower.as_str()).collect::<Vec<_>>().join(" ");
                if !seen.insert(text.clone()) {
                    continue;
                }
                let score = window.iter().map(informative).sum::<f64>() / size as f64 + 0.5 * (size - 1) as f64;
                scored.push((score, Phrase { tag: camel_case(window), text }));
            }
        }
    }
    scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.text.cmp(&b.1.text)));
    scored.into_iter().take(MAX_PHRASES).map(|(_, phrase)| phrase).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phrases_are_content_word_runs_in_camel_case() {
        let segmenter = WordSegmenter::from_counts("climate\t1000\naction\t5000\nnow\t900000\n", "");
        let phrases = candidates("Climate action is needed now, says @ana", &segmenter);
        let tags: Vec<&str> = phrases.iter().map(|p| p.tag.as_str()).collect();
        assert!(tags.contains(&"ClimateAction") && tags.contains(&"Climate"), "{tags:?}");
        assert!(!tags.iter().any(|t| t.contains("Is") || t.contains("Ana")), "{tags:?}");
        assert!(candidates(&"word ".repeat(10_000), &segmenter).len() <= MAX_PHRASES);
    }
}
