//! Splitting run-together words: `#actonclimate` → "act on climate".
//!
//! Hashtags glue words together; to match a history tag against a draft's words, and to write a
//! suggestion readably, we need the words back. This is Peter Norvig's segmenter ("Natural Language
//! Corpus Data", in *Beautiful Data*), as PyPI `wordsegment` ships it: pick the split whose words
//! are most probable under unigram and bigram counts from a trillion-word web corpus.
//!
//! `wordsegment` searches recursively with a memo over (suffix, previous word). The same search
//! is a Viterbi pass here: the state at position `i` is the length of the word ending there, so
//! the work is `n × MAX_WORD × MAX_WORD` lookups, linear in the text, and input is cut at
//! [`MAX_SEGMENT_CHARS`] anyway. CamelCase boundaries (`ActOnClimate`) and letter/digit
//! boundaries are taken as given before segmenting, since the writer chose them.

use std::collections::HashMap;

/// Longest word the search considers (as `wordsegment`).
const MAX_WORD: usize = 24;
/// Longest text segmented; the rest is left as one word (a hashtag is far shorter).
pub const MAX_SEGMENT_CHARS: usize = 256;
/// The corpus size `wordsegment` divides by (its `TOTAL`).
const TOTAL: f64 = 1_024_908_267_229.0;

/// Unigram and bigram counts, as log-probabilities.
pub struct WordSegmenter {
    unigrams: HashMap<String, f64>,
    /// `previous word` → (`word` → count), so a lookup needs no joined key.
    bigrams: HashMap<String, HashMap<String, f64>>,
}

impl WordSegmenter {
    /// From `wordsegment`'s `unigrams.txt` and `bigrams.txt`: `word\tcount` and
    /// `first second\tcount` per line. Malformed lines are skipped.
    pub fn from_counts(unigrams: &str, bigrams: &str) -> Self {
        let unigrams = unigrams
            .lines()
            .filter_map(|line| {
                let (word, count) = line.split_once('\t')?;
                Some((word.to_string(), count.trim().parse::<f64>().ok()?))
            })
            .collect();
        let mut pairs: HashMap<String, HashMap<String, f64>> = HashMap::new();
        for line in bigrams.lines() {
            let Some((pair, count)) = line.split_once('\t') else { continue };
            let (Some((first, second)), Ok(count)) = (pair.split_once(' '), count.trim().parse::<f64>()) else {
                continue;
            };
            pairs.entry(first.to_string()).or_default().insert(second.to_string(), count);
        }
        Self { unigrams, bigrams: pairs }
    }

