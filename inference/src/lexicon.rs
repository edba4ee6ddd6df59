//! Word-list detectors (profanity, tenant blocklists) that see through common obfuscation.
//!
//! Matching works on words, never across word boundaries ("class assignment" is clean). Each word
//! is canonicalised: lower-case, l33t digits and symbols read as letters (`$h1t`), separators
//! inside it dropped (`f.u.c.k`, `s-h-i-t`), and a run of single letters read as one word
//! (`f u c k`). Repeated letters are compared by runs, so `fuuuuck` matches `fuck` while `as` does
//! not match `ass` (a run may be longer than the listed word's, never shorter). Entries of several
//! words match the same number of consecutive words. Every match reports its byte span.
//!
//! Texts and lists both come from clients, so the cost must not grow faster than the text. Each
//! word is canonicalised once. From each word, a window grows word by word only while its letters
//! still begin some entry's letters: the entries are kept sorted by their letters, so each letter
//! narrows the range of entries sharing the window's letters by binary search (a trie without
//! pointers, cheap to build per request from an inline policy). A word therefore costs at most the
//! longest entry's letters and words, each letter a binary search, plus a comparison of runs with
//! each distinct spelling of a window's letters, whatever the text's length. Callers that take
//! lists from clients bound all three (`Policy::validate` in the API crate).

use std::collections::HashSet;
use std::ops::Range;

/// One match: the listed entry and where it stands in the text (byte offsets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LexiconMatch {
    pub entry: String,
    pub span: Range<usize>,
}

/// A listed entry, canonicalised.
#[derive(Debug, Clone)]
struct Entry {
    /// The distinct-letter sequence (consecutive repeats removed).
    letters: Vec<char>,
    /// Each letter's run length.
    runs: Vec<u32>,
    /// Whitespace-separated words in the entry as listed.
    words: usize,
    /// As listed.
    text: String,
}

#[derive(Debug, Clone, Default)]
pub struct Lexicon {
    /// Sorted by letters; entries with the same letters in the order a match should name them.
    entries: Vec<Entry>,
    longest_entry_words: usize,
    /// Entries listed with letters in them, duplicates included.
    listed: usize,
}

impl Lexicon {
    /// The profanity word list (`profanity-wordlist`) from the model cache, or why it is
    /// unavailable (`eiq models fetch profanity-wordlist`).
    pub fn load_profanity(catalogue: &eiq_models::Catalogue, cache: &eiq_models::ModelCache) -> Result<Self, String> {
        const ID: &str = "profanity-wordlist";
        let resolved = cache.resolve(catalogue, ID).map_err(|e| e.to_string())?;
        let path =
            resolved.path(eiq_models::FileRole::Wordlist).ok_or_else(|| format!("`{ID}` lists no word list file"))?;
        let text = std::fs::read_to_string(&path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        Ok(Self::from_lines(&text))
    }

    /// One entry per non-empty line, as in `better_profanity`'s word list.
    pub fn from_lines(text: &str) -> Self {
        Self::from_entries(text.lines())
    }

    pub fn from_entries<'a>(entries: impl IntoIterator<Item = &'a str>) -> Self {
        let mut parsed: Vec<Entry> = entries
            .into_iter()
            .filter_map(|entry| {
                let entry = entry.trim();
                let (letters, runs) = letters_and_runs(entry);
                (!letters.is_empty()).then(|| Entry {
                    letters,
                    runs,
                    words: entry.split_whitespace().count(),
                    text: entry.to_string(),
                })
            })
            .collect();
        let listed = parsed.len();
        // A match reports the plainest spelling of its entry (`fuck`, not `f_u_c_k`); the sort is
        // stable, so equally plain spellings keep the list's order.
        let noise = |entry: &Entry| entry.text.chars().filter(|c| !c.is_alphabetic() && !c.is_whitespace()).count();
        parsed.sort_by(|a, b| a.letters.cmp(&b.letters).then_with(|| noise(a).cmp(&noise(b))));
        // A spelling identical in letters, runs and words to an earlier one can never be named;
        // dropping it keeps a list of copies from multiplying the work at every match.
        let mut seen = HashSet::new();
        let keep: Vec<bool> = parsed.iter().map(|e| seen.insert((&e.letters, &e.runs, e.words))).collect();
        let mut keep = keep.into_iter();
        parsed.retain(|_| keep.next().unwrap_or(true));
        let longest_entry_words = parsed.iter().map(|e| e.words).max().unwrap_or(0);
        Self { entries: parsed, longest_entry_words, listed }
    }

