//! Word-list detectors (profanity, tenant blocklists) that see through common obfuscation.
//!
//! Matching works on words, never across word boundaries ("class assignment" is clean). Each word
//! is canonicalised: lower-case, l33t digits and symbols read as letters (`$h1t`), separators
//! inside it dropped (`f.u.c.k`, `s-h-i-t`), and a run of single letters read as one word
//! (`f u c k`). Repeated letters are compared by runs, so `fuuuuck` matches `fuck` while `as` does
//! not match `ass` (a run may be longer than the listed word's, never shorter). Entries of several
//! words match the same number of consecutive words. Every match reports its byte span.

use std::collections::HashMap;
use std::ops::Range;

/// One match: the listed entry and where it stands in the text (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexiconMatch {
    pub entry: String,
    pub span: Range<usize>,
}

#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    /// Distinct-letter sequence → (entry, run lengths, words in the entry).
    entries: HashMap<String, Vec<(String, Vec<usize>, usize)>>,
    longest_entry_words: usize,
}

impl Lexicon {
    /// One entry per non-empty line, as in `better_profanity`'s word list.
    pub fn from_lines(text: &str) -> Self {
        Self::from_entries(text.lines())
    }

    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a str>) -> Self {
        let mut lexicon = Self::default();
        for entry in entries {
            let entry = entry.trim();
            let words = entry.split_whitespace().count();
            let (letters, runs) = runs(&canonical(entry));
            if letters.is_empty() {
                continue;
            }
            lexicon.longest_entry_words = lexicon.longest_entry_words.max(words);
            lexicon.entries.entry(letters).or_default().push((entry.to_string(), runs, words));
        }
        // A match reports the plainest spelling of its entry (`fuck`, not `f_u_c_k`).
        let noise = |entry: &str| entry.chars().filter(|c| !c.is_alphabetic() && !c.is_whitespace()).count();
        for bucket in lexicon.entries.values_mut() {
            bucket.sort_by_key(|(entry, ..)| noise(entry));
        }
        lexicon
    }

    pub fn len(&self) -> usize {
        self.entries.values().map(Vec::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every listed entry in `text`, left to right; overlapping matches keep the longest.
    pub fn find(&self, text: &str) -> Vec<LexiconMatch> {
        let words = words(text);
        let mut found = Vec::new();
        let mut next = 0;
        while next < words.len() {
            let longest = (1..=self.longest_entry_words.min(words.len() - next)).rev().find_map(|count| {
                let window = &words[next..next + count];
                let joined: String = window.iter().map(|w| canonical(&text[w.clone()])).collect();
                self.lookup(&joined, count).map(|entry| (entry, count))
            });
            match longest {
                Some((entry, count)) => {
                    found.push(LexiconMatch { entry, span: words[next].start..words[next + count - 1].end });
                    next += count;
                }
                None => next += 1,
            }
        }
        found
    }

    fn lookup(&self, canonical_text: &str, word_count: usize) -> Option<String> {
        let (letters, text_runs) = runs(canonical_text);
        self.entries.get(&letters)?.iter().find_map(|(entry, entry_runs, words)| {
            let fits = *words == word_count && text_runs.iter().zip(entry_runs).all(|(have, need)| have >= need);
            fits.then(|| entry.clone())
        })
    }
}

/// Byte ranges of the words of `text`; a run of single-character words (`f u c k`) is one word.
/// Punctuation around a word is not part of it (a trailing `!` ends a sentence, it is no l33t `i`).
fn words(text: &str) -> Vec<Range<usize>> {
    let mut plain: Vec<Range<usize>> = Vec::new();
    let mut start = None;
    for (index, c) in text.char_indices().chain(std::iter::once((text.len(), ' '))) {
        match (c.is_whitespace(), start) {
            (true, Some(s)) => {
                let raw = &text[s..index];
                let inner = raw.trim_start_matches(LEADING).trim_end_matches(TRAILING);
                if !inner.is_empty() {
                    let begin = s + (raw.len() - raw.trim_start_matches(LEADING).len());
                    plain.push(begin..begin + inner.len());
                }
                start = None;
            }
            (false, None) => start = Some(index),
            _ => {}
        }
    }
    // (range, made only of single characters)
    let mut merged: Vec<(Range<usize>, bool)> = Vec::new();
    for word in plain {
        let single = text[word.clone()].chars().count() == 1;
        match merged.last_mut() {
            Some((last, true)) if single => last.end = word.end,
            _ => merged.push((word, single)),
        }
    }
    merged.into_iter().map(|(range, _)| range).collect()
}

const LEADING: &[char] = &['(', '[', '"', '\'', '#', '*'];
const TRAILING: &[char] = &['!', '?', '.', ',', ';', ':', ')', ']', '"', '\'', '*'];

/// Lower-case letters and digits of `text` with l33t read as letters; everything else dropped.
fn canonical(text: &str) -> String {
    text.chars()
        .flat_map(char::to_lowercase)
        .filter_map(|c| match c {
            '4' | '@' => Some('a'),
            '8' => Some('b'),
            '3' => Some('e'),
            '6' | '9' => Some('g'),
            '1' | '!' | '|' => Some('i'),
            '0' => Some('o'),
            '5' | '$' => Some('s'),
            '7' | '+' => Some('t'),
            c if c.is_alphanumeric() => Some(c),
            _ => None,
        })
        .collect()
}

/// The letters with consecutive repeats removed, and each run's length.
fn runs(canonical: &str) -> (String, Vec<usize>) {
    let mut letters = String::new();
    let mut lengths: Vec<usize> = Vec::new();
    let mut previous = None;
    for c in canonical.chars() {
        if Some(c) == previous {
            *lengths.last_mut().expect("a run is open") += 1;
        } else {
            letters.push(c);
            lengths.push(1);
            previous = Some(c);
        }
    }
    (letters, lengths)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lexicon() -> Lexicon {
        Lexicon::from_lines("fuck\nshit\nass\n2 girls 1 cup\n4r5e\n")
    }

    fn matched(text: &str) -> Vec<String> {
        lexicon().find(text).into_iter().map(|m| text[m.span].to_string()).collect()
    }

    #[test]
    fn sees_through_case_leet_separators_spacing_and_repeats() {
        assert_eq!(matched("What the FUCK"), ["FUCK"]);
        assert_eq!(matched("this is $h1t"), ["$h1t"]);
        assert_eq!(matched("f.u.c.k this"), ["f.u.c.k"]);
        assert_eq!(matched("s-h-i-t happens"), ["s-h-i-t"]);
        assert_eq!(matched("oh f u c k no"), ["f u c k"]);
        assert_eq!(matched("fuuuuuck!!!"), ["fuuuuuck"]);
        assert_eq!(matched("sh!t"), ["sh!t"]);
        assert_eq!(matched("what an arse"), ["arse"]);
        assert_eq!(matched("saw 2 girls 1 cup once"), ["2 girls 1 cup"]);
    }

    #[test]
    fn does_not_match_inside_or_across_innocent_words() {
        assert!(matched("class assignment on Scunthorpe").is_empty());
        assert!(matched("as far as I know").is_empty(), "`as` is not `ass`");
        assert!(matched("I passed the exam").is_empty());
        assert!(matched("").is_empty());
    }

    #[test]
    fn spans_point_at_the_original_bytes() {
        let text = "Café 💩 SHIT ok";
        let found = lexicon().find(text);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].span.clone()], "SHIT");
        assert_eq!(found[0].entry, "shit");
    }
}
