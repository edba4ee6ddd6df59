//! Moderation policies: per-category `review` and `block` thresholds, a blocklist and an
//! allowlist. Named policies come from a TOML file (the tenant layer will store them later);
//! a request may also carry one inline. A bad policy is refused with the field that is wrong.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

use eiq_inference::Lexicon;
use serde::Deserialize;

use crate::error::ServiceError;
use crate::limits::excerpt;

/// `review` and `block` probabilities in [0, 1]; a score at or above one crosses it.
#[derive(Debug, Clone, Copy, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Thresholds {
    #[serde(default)]
    pub review: Option<f32>,
    #[serde(default)]
    pub block: Option<f32>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// Category (`offensive`, `hate`, `irony`, `profanity`, or `task.label` such as
    /// `sentiment.negative`) → thresholds.
    #[serde(default)]
    pub thresholds: BTreeMap<String, Thresholds>,
    /// Words or phrases that always block (matched like profanity: case and obfuscation insensitive).
    #[serde(default)]
    pub blocklist: Vec<String>,
    /// Words or phrases never reported by the word lists (a brand name that looks like profanity).
    #[serde(default)]
    pub allowlist: Vec<String>,
    /// How far back the `duplicate` category looks for the same account's posts, in days
    /// (default [`DEFAULT_DUPLICATE_WINDOW_DAYS`]).
    #[serde(default)]
    pub duplicate_window_days: Option<u32>,
}

/// The `duplicate` category's thresholds when a policy gives none: review at cosine 0.95.
pub const DEFAULT_DUPLICATE_REVIEW: f32 = 0.95;
pub const DEFAULT_DUPLICATE_WINDOW_DAYS: u32 = 30;
/// Longest duplicate window a policy may ask for (ten years).
pub const MAX_DUPLICATE_WINDOW_DAYS: u32 = 3_650;

/// Most entries in a blocklist or allowlist: a policy is configuration, not a corpus.
pub const MAX_LIST_ENTRIES: usize = 10_000;
/// Longest blocklist or allowlist entry, in bytes: a word or a phrase, not a passage. Matching
/// costs each word of a text up to the longest entry, so this bounds the cost per word.
pub const MAX_ENTRY_BYTES: usize = 100;
/// Most words in one blocklist or allowlist entry (separated by whitespace).
pub const MAX_ENTRY_WORDS: usize = 8;
/// Most distinct spellings of one word in a list. The lists read through case, l33t, separators
/// and repeated letters, so `shit`, `$h1t` and `s.h.i.t` are one spelling, `shit` and `shiit` two;
/// each spelling is checked wherever a text has the word's letters, so this bounds that work.
pub const MAX_SPELLINGS: usize = 8;

impl Policy {
    /// The built-in policy `default`.
    pub fn default_policy() -> Self {
        let pair = |review, block| Thresholds { review: Some(review), block };
        Self {
            thresholds: BTreeMap::from([
                ("offensive".to_string(), pair(0.5, Some(0.9))),
                ("hate".to_string(), pair(0.5, Some(0.9))),
                ("profanity".to_string(), pair(0.5, None)),
            ]),
            blocklist: Vec::new(),
            allowlist: Vec::new(),
            duplicate_window_days: None,
        }
    }

    /// The `duplicate` category's thresholds: the policy's, or review at 0.95.
    pub fn duplicate_thresholds(&self) -> Thresholds {
        self.thresholds
            .get("duplicate")
            .copied()
            .unwrap_or(Thresholds { review: Some(DEFAULT_DUPLICATE_REVIEW), block: None })
    }

    pub fn duplicate_window_days(&self) -> u32 {
        self.duplicate_window_days.unwrap_or(DEFAULT_DUPLICATE_WINDOW_DAYS)
    }

