//! The assistant page in real Chromium (Debian's, over chromedriver) against a real `eiq serve`
//! in development mode on the default models:
//!
//! - **first load**, with an empty browser cache: bytes transferred for the page itself (HTML, CSS,
//!   modules) and for the API calls it makes to fill in, and the times Chromium's performance
//!   timeline records: DOM interactive, DOMContentLoaded, and `eiq:interactive` (the page's own
//!   mark once platforms and accounts are in, when a user can work); then a reload (304s);
//! - **keystroke → gate answer on screen**: one character typed, then the time until the gate
//!   panel shows the answer for the new text (debounce included, painted), over `--keystrokes`
//!   keystrokes, each after the previous answer (p50, p90, max).
//!
//! `cargo run --release -p eiq-benches --bin page_latency` (build `eiq` first: `cargo build --release`).

// The page tests' harness; they use more of it than this benchmark does.
#[allow(dead_code)]
#[path = "../../../api/tests/common/browser.rs"]
mod browser;

use std::path::PathBuf;
use std::time::Duration;

use clap::Parser;
use eiq_benches::{Server, eiq_binary, percentile, ready};
use serde_json::Value;

#[derive(Parser)]
struct Args {
    /// Keystrokes timed.
    #[arg(long, default_value_t = 50)]
    keystrokes: usize,
    /// The `eiq` binary [default: beside this one].
    #[arg(long)]
    eiq: Option<PathBuf>,
}

/// Typed one character at a time; real post text.
const TEXT: &str = "Spring is here and our new collection is finally live. Come see the colours in store this weekend!";

/// Appends one character as a keystroke would (an `input` event), then resolves, after the next
/// paint, with the milliseconds until the gate panel answers the new text's revision.
const KEYSTROKE: &str = r#"
const [character, done] = arguments;
const decision = document.getElementById('gate-decision');
const area = document.getElementById('text');
const before = Number(decision.dataset.revision);
const started = performance.now();
const observer = new MutationObserver(() => {
  if (Number(decision.dataset.revision) > before) {
    observer.disconnect();
    requestAnimationFrame(() => done(performance.now() - started));
  }
});
observer.observe(decision, { attributes: true, attributeFilter: ['data-revision'] });
area.value += character;
area.dispatchEvent(new InputEvent('input', { bubbles: true, data: character, inputType: 'insertText' }));
"#;

/// Bytes and milliseconds of the current page load from the performance timeline.
const LOAD: &str = r#"
const navigation = performance.getEntriesByType('navigation')[0];
const resources = performance.getEntriesByType('resource');
const page = resources.filter(r => r.initiatorType !== 'fetch');
const api = resources.filter(r => r.initiatorType === 'fetch');
const sum = (entries, key) => entries.reduce((total, e) => total + e[key], 0);
const mark = performance.getEntriesByName('eiq:interactive')[0];
return {
  page_transferred: navigation.transferSize + sum(page, 'transferSize'),
  page_decoded: navigation.decodedBodySize + sum(page, 'decodedBodySize'),
  page_files: 1 + page.length,
  api_transferred: sum(api, 'transferSize'),
  api_calls: api.length,
  dom_interactive_ms: navigation.domInteractive,
  dom_content_loaded_ms: navigation.domContentLoadedEventEnd,
  interactive_ms: mark ? mark.startTime : null,
};
"#;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let eiq = eiq_binary(args.eiq)?;
    let dir = tempfile::tempdir()?;
    let server = Server::spawn(&eiq, &dir.path().join("data"), &["--rate-limit-per-second", "0"])?;
    ready(std::slice::from_ref(&server)).await?;
    let browser = browser::Browser::open(&dir.path().join("screenshots")).await;

    browser.goto(&format!("{}/", server.base)).await;
    report("first load (empty cache)", &browser).await;
    browser.client.refresh().await?;
    report("reload (revalidated)", &browser).await;

    // The first answer warms the models' queues; then one keystroke at a time.
    let mut timings = Vec::with_capacity(args.keystrokes);
    for (i, character) in TEXT.chars().cycle().take(args.keystrokes + 1).enumerate() {
        let elapsed = browser.client.execute_async(KEYSTROKE, vec![Value::from(character.to_string())]).await?;
        if i > 0 {
            timings.push(Duration::from_secs_f64(elapsed.as_f64().unwrap_or_default() / 1000.0));
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    timings.sort();
    println!(
        "keystroke → gate answer on screen, {} keystrokes (120 ms debounce included): p50 {:.0} ms, p90 {:.0} ms, max {:.0} ms",
        timings.len(),
        percentile(&timings, 0.5).as_secs_f64() * 1000.0,
        percentile(&timings, 0.9).as_secs_f64() * 1000.0,
        timings.last().copied().unwrap_or_default().as_secs_f64() * 1000.0,
    );
    browser.close().await;
    Ok(())
}

/// Waits until the page is interactive, then prints its load's figures.
async fn report(label: &str, browser: &browser::Browser) {
    let interactive = "performance.getEntriesByName('eiq:interactive').length";
    browser.until("the page interactive", interactive, Duration::from_secs(30)).await;
    let load = browser.run(LOAD, vec![]).await;
    println!(
        "{label}: page {} files, {} bytes transferred ({} decoded); {} API calls, {} bytes; \
         DOM interactive {:.0} ms, DOMContentLoaded {:.0} ms, eiq:interactive {:.0} ms",
        load["page_files"],
        load["page_transferred"],
        load["page_decoded"],
        load["api_calls"],
        load["api_transferred"],
        load["dom_interactive_ms"].as_f64().unwrap_or_default(),
        load["dom_content_loaded_ms"].as_f64().unwrap_or_default(),
        load["interactive_ms"].as_f64().unwrap_or(f64::NAN),
    );
}