    /// How the matcher reads `entry`: its letters with repeats removed (`F.u.u.c.k` → `fuck`) and
    /// the length of each letter's run (1, 2, 1, 1). Entries with the same letters are spellings
    /// of one word, and each distinct spelling is checked wherever a text has those letters.
    pub fn spelling(entry: &str) -> (String, Vec<u32>) {
        let (letters, runs) = letters_and_runs(entry);
        (letters.into_iter().collect(), runs)
    }

    /// Entries listed (with letters in them).
    pub fn len(&self) -> usize {
        self.listed
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Every listed entry in `text`, left to right; overlapping matches keep the longest.
    pub fn find(&self, text: &str) -> Vec<LexiconMatch> {
        let words = CanonicalWords::new(text);
        let mut scratch = Window::default();
        let mut found = Vec::new();
        let mut next = 0;
        while next < words.spans.len() {
            match self.longest_at(&words, next, &mut scratch) {
                Some((entry, count)) => {
                    let span = words.spans[next].start..words.spans[next + count - 1].end;
                    found.push(LexiconMatch { entry: entry.text.clone(), span });
                    next += count;
                }
                None => next += 1,
            }
        }
        found
    }

    /// The entry matching the most words from word `first` on, and how many words it covers.
    fn longest_at<'a>(
        &'a self,
        words: &CanonicalWords,
        first: usize,
        window: &mut Window,
    ) -> Option<(&'a Entry, usize)> {
        window.runs.clear();
        window.complete.clear();
        let mut last_letter = None;
        let mut range = 0..self.entries.len();
        'grow: for (index, word) in words.from(first).take(self.longest_entry_words).enumerate() {
            let mut pairs = word;
            // The window's letters are its words' canonical forms joined: a word starting with the
            // letter the window ends with extends that run.
            if let (Some(&(c, n)), Some(last)) = (pairs.first(), last_letter)
                && c == last
                && let Some(run) = window.runs.last_mut()
            {
                *run = run.saturating_add(n);
                pairs = &pairs[1..];
            }
            for &(c, n) in pairs {
                range = self.narrow(range, window.runs.len(), c);
                if range.is_empty() {
                    break 'grow;
                }
                window.runs.push(n);
                last_letter = Some(c);
            }
            let depth = window.runs.len();
            let spelled = self.spelled_exactly(range.clone(), depth);
            if !spelled.is_empty()
                && let Some(&last_run) = window.runs.last()
            {
                window.complete.push(Complete { words: index + 1, entries: spelled, depth, last_run });
            }
        }
        // Longest first; among entries of those letters, the first whose runs fit. Later words
        // only ever lengthened the last run of a shorter window, so its others are still in place.
        window.complete.iter().rev().find_map(|complete| {
            let settled = window.runs.get(..complete.depth.checked_sub(1)?)?;
            self.entries[complete.entries.clone()]
                .iter()
                .find(|entry| entry.words == complete.words && fits(&entry.runs, settled, complete.last_run))
                .map(|entry| (entry, complete.words))
        })
    }

    /// Those of `range` (entries sharing their first `depth` letters) whose next letter is `c`.
    fn narrow(&self, range: Range<usize>, depth: usize, c: char) -> Range<usize> {
        let entries = &self.entries[range.clone()];
        // Sorted, so shorter entries come first, then by the letter at `depth`.
        let start = entries.partition_point(|e| e.letters.get(depth).is_none_or(|&l| l < c));
        let end = entries.partition_point(|e| e.letters.get(depth).is_none_or(|&l| l <= c));
        range.start + start..range.start + end
    }

    /// Those of `range` (entries sharing their first `depth` letters) with no more letters.
    fn spelled_exactly(&self, range: Range<usize>, depth: usize) -> Range<usize> {
        let exact = self.entries[range.clone()].partition_point(|e| e.letters.len() == depth);
        range.start..range.start + exact
    }
}

/// Whether a text's runs (`settled`, then `last`) are each at least an entry's (`need`).
fn fits(need: &[u32], settled: &[u32], last: u32) -> bool {
    let Some((last_need, need)) = need.split_last() else {
        return false;
    };
    // Without an early exit the comparison vectorises: every spelling of a long window costs
    // a few instructions, not one branch per letter.
    let short = need.iter().zip(settled).fold(0, |short, (need, have)| short | u32::from(have < need));
    need.len() == settled.len() && *last_need <= last && short == 0
}

