//! Our twitter-text against the reference implementation (npm `twitter-text` 3.1.0, pinned with
//! its dependencies by `twitter_text_peer/package-lock.json`), run by node on the same texts:
//! 50,000 real tweets (SemEval-2017 4A training, full of t.co links, hashtags and mentions) and
//! 20,000 seeded texts assembled from the pieces that decide where entities start and end.
//!
//! Hashtags, mentions and URLs must agree on every text. The weighted length must agree on every
//! text whose multi-code-point emoji both sides see alike; the others (sequences newer than the
//! reference's Twemoji 11, which X now counts as one emoji) are counted and printed.

use std::path::PathBuf;
use std::process::Command;

use eiq_datasets::twitter_text::{
    Entity, X_WEIGHTS, emoji_sequences, extract_hashtags, extract_mentions, extract_urls, has_invalid_characters,
    weighted_length,
};
use eiq_datasets::{SplitMix64, load_semeval_dir};
use serde_json::Value;

const PIECES: &[&str] = &[
    "#",
    "＃",
    "@",
    "＠",
    "http://",
    "https://",
    "HTTPS://",
    "www.",
    ".com",
    ".co",
    ".jp",
    ".рус",
    ".xn--p1ai",
    "xn--",
    "t.co/",
    "/",
    "?",
    "=",
    "&",
    "(",
    ")",
    ".",
    "-",
    "_",
    ":",
    "://",
    "a",
    "Z",
    "9",
    "é",
    "日本",
    "ü",
    " ",
    "\n",
    "\u{200D}",
    "\u{FE0F}",
    "\u{20E3}",
    "👍",
    "🏽",
    "🇯🇵",
    "👨\u{200D}👩\u{200D}👧",
    "©",
    "RT",
    "rt:",
    "$",
    "!",
    "'",
    "\u{202A}",
    "\u{FEFF}",
    "\u{3002}",
    "example",
    "google",
    "comx",
    "1",
    "e\u{301}",
    "❤",
    "~",
    "+",
    "%20",
    "[",
    "]",
    "\u{3000}",
    "ǅ",
    "ß",
    "ـ",
    "\u{200C}",
    "・",
];

fn here(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(path)
}

fn corpus() -> Vec<String> {
    let mut texts: Vec<String> =
        load_semeval_dir(&here("semeval2017-task4a")).unwrap().examples.into_iter().map(|e| e.text).collect();
    let mut rng = SplitMix64::new(0x7717_7e47);
    for _ in 0..20_000 {
        let pieces = 1 + rng.next_u64() % 24;
        let text: String =
            (0..pieces).map(|_| PIECES[(rng.next_u64() % PIECES.len() as u64) as usize]).collect::<Vec<_>>().concat();
        texts.push(text);
    }
    texts
}

/// Installs the pinned reference (npm's cache makes later runs quick) and runs it on `texts`.
fn reference(texts: &[String]) -> Vec<Value> {
    let work = tempfile::tempdir().unwrap();
    for file in ["package.json", "package-lock.json", "peer.js"] {
        std::fs::copy(here("tests/twitter_text_peer").join(file), work.path().join(file)).unwrap();
    }
    run(Command::new("npm").args(["ci", "--ignore-scripts", "--no-audit", "--no-fund"]).current_dir(work.path()));
    let input = work.path().join("texts.json");
    std::fs::write(&input, serde_json::to_vec(texts).unwrap()).unwrap();
    let output = run(Command::new("node").arg("peer.js").arg(&input).current_dir(work.path()));
    serde_json::from_slice(&output).unwrap()
}

fn run(command: &mut Command) -> Vec<u8> {
    let output = command.output().unwrap_or_else(|err| panic!("{command:?} did not start: {err}"));
    assert!(output.status.success(), "{command:?}: {}", String::from_utf8_lossy(&output.stderr));
    output.stdout
}

fn strings(value: &Value) -> Vec<String> {
    value.as_array().unwrap().iter().map(|v| v.as_str().unwrap().to_string()).collect()
}

fn values(entities: impl IntoIterator<Item = Entity>) -> Vec<String> {
    entities.into_iter().map(|entity| entity.value).collect()
}

#[test]
fn extraction_and_weighted_length_match_the_reference_implementation() {
    let texts = corpus();
    let answers = reference(&texts);
    assert_eq!(answers.len(), texts.len());
    let (mut entity_mismatches, mut length_mismatches, mut emoji_differences) = (Vec::new(), Vec::new(), Vec::new());
    for (text, answer) in texts.iter().zip(&answers) {
        let ours = [values(extract_hashtags(text)), values(extract_mentions(text)), values(extract_urls(text))];
        let theirs = [strings(&answer["hashtags"]), strings(&answer["mentions"]), strings(&answer["urls"])];
        if ours != theirs {
            entity_mismatches.push(format!("{text:?}: ours {ours:?}, reference {theirs:?}"));
        }
        let normalized: String = unicode_nfc(text);
        if values(emoji_sequences(&normalized)) != strings(&answer["emoji"]) {
            emoji_differences.push(format!("{normalized:?}: reference {}", answer["emoji"]));
            continue;
        }
        let length = weighted_length(text, &X_WEIGHTS);
        let valid = length > 0 && length <= 280 && !has_invalid_characters(&normalized);
        if Some(length as u64) != answer["weighted_length"].as_u64() || Some(valid) != answer["valid"].as_bool() {
            length_mismatches.push(format!("{text:?}: ours {length} {valid}, reference {answer}"));
        }
    }
    println!(
        "{} texts; {} with emoji the reference's Twemoji 11 splits differently, such as {:#?}",
        texts.len(),
        emoji_differences.len(),
        &emoji_differences[..emoji_differences.len().min(8)]
    );
    assert!(
        entity_mismatches.is_empty(),
        "{} entity mismatches: {:#?}",
        entity_mismatches.len(),
        &entity_mismatches[..entity_mismatches.len().min(20)]
    );
    assert!(
        length_mismatches.is_empty(),
        "{} length mismatches: {:#?}",
        length_mismatches.len(),
        &length_mismatches[..length_mismatches.len().min(20)]
    );
    assert!(emoji_differences.len() < texts.len() / 50, "{} emoji differences", emoji_differences.len());
}

fn unicode_nfc(text: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    text.nfc().collect()
}
