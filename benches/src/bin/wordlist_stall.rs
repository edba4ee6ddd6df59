//! The word-list matcher (`Lexicon::find`) on the inputs that stalled the moderation gate (issue
//! #14): a long blocklist entry against a text of the same length, a text dense with profanity,
//! the most work per word a valid policy allows, and a list of one word in thousands of spellings
//! (which validation refuses). Matching must stay linear in the text.
//! The conversion of matches to code-point spans lives in the API crate and is not timed here; its
//! unit test covers a 2 MiB text.
//!
//! `cargo run --release -p eiq-benches --bin wordlist_stall`

use std::time::{Duration, Instant};

use clap::Parser;
use eiq_benches::percentile;
use eiq_inference::Lexicon;

#[derive(Parser)]
struct Args {
    /// Timed runs of each case.
    #[arg(long, default_value_t = 21)]
    runs: usize,
}

/// Distinct made-up words without l33t or repeated letters: `xbyc` for 12.
fn made_up(index: usize) -> String {
    let digits: Vec<String> = index.to_string().bytes().map(|d| char::from(b'a' + (d - b'0')).to_string()).collect();
    format!("x{}", digits.join("y"))
}

/// Times `runs` calls of `find` on `text` and prints the median, the slowest and the matches.
fn time(name: &str, runs: usize, lexicon: &Lexicon, text: &str) {
    let mut times: Vec<Duration> = Vec::with_capacity(runs);
    let mut matches = 0;
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        matches = std::hint::black_box(lexicon.find(text)).len();
        times.push(started.elapsed());
    }
    times.sort_unstable();
    println!(
        "{name}: p50 {:.3} ms, max {:.3} ms ({} runs, {} KiB text, {} entries, {matches} matches)",
        percentile(&times, 0.5).as_secs_f64() * 1e3,
        times.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
        times.len(),
        text.len() / 1024,
        lexicon.len(),
    );
}

fn main() {
    let args = Args::parse();
    let words: Vec<String> = (0..1_000).map(made_up).collect();
    let text = words.join(" ");

    // The case: one 1,000-word entry (validation now refuses it; the matcher must not
    // care). The entry fails at its last word, so every window grows as far as it can.
    let long = format!("{} clean", words[..999].join(" "));
    let lexicon = Lexicon::from_entries([long.as_str()]);
    time("1,000-word text, one 1,000-word entry", args.runs, &lexicon, &text);

    // The worst a valid policy allows: an 8-word entry whose window grows 7 words at the start,
    // and every word of the text a one-word entry.
    let eight = format!("{} clean", words[..7].join(" "));
    let lexicon = Lexicon::from_entries(words.iter().map(String::as_str).chain([eight.as_str()]));
    time("1,000-word text, one 8-word entry + 1,000 one-word entries", args.runs, &lexicon, &text);

    // Profanity-dense: every word matches.
    let dense = "fuck shit ".repeat(1_900 * 1024 / 10);
    let lexicon = Lexicon::from_entries(words.iter().map(String::as_str).chain([
        "fuck",
        "shit",
        "fuck shit fuck shit fuck shit fuck xq",
    ]));
    time("1.9 MiB `fuck shit `, 1,003 entries", args.runs.min(5), &lexicon, &dense);

    // The most work per word a valid policy can ask for (`MAX_ENTRY_WORDS` 8, `MAX_ENTRY_BYTES`
    // 100, `MAX_SPELLINGS` 8): at every word, windows of 1 to 8 words (87 bytes at most) each spell
    // some entry's letters, in 8 spellings whose next-to-last run the text never reaches, so every
    // spelling of every window is compared nearly to its end.
    let cycle: Vec<String> = (0..8u8).map(|p| (0..10u8).map(|i| char::from(b'a' + p + i)).collect()).collect();
    let mut worst = Vec::new();
    for p in 0..8 {
        for c in 1..=8 {
            let phrase: Vec<&str> = (p..p + c).map(|i| cycle[i % 8].as_str()).collect();
            let phrase: Vec<char> = phrase.join(" ").chars().collect();
            let (head, last) = phrase.split_at(phrase.len() - 1);
            let (head, last): (String, String) = (head.iter().collect(), last.iter().collect());
            let penultimate = head.chars().last().unwrap_or('x');
            worst.extend((1..=8).map(|k| format!("{head}{}{last}", penultimate.to_string().repeat(k))));
        }
    }
    let lexicon = Lexicon::from_entries(worst.iter().map(String::as_str));
    let periodic = format!("{} ", cycle.join(" ")).repeat(1_900 * 1024 / 88);
    time("1.9 MiB, 8 windows × 8 spellings at every word (worst valid policy)", args.runs.min(5), &lexicon, &periodic);

    // One word in 10,000 spellings that differ only in runs (`fuuuuck`, `ffuuuck`, …), none of
    // which the text's plain `fuck` satisfies: every match checks the spellings of its letters.
    // `Policy::validate` refuses this list (more than 8 spellings of one word); timed to show why.
    let spellings: Vec<String> = (1..=40)
        .flat_map(|f| (1..=40).flat_map(move |u| (1..=40).map(move |c| (f, u, c))))
        .filter(|&(f, u, c)| f + u + c < 44)
        .map(|(f, u, c)| format!("{}{}{}{}", "f".repeat(f), "u".repeat(u), "c".repeat(c), "k".repeat(44 - f - u - c)))
        .take(10_000)
        .collect();
    let lexicon = Lexicon::from_entries(spellings.iter().map(String::as_str));
    let plain = "fuck ".repeat(1_500 * 1024 / 5);
    time("1.5 MiB `fuck `, 10,000 spellings of `fuck` (refused by validation)", args.runs.min(5), &lexicon, &plain);
}
