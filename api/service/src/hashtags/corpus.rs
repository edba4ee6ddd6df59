//! Hashtags of public tweets and the words around them, for suggestions before a tenant has a
//! history of its own (cold start).
//!
//! The corpus is TweetEval's emoji training tweets (`datasets/tweeteval/emoji`, compiled in).
//! Each tag with at least [`MIN_TAG_TWEETS`] tweets gets a profile: the TF-IDF weights of the
//! words of its tweets and of its own segmented words (`#NationalDogDay` → national, dog, day),
//! L2-normalised. A draft is scored against every profile through an inverted index (word →
//! tags), so a query costs the postings of its words, each list cut to [`MAX_POSTINGS`].

use std::collections::HashMap;

use eiq_inference::WordSegmenter;

use super::words::{content_words, is_stopword};

/// A tag needs this many tweets to be suggested from the corpus.
pub const MIN_TAG_TWEETS: usize = 3;
/// Most tags a word's postings keep (its strongest).
const MAX_POSTINGS: usize = 300;
/// Words of a text read for matching.
pub const MAX_WORDS: usize = 200;

/// The tweets the corpus is built from.
pub const CORPUS_TWEETS: &str = include_str!("../../../../datasets/tweeteval/emoji/train_text.txt");

pub struct TagCorpus {
    /// Tag spellings, most used form.
    tags: Vec<String>,
    /// Tweets per tag.
    counts: Vec<usize>,
    /// Word → (tag index, weight), strongest first.
    postings: HashMap<String, Vec<(u32, f32)>>,
    /// Inverse document frequency of each word among the tweets.
    idf: HashMap<String, f32>,
}

/// One tag while the corpus is built: its spellings, its tweets, and its words' counts.
type Profile = (HashMap<String, usize>, usize, HashMap<String, f32>);

/// A tag the corpus suggests.
#[derive(Debug, Clone, PartialEq)]
pub struct CorpusMatch {
    pub spelling: String,
    /// Cosine of TF-IDF profiles, in [0, 1].
    pub score: f32,
    pub tweets: usize,
}

impl TagCorpus {
    /// Builds the profiles from one tweet per line.
    pub fn build(tweets: &str, segmenter: &WordSegmenter) -> Self {
        let mut document_frequency: HashMap<String, usize> = HashMap::new();
        let mut tagged: Vec<(Vec<String>, Vec<String>)> = Vec::new();
        let mut documents = 0usize;
        for line in tweets.lines() {
            documents += 1;
            let words = content_words(line, MAX_WORDS);
            let mut unique: Vec<&String> = words.iter().collect();
            unique.sort();
            unique.dedup();
            for word in unique {
                *document_frequency.entry(word.clone()).or_default() += 1;
            }
            let tags: Vec<String> =
                eiq_datasets::twitter_text::extract_hashtags(line).into_iter().map(|t| t.value).collect();
            if !tags.is_empty() {
                tagged.push((tags, words));
            }
        }
        let idf: HashMap<String, f32> = document_frequency
            .into_iter()
            .map(|(word, df)| (word, ((1.0 + documents as f32) / (1.0 + df as f32)).ln() + 1.0))
            .collect();

        let mut profiles: HashMap<String, Profile> = HashMap::new();
        for (tags, words) in &tagged {
            for tag in tags {
                let key = tag.to_lowercase();
                let profile = profiles.entry(key).or_default();
                *profile.0.entry(tag.clone()).or_default() += 1;
                profile.1 += 1;
                for word in words {
                    *profile.2.entry(word.clone()).or_default() += 1.0;
                }
            }
        }
        let mut corpus = Self { tags: Vec::new(), counts: Vec::new(), postings: HashMap::new(), idf };
        let mut postings: HashMap<String, Vec<(u32, f32)>> = HashMap::new();
        for (key, (spellings, tweets, mut words)) in profiles {
            if tweets < MIN_TAG_TWEETS {
                continue;
            }
            // The tag's own words count as much as its busiest context word.
            let busiest = words.values().copied().fold(1.0f32, f32::max);
            for word in segmenter.segment(&key).into_iter().filter(|w| w.chars().count() > 1 && !is_stopword(w)) {
                *words.entry(word).or_default() += busiest;
            }
            let weighted: Vec<(String, f32)> = words
                .into_iter()
                .map(|(word, tf)| {
                    let idf = corpus.idf.get(&word).copied().unwrap_or(1.0);
                    (word, (1.0 + tf.ln()) * idf)
                })
                .collect();
            let norm = weighted.iter().map(|(_, w)| w * w).sum::<f32>().sqrt().max(f32::EPSILON);
            let index = corpus.tags.len() as u32;
            let spelling = spellings.into_iter().max_by(|a, b| a.1.cmp(&b.1).then(b.0.cmp(&a.0))).map(|(s, _)| s);
            corpus.tags.push(spelling.unwrap_or(key));
            corpus.counts.push(tweets);
            for (word, weight) in weighted {
                postings.entry(word).or_default().push((index, weight / norm));
            }
        }
        for list in postings.values_mut() {
            list.sort_by(|a, b| b.1.total_cmp(&a.1));
            list.truncate(MAX_POSTINGS);
        }
        corpus.postings = postings;
        corpus
    }