    /// The counts of the catalogue's `wordsegment` artefact from the model cache, or why they
    /// are unavailable (`eiq models fetch wordsegment`).
    pub fn load(catalogue: &eiq_models::Catalogue, cache: &eiq_models::ModelCache) -> Result<Self, String> {
        const ID: &str = "wordsegment";
        let resolved = cache.resolve(catalogue, ID).map_err(|e| e.to_string())?;
        let read = |role: eiq_models::FileRole| {
            let path = resolved.path(role).ok_or_else(|| format!("`{ID}` lists no {role:?} file"))?;
            std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))
        };
        Ok(Self::from_counts(&read(eiq_models::FileRole::Unigrams)?, &read(eiq_models::FileRole::Bigrams)?))
    }

    /// How often `word` occurs in the corpus (0 when unknown).
    pub fn count(&self, word: &str) -> f64 {
        self.unigrams.get(word).copied().unwrap_or(0.0)
    }

    /// The words of `text`, lower-cased: CamelCase and letter/digit boundaries first, then the
    /// most probable split of each run.
    pub fn segment(&self, text: &str) -> Vec<String> {
        let mut words = Vec::new();
        for run in case_runs(text) {
            words.extend(self.segment_run(&run));
        }
        words
    }

    /// Splits one lower-case run of letters or digits.
    fn segment_run(&self, run: &str) -> Vec<String> {
        let chars: Vec<char> = run.chars().collect();
        if chars.is_empty() {
            return Vec::new();
        }
        if chars.len() > MAX_SEGMENT_CHARS || chars.iter().all(char::is_ascii_digit) {
            return vec![run.to_string()];
        }
        let n = chars.len();
        let word = |start: usize, end: usize| chars[start..end].iter().collect::<String>();
        // best[i][l]: the best log-probability of chars[..i] whose last word has length l.
        let mut best = vec![[f64::NEG_INFINITY; MAX_WORD + 1]; n + 1];
        let mut back = vec![[0usize; MAX_WORD + 1]; n + 1];
        for end in 1..=n {
            for len in 1..=MAX_WORD.min(end) {
                let start = end - len;
                let current = word(start, end);
                if start == 0 {
                    best[end][len] = self.alone(&current);
                    continue;
                }
                for previous_len in 1..=MAX_WORD.min(start) {
                    let before = best[start][previous_len];
                    if before == f64::NEG_INFINITY {
                        continue;
                    }
                    let previous = word(start - previous_len, start);
                    let score = before + self.after(&current, &previous);
                    if score > best[end][len] {
                        best[end][len] = score;
                        back[end][len] = previous_len;
                    }
                }
            }
        }
        let mut len = (1..=MAX_WORD.min(n)).max_by(|&a, &b| best[n][a].total_cmp(&best[n][b])).unwrap_or(n);
        let mut end = n;
        let mut words = Vec::new();
        while end > 0 {
            words.push(word(end - len, end));
            let previous_len = back[end][len];
            end -= len;
            len = previous_len;
        }
        words.reverse();
        words
    }

    /// `log P(word)`, with unknown words penalised by their length (as `wordsegment`).
    fn alone(&self, word: &str) -> f64 {
        match self.unigrams.get(word) {
            Some(count) => (count / TOTAL).ln(),
            None => (10.0 / TOTAL).ln() - (word.chars().count() as f64) * std::f64::consts::LN_10,
        }
    }

    /// `log P(word | previous)`: the bigram's conditional probability when both are known.
    fn after(&self, word: &str, previous: &str) -> f64 {
        let pair = self.bigrams.get(previous).and_then(|next| next.get(word));
        match (pair, self.unigrams.contains_key(previous)) {
            (Some(count), true) => (count / TOTAL).ln() - self.alone(previous),
            _ => self.alone(word),
        }
    }
}

/// The runs a writer marked: lower-cased alphanumeric runs split at `aB`, `ABc` (`HTMLParser` →
/// `html`, `parser`) and letter/digit boundaries; everything else separates.
fn case_runs(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().take(MAX_SEGMENT_CHARS * 4).collect();
    let mut runs: Vec<String> = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            if !current.is_empty() {
                runs.push(std::mem::take(&mut current));
            }
            continue;
        }
        if let Some(&previous) = i.checked_sub(1).and_then(|p| chars.get(p)) {
            let next_lower = chars.get(i + 1).is_some_and(|n| n.is_lowercase());
            let boundary = (previous.is_lowercase() && c.is_uppercase())
                || (previous.is_uppercase() && c.is_uppercase() && next_lower)
                || (previous.is_alphabetic() && c.is_numeric())
                || (previous.is_numeric() && c.is_alphabetic());
            if boundary && !current.is_empty() {
                runs.push(std::mem::take(&mut current));
            }
        }
        current.extend(c.to_lowercase());
    }
    if !current.is_empty() {
        runs.push(current);
    }
    runs
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tiny() -> WordSegmenter {
        let unigrams = "act\t1000000\non\t900000000\nclimate\t5000000\nclimb\t4000000\nmate\t3000000\nact on\t1\n";
        let bigrams = "act on\t500000\n";
        WordSegmenter::from_counts(unigrams, bigrams)
    }

    #[test]
    fn glued_and_camel_case_words_come_apart() {
        let segmenter = tiny();
        assert_eq!(segmenter.segment("actonclimate"), ["act", "on", "climate"]);
        assert_eq!(segmenter.segment("ActOnClimate"), ["act", "on", "climate"]);
        assert_eq!(segmenter.segment("HTMLParser"), ["html", "parser"]);
        assert_eq!(segmenter.segment("covid19"), ["covid", "19"]);
        assert!(segmenter.segment("").is_empty() && segmenter.segment("#_!").is_empty());
    }

    #[test]
    fn long_input_stays_linear_and_whole() {
        let segmenter = tiny();
        let long = "ab".repeat(100_000);
        let started = std::time::Instant::now();
        let words = segmenter.segment(&long);
        assert!(words.concat().len() <= MAX_SEGMENT_CHARS * 4);
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }
}