    /// Checks every threshold, list and (when known) category; `field` prefixes the field names
    /// in errors.
    pub fn validate(&self, field: &str, categories: Option<&[String]>) -> Result<(), ServiceError> {
        for (category, thresholds) in &self.thresholds {
            if let Some(categories) = categories
                && !categories.contains(category)
            {
                return Err(invalid(
                    format!("{field}.thresholds.{category}"),
                    format!("unknown category; known: {}", categories.join(", ")),
                ));
            }
            for (name, value) in [("review", thresholds.review), ("block", thresholds.block)] {
                if let Some(value) = value
                    && !(0.0..=1.0).contains(&value)
                {
                    return Err(invalid(
                        format!("{field}.thresholds.{category}.{name}"),
                        format!("{value} is outside [0, 1]"),
                    ));
                }
            }
            if let (Some(review), Some(block)) = (thresholds.review, thresholds.block)
                && review > block
            {
                return Err(invalid(
                    format!("{field}.thresholds.{category}"),
                    format!("review ({review}) must not exceed block ({block})"),
                ));
            }
        }
        if let Some(days) = self.duplicate_window_days
            && !(1..=MAX_DUPLICATE_WINDOW_DAYS).contains(&days)
        {
            return Err(invalid(
                format!("{field}.duplicate_window_days"),
                format!("{days} is outside 1–{MAX_DUPLICATE_WINDOW_DAYS}"),
            ));
        }
        for (name, list) in [("blocklist", &self.blocklist), ("allowlist", &self.allowlist)] {
            if list.len() > MAX_LIST_ENTRIES {
                return Err(invalid(
                    format!("{field}.{name}"),
                    format!("{} entries; at most {MAX_LIST_ENTRIES}", list.len()),
                ));
            }
            let mut spellings = Spellings::new();
            for (index, entry) in list.iter().enumerate() {
                let words = entry.split_whitespace().count();
                let problem = if !entry.chars().any(char::is_alphanumeric) {
                    "has no letters or digits".to_string()
                } else if entry.len() > MAX_ENTRY_BYTES {
                    format!("{} bytes; at most {MAX_ENTRY_BYTES}", entry.len())
                } else if words > MAX_ENTRY_WORDS {
                    format!("{words} words; at most {MAX_ENTRY_WORDS}")
                } else {
                    let (letters, runs) = Lexicon::spelling(entry);
                    let (first, distinct) = spellings.entry(letters).or_insert_with(|| (index, HashSet::new()));
                    distinct.insert((runs, words));
                    if distinct.len() <= MAX_SPELLINGS {
                        continue;
                    }
                    format!(
                        "more than {MAX_SPELLINGS} spellings of the word of {field}.{name}[{first}]; case, l33t, \
                         separators and repeated letters are read through already"
                    )
                };
                return Err(invalid(format!("{field}.{name}[{index}]"), format!("{problem} (`{}`)", excerpt(entry))));
            }
        }
        Ok(())
    }
}

/// An invalid field: its path as `param`, and in the message too (`policy.blocklist[0]: …`).
fn invalid(param: String, problem: String) -> ServiceError {
    let message = format!("{param}: {problem}");
    ServiceError::invalid(param, message)
}

/// A list's words by letters: the first entry with them and their distinct (runs, words) spellings.
type Spellings = HashMap<String, (usize, HashSet<(Vec<u32>, usize)>)>;

/// A policy's blocklist and allowlist, ready for matching.
#[derive(Debug, Clone)]
pub struct WordLists {
    pub blocklist: Lexicon,
    pub allowlist: Lexicon,
}

impl Policy {
    pub fn word_lists(&self) -> WordLists {
        let compile = |entries: &[String]| Lexicon::from_entries(entries.iter().map(String::as_str));
        WordLists { blocklist: compile(&self.blocklist), allowlist: compile(&self.allowlist) }
    }
}

/// The named policies: `default` is built in; a file may add more or replace it. Their word
/// lists are compiled once, here, not per request.
#[derive(Debug, Clone)]
pub struct PolicyBook {
    policies: BTreeMap<String, (Policy, WordLists)>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PolicyFile {
    policies: BTreeMap<String, Policy>,
}

impl PolicyBook {
    pub fn builtin() -> Self {
        let default = Policy::default_policy();
        let lists = default.word_lists();
        Self { policies: BTreeMap::from([("default".to_string(), (default, lists))]) }
    }