    /// Tags in the corpus.
    pub fn len(&self) -> usize {
        self.tags.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tags.is_empty()
    }

    /// The `k` tags whose profiles best match `words` (lower-cased content words).
    pub fn suggest(&self, words: &[String], k: usize) -> Vec<CorpusMatch> {
        let mut query: HashMap<&str, f32> = HashMap::new();
        for word in words {
            *query.entry(word.as_str()).or_default() += 1.0;
        }
        let weighted: Vec<(&str, f32)> =
            query.into_iter().filter_map(|(word, tf)| Some((word, (1.0 + tf.ln()) * self.idf.get(word)?))).collect();
        let norm = weighted.iter().map(|(_, w)| w * w).sum::<f32>().sqrt();
        if norm == 0.0 {
            return Vec::new();
        }
        let mut scores: HashMap<u32, f32> = HashMap::new();
        for (word, weight) in weighted {
            for &(tag, tag_weight) in self.postings.get(word).map(Vec::as_slice).unwrap_or_default() {
                *scores.entry(tag).or_default() += weight / norm * tag_weight;
            }
        }
        let mut ranked: Vec<(u32, f32)> = scores.into_iter().collect();
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        ranked
            .into_iter()
            .take(k)
            .map(|(tag, score)| CorpusMatch {
                spelling: self.tags[tag as usize].clone(),
                score: score.clamp(0.0, 1.0),
                tweets: self.counts[tag as usize],
            })
            .collect()
    }

    /// The most used tags, most used first (the popularity baseline of the evaluation).
    pub fn most_used(&self, k: usize) -> Vec<String> {
        let mut order: Vec<usize> = (0..self.tags.len()).collect();
        order.sort_by(|&a, &b| self.counts[b].cmp(&self.counts[a]).then(self.tags[a].cmp(&self.tags[b])));
        order.into_iter().take(k).map(|i| self.tags[i].clone()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_draft_finds_the_tag_of_tweets_like_it() {
        let tweets = "Sunset at the beach #summer\nHot beach day #summer\nBeach waves again #summer\n\
                      New phone launch #tech\nPhone battery review #tech\nGadget phone news #tech\nlonely #rare";
        let corpus = TagCorpus::build(tweets, &WordSegmenter::from_counts("", ""));
        assert_eq!(corpus.len(), 2);
        let found = corpus.suggest(&content_words("a day at the beach", 100), 5);
        assert_eq!(found[0].spelling, "summer");
        assert!(found.iter().all(|m| m.spelling != "rare"));
        assert!(corpus.suggest(&[], 5).is_empty());
        assert_eq!(corpus.most_used(1).len(), 1);
    }
}