/// Scratch space for growing windows, reused across a text's words.
#[derive(Default)]
struct Window {
    /// Run lengths of the window's letters.
    runs: Vec<u32>,
    /// Windows spelling some entry's letters exactly, shortest first.
    complete: Vec<Complete>,
}

struct Complete {
    /// Words in the window.
    words: usize,
    /// The entries with exactly its letters.
    entries: Range<usize>,
    /// Letters in the window.
    depth: usize,
    /// Its last letter's run, which a following word may have lengthened since.
    last_run: u32,
}

/// The words of a text, each canonicalised once, as (letter, run length) pairs in one buffer.
struct CanonicalWords {
    /// Byte ranges of the words in the text.
    spans: Vec<Range<usize>>,
    /// Each word's pairs in `pairs`.
    bounds: Vec<Range<usize>>,
    pairs: Vec<(char, u32)>,
}

impl CanonicalWords {
    fn new(text: &str) -> Self {
        let spans = words(text);
        let mut pairs = Vec::new();
        let bounds = spans
            .iter()
            .map(|span| {
                let start = pairs.len();
                push_runs(&mut pairs, canonical(&text[span.clone()]));
                start..pairs.len()
            })
            .collect();
        Self { spans, bounds, pairs }
    }

    /// The canonical words from word `first` on.
    fn from(&self, first: usize) -> impl Iterator<Item = &[(char, u32)]> {
        self.bounds.iter().skip(first).map(|bounds| &self.pairs[bounds.clone()])
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
fn canonical(text: &str) -> impl Iterator<Item = char> + '_ {
    text.chars().flat_map(char::to_lowercase).filter_map(|c| match c {
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
}

/// The canonical letters of `text` with repeats removed, and each one's run length.
fn letters_and_runs(text: &str) -> (Vec<char>, Vec<u32>) {
    let mut pairs = Vec::new();
    push_runs(&mut pairs, canonical(text));
    pairs.into_iter().unzip()
}

/// Appends `letters` to `out` as (letter, run length) pairs, consecutive repeats as one run.
fn push_runs(out: &mut Vec<(char, u32)>, letters: impl Iterator<Item = char>) {
    let start = out.len();
    for c in letters {
        if out.len() > start
            && let Some((last, run)) = out.last_mut()
            && *last == c
        {
            *run = run.saturating_add(1);
        } else {
            out.push((c, 1));
        }
    }
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

    #[test]
    fn a_shorter_window_keeps_its_own_last_run() {
        // `as` then `sx`: the second word lengthens the `s` run of the joined letters, but the
        // one-word window `as` still has a single `s`, so it is not `ass`.
        assert!(Lexicon::from_entries(["ass", "as sxq"]).find("as sx").is_empty());
        let lexicon = Lexicon::from_entries(["as sx", "ass"]);
        let text = "as sx and ass";
        let found: Vec<&str> = lexicon.find(text).iter().map(|m| &text[m.span.clone()]).collect();
        assert_eq!(found, ["as sx", "ass"]);
    }

    #[test]
    fn duplicate_spellings_still_count_and_match() {
        let lexicon = Lexicon::from_entries(["shit", "$hit", "shit", "sh1t"]);
        assert_eq!(lexicon.len(), 4);
        let found = lexicon.find("oh $h1t");
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].entry, "shit");
    }

    /// Distinct made-up words without l33t or repeated letters: `xbyc` for 12.
    fn made_up(index: usize) -> String {
        let digits: Vec<String> =
            index.to_string().bytes().map(|d| char::from(b'a' + (d - b'0')).to_string()).collect();
        format!("x{}", digits.join("y"))
    }

    #[test]
    fn a_thousand_word_entry_costs_one_pass_over_the_text() {
        // This took 15 s when every position re-canonicalised every window up to 1,000 words.
        let words: Vec<String> = (0..1_000).map(made_up).collect();
        let long = words.join(" ");
        let lexicon = Lexicon::from_entries(words.iter().map(String::as_str).chain([long.as_str()]));
        // The long entry fails at its last word, so each word matches on its own.
        let text = format!("{} clean", words[..999].join(" "));
        let started = std::time::Instant::now();
        let found = lexicon.find(&text);
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "{:?}", started.elapsed());
        assert_eq!(found.len(), 999);
        assert!(found.iter().zip(&words).all(|(m, word)| &m.entry == word && &text[m.span.clone()] == word));
        // The whole text, when it is the entry: longest match wins.
        let found = lexicon.find(&long);
        assert_eq!(found, [LexiconMatch { entry: long.clone(), span: 0..long.len() }]);
    }