    /// The built-in policies plus those of a TOML file of `[policies.<name>]` tables; categories
    /// are checked when known (they depend on the model's heads).
    pub fn from_file(path: &Path, categories: Option<&[String]>) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))?;
        let file: PolicyFile = toml::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut book = Self::builtin();
        for (name, policy) in file.policies {
            policy.validate(&format!("policies.{name}"), categories).map_err(|e| format!("{}: {e}", path.display()))?;
            let lists = policy.word_lists();
            book.policies.insert(name, (policy, lists));
        }
        Ok(book)
    }

    pub fn get(&self, name: &str) -> Result<(&Policy, &WordLists), ServiceError> {
        self.policies.get(name).map(|(policy, lists)| (policy, lists)).ok_or_else(|| {
            let known: Vec<&str> = self.policies.keys().map(String::as_str).collect();
            invalid("policy".into(), format!("no policy named `{}`; configured: {}", excerpt(name), known.join(", ")))
        })
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.policies.keys().map(String::as_str)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn categories() -> Vec<String> {
        ["offensive", "hate", "profanity", "duplicate"].map(String::from).to_vec()
    }

    #[test]
    fn the_default_policy_is_valid() {
        Policy::default_policy().validate("policy", Some(&categories())).unwrap();
    }

    #[test]
    fn errors_name_the_field() {
        let mut policy = Policy::default_policy();
        policy.thresholds.insert("offensive".into(), Thresholds { review: Some(1.5), block: None });
        let err = policy.validate("policy", Some(&categories())).unwrap_err().to_string();
        assert!(err.contains("policy.thresholds.offensive.review") && err.contains("[0, 1]"), "{err}");

        policy.thresholds.insert("offensive".into(), Thresholds { review: Some(0.9), block: Some(0.5) });
        let err = policy.validate("policy", Some(&categories())).unwrap_err().to_string();
        assert!(err.contains("must not exceed"), "{err}");

        policy.thresholds.insert("nudity".into(), Thresholds { review: Some(0.5), block: None });
        let err = policy.validate("policy", Some(&categories())).unwrap_err().to_string();
        assert!(err.contains("policy.thresholds.nudity") && err.contains("hate"), "{err}");

        let policy = Policy { blocklist: vec!["  ".into()], ..Policy::default_policy() };
        let err = policy.validate("policy", Some(&categories())).unwrap_err().to_string();
        assert!(err.contains("policy.blocklist[0]"), "{err}");
    }

    #[test]
    fn list_entries_are_bounded_in_bytes_words_and_count() {
        let validate = |policy: Policy| policy.validate("policy", Some(&categories()));
        // A 1,000-word entry (6 KB) once took the gate 15 s against a text of the same length.
        let passage: String = (0..1_000).map(|i| format!("w{i:04}x")).collect::<Vec<_>>().join(" ");
        let policy =
            Policy { blocklist: vec!["ok".into(), "fine".into(), "good".into(), passage], ..Policy::default_policy() };
        let err = validate(policy).unwrap_err().to_string();
        assert!(err.contains("policy.blocklist[3]") && err.contains("at most 100"), "{err}");
        assert!(err.contains("(`w0000x w0001x") && err.len() < 200, "the entry is echoed only in part: {err}");

        let nine_words = "a b c d e f g h i".to_string();
        let policy = Policy { allowlist: vec![nine_words], ..Policy::default_policy() };
        let err = validate(policy).unwrap_err().to_string();
        assert!(err.contains("policy.allowlist[0]") && err.contains("9 words; at most 8"), "{err}");

        let longest = Policy {
            blocklist: vec!["é".repeat(MAX_ENTRY_BYTES / 2), "a b c d e f g h".into()],
            ..Policy::default_policy()
        };
        validate(longest).unwrap();
        // Spellings the matcher reads as one do not count against the spellings of a word.
        let same = ["shit", "SHIT", "$h1t", "s.h.i.t", "sh!t"].map(String::from).to_vec();
        let stretched: Vec<String> = (1..=MAX_SPELLINGS).map(|n| format!("sh{}t", "i".repeat(n))).collect();
        let policy = Policy { blocklist: [same, stretched.clone()].concat(), ..Policy::default_policy() };
        validate(policy).unwrap();
        let policy = Policy {
            blocklist: [vec!["ok".to_string(), "s h i t".into()], stretched].concat(),
            ..Policy::default_policy()
        };
        let err = validate(policy).unwrap_err().to_string();
        assert!(err.contains("policy.blocklist[9]: more than 8 spellings of the word of policy.blocklist[1]"), "{err}");

        let policy = Policy { blocklist: vec!["spam".into(); MAX_LIST_ENTRIES + 1], ..Policy::default_policy() };
        let err = validate(policy).unwrap_err().to_string();
        assert!(err.contains("policy.blocklist: 10001 entries; at most 10000"), "{err}");
    }

    #[test]
    fn a_policy_file_adds_named_policies_and_rejects_bad_ones() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("policies.toml");
        std::fs::write(
            &path,
            "[policies.strict]\nblocklist = [\"competitorco\"]\n[policies.strict.thresholds]\noffensive = { review = 0.3, block = 0.6 }\n",
        )
        .unwrap();
        let book = PolicyBook::from_file(&path, Some(&categories())).unwrap();
        assert_eq!(book.names().collect::<Vec<_>>(), ["default", "strict"]);
        let (strict, lists) = book.get("strict").unwrap();
        assert_eq!(strict.blocklist, ["competitorco"]);
        assert_eq!(lists.blocklist.find("try CompetitorCo").len(), 1);
        assert!(book.get("lenient").unwrap_err().to_string().contains("default, strict"));

        std::fs::write(&path, "[policies.bad.thresholds]\nhate = { review = 2 }\n").unwrap();
        let err = PolicyBook::from_file(&path, Some(&categories())).unwrap_err();
        assert!(err.contains("policies.bad.thresholds.hate.review"), "{err}");
    }
}