    #[test]
    fn a_dense_two_mebibyte_text_is_matched_to_its_end() {
        let mut entries: Vec<String> = (0..3_000).map(made_up).collect();
        entries.extend(["fuck", "shit", "fuck shit fuck shit fuck shit fuck xq"].map(String::from));
        let lexicon = Lexicon::from_entries(entries.iter().map(String::as_str));
        let text = "fuck shit ".repeat(210_000);
        let started = std::time::Instant::now();
        let found = lexicon.find(&text);
        assert!(started.elapsed() < std::time::Duration::from_secs(2), "{:?}", started.elapsed());
        assert_eq!(found.len(), 420_000);
        let last = found.last().unwrap();
        assert_eq!((last.entry.as_str(), last.span.clone()), ("shit", text.len() - 5..text.len() - 1));
    }

    /// The matcher before it was made linear: every window size at every word, canonicalised
    /// afresh. Slow, but plainly what the module docs say.
    fn reference_find(entries: &[&str], text: &str) -> Vec<LexiconMatch> {
        let noise = |entry: &str| entry.chars().filter(|c| !c.is_alphabetic() && !c.is_whitespace()).count();
        let mut listed: Vec<&str> =
            entries.iter().map(|e| e.trim()).filter(|e| !letters_and_runs(e).0.is_empty()).collect();
        listed.sort_by_key(|e| noise(e));
        let longest = listed.iter().map(|e| e.split_whitespace().count()).max().unwrap_or(0);
        let words = words(text);
        let (mut found, mut next) = (Vec::new(), 0);
        while next < words.len() {
            let hit = (1..=longest.min(words.len() - next)).rev().find_map(|count| {
                let joined: String =
                    words[next..next + count].iter().flat_map(|w| canonical(&text[w.clone()])).collect();
                let (letters, runs) = letters_and_runs(&joined);
                listed
                    .iter()
                    .find(|entry| {
                        let (entry_letters, entry_runs) = letters_and_runs(entry);
                        entry.split_whitespace().count() == count
                            && entry_letters == letters
                            && runs.iter().zip(&entry_runs).all(|(have, need)| have >= need)
                    })
                    .map(|entry| (entry.to_string(), count))
            });
            match hit {
                Some((entry, count)) => {
                    found.push(LexiconMatch { entry, span: words[next].start..words[next + count - 1].end });
                    next += count;
                }
                None => next += 1,
            }
        }
        found
    }

    /// A xorshift generator: random enough to explore spellings, the same on every run.
    struct Rng(u64);

    impl Rng {
        fn below(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }

        /// Up to `max_words` words glued from pieces that exercise runs, l33t, separators,
        /// single letters and characters that canonicalise to nothing.
        fn phrase(&mut self, max_words: usize) -> String {
            const PIECES: &[&str] = &[
                "as", "s", "ass", "a", "f", "u", "c", "k", "fu", "ck", "fuuck", "$h1t", "sh", "it", "!", ".", "x",
                "sss", "4", "5", "-", "💩", "é", "(", "\"",
            ];
            let words = 1 + self.below(max_words);
            (0..words)
                .map(|_| (0..1 + self.below(3)).map(|_| PIECES[self.below(PIECES.len())]).collect::<String>())
                .collect::<Vec<_>>()
                .join(if self.below(4) == 0 { "  " } else { " " })
        }
    }

    #[test]
    fn agrees_with_the_plain_matcher_on_random_texts() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        let mut matched = 0;
        for _ in 0..5_000 {
            let entries: Vec<String> = (0..1 + rng.below(6)).map(|_| rng.phrase(3)).collect();
            let entries: Vec<&str> = entries.iter().map(String::as_str).collect();
            // Listed entries among random words, so that most texts match something.
            let text: Vec<String> = (0..1 + rng.below(4))
                .map(|_| if rng.below(2) == 0 { entries[rng.below(entries.len())].to_string() } else { rng.phrase(4) })
                .collect();
            let text = text.join(" ");
            let expected = reference_find(&entries, &text);
            assert_eq!(Lexicon::from_entries(entries.iter().copied()).find(&text), expected, "{entries:?} in {text:?}");
            matched += usize::from(!expected.is_empty());
        }
        assert!(matched > 2_500, "too few cases match to compare: {matched}");
    }
}
