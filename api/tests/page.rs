//! The assistant page in real Chromium (Debian's, over chromedriver) against a real `eiq serve`
//! on the real models, as a social media manager uses it: first in development mode (no key),
//! then, once the tenant exists, with the keys of its editor, approver and admin. One server and
//! one flow, in order, because creating the tenant ends development mode for the whole server.
//! Screenshots of the main states go to `<target>/tmp/page-screenshots/`.

mod common;

use std::path::{Path, PathBuf};
use std::time::Duration;

use common::browser::Browser;
use common::history::{import, synthetic_csv, wait_indexed};
use common::tenants::{directory, key_of, tenant_with_keys};
use common::{TestServer, start, wait_ready};
use eiq_datasets::SyntheticConfig;
use eiq_service::tenancy::Role;
use eiq_service::tenants::Plan;
use serde_json::{Value, json};

const SHORT: Duration = Duration::from_secs(30);
/// Captions run a language model on two shared cores.
const LONG: Duration = Duration::from_secs(180);

/// axe-core, pinned by version and by the sha256 of its npm tarball, packed once with `npm pack`
/// into the model cache's folder beside the models.
const AXE_VERSION: &str = "4.14.1";
const AXE_SHA256: &str = "e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745";

fn screenshots() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("page-screenshots")
}

/// `axe.min.js` of the pinned axe-core.
fn axe_source() -> String {
    use sha2::Digest;
    let cache = eiq_models::ModelCache::default_root().join("tools");
    let tarball = cache.join(format!("axe-core-{AXE_VERSION}.tgz"));
    if !tarball.exists() {
        std::fs::create_dir_all(&cache).unwrap();
        let status = std::process::Command::new("npm")
            .args(["pack", &format!("axe-core@{AXE_VERSION}"), "--silent", "--pack-destination"])
            .arg(&cache)
            .stdout(std::process::Stdio::null())
            .status()
            .expect("npm (the README's prerequisites)");
        assert!(status.success(), "npm pack axe-core@{AXE_VERSION}: {status}");
    }
    let bytes = std::fs::read(&tarball).unwrap();
    let digest = hex::encode(sha2::Sha256::digest(&bytes));
    assert_eq!(digest, AXE_SHA256, "{} is not the pinned axe-core", tarball.display());
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.path().unwrap().as_os_str() == "package/axe.min.js" {
            let mut source = String::new();
            std::io::Read::read_to_string(&mut entry, &mut source).unwrap();
            return source;
        }
    }
    panic!("axe-core's tarball has no package/axe.min.js");
}

/// Runs axe-core in the page; fails on any serious or critical violation, naming each.
async fn accessible(browser: &Browser, axe: &str, state: &str) {
    browser.run(axe, vec![]).await;
    let violations = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(r.violations.map(v => ({ id: v.id, impact: v.impact, help: v.help,
                                                        nodes: v.nodes.map(n => n.target.join(' ')).slice(0, 5) }))))
               .catch(e => done([{ id: 'axe-error', impact: 'critical', help: String(e), nodes: [] }]));",
            vec![],
        )
        .await
        .unwrap();
    let serious: Vec<&Value> = violations
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| matches!(v["impact"].as_str(), Some("serious" | "critical")))
        .collect();
    assert!(serious.is_empty(), "axe-core, {state}: {}", serde_json::to_string_pretty(&serious).unwrap());
}

/// A year of synthetic history for two accounts, imported in development mode into tenant
/// `default` (the tenant the keyed half of the test creates, so its keys see the same history).
async fn seed_history(server: &TestServer, dir: &Path) {
    let csv = synthetic_csv(&SyntheticConfig { accounts: 2, posts_per_account: 150, ..Default::default() }, dir);
    let (status, body) = import(server, "default", "format=csv", csv).await;
    assert_eq!(status, 200, "{body}");
    wait_indexed(server, "default", Duration::from_secs(120)).await;
}

/// A PNG with two lines of text, as a file the browser can pick.
fn poster(dir: &Path) -> PathBuf {
    use eiq_inference::ocr::render::{render_lines, system_font};
    let font = system_font("DejaVuSans-Bold.ttf").unwrap();
    let path = dir.join("poster.png");
    render_lines(&font, &["SUMMER SALE", "FREE SHIPPING"], 64.0, 1080, 1080).save(&path).unwrap();
    path
}

async fn text_of(browser: &Browser, css: &str) -> String {
    let script = format!("return document.querySelector({css:?})?.textContent ?? ''");
    browser.run(&script, vec![]).await.as_str().unwrap_or_default().to_string()
}

async fn set_key(browser: &Browser, key: &str) {
    browser.clear("#api-key").await;
    browser.type_into("#api-key", key).await;
    browser.click("#key-form button[type=submit]").await;
}

/// Replaces the post text as a user would: select all, then type.
async fn write(browser: &Browser, text: &str) {
    browser.clear("#text").await;
    browser.type_into("#text", text).await;
}

#[tokio::test]
async fn the_assistant_page_in_chromium() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data = data.to_str().unwrap();
    // Professional allows one post a month here, so the second approval meets the quota's 429.
    let plans = dir.path().join("plans.toml");
    let builtin = include_str!("../service/src/tenants/plans.toml");
    std::fs::write(&plans, builtin.replacen("posts_per_month = 1500", "posts_per_month = 1", 1)).unwrap();
    let server = start(&[
        "--data-dir",
        data,
        "--plans",
        plans.to_str().unwrap(),
        "--rate-limit-per-second",
        "1000",
        "--rate-limit-burst",
        "1000",
    ]);
    wait_ready(&server).await;
    seed_history(&server, dir.path()).await;
    let axe = axe_source();
    let browser = Browser::open(&screenshots()).await;

    development_mode(&browser, &server, &axe, dir.path()).await;
    let keys = tenant_with_keys(&directory(data).await, "default", Plan::Professional).await;
    with_keys(&browser, &axe, &keys).await;
    browser.close().await;
    server.shutdown_and_wait();
}

async fn development_mode(browser: &Browser, server: &TestServer, axe: &str, dir: &Path) {
    browser.goto(&server.url("/")).await;
    browser.until("platforms listed", "document.querySelectorAll('#platforms input').length >= 10", SHORT).await;
    assert!(text_of(browser, "#who").await.contains("development mode"));
    let account = browser.until("an account filled in", "document.getElementById('account').value", SHORT).await;
    assert!(account.as_str().unwrap().starts_with("acct-"), "{account}");

    // Over X's limit: the counter says so, in red, and the text area is marked invalid.
    let long = "Our spring collection lands this week with fresh colours and softer fabrics. ".repeat(4);
    write(browser, &long).await;
    let counter = browser
        .until(
            "X's counter over its limit",
            "document.querySelector('#counters [data-platform=\"x\"].over')?.textContent",
            SHORT,
        )
        .await;
    assert!(counter.as_str().unwrap().contains("/ 280"), "{counter}");
    let invalid = browser.run("return document.getElementById('text').getAttribute('aria-invalid')", vec![]).await;
    assert_eq!(invalid, json!("true"));
    browser.screenshot("01-over-the-limit").await;

    // An offensive post: the gate holds it, and the word that did it is marked in the text.
    write(browser, "what a damn stupid idea, you idiot").await;
    let decision = browser
        .until(
            "the gate's decision on an offensive post",
            "['review', 'block'].find(d => document.querySelector('#gate-decision .decision.' + d))",
            SHORT,
        )
        .await;
    let marked = browser
        .until(
            "a highlighted span",
            "[...document.querySelectorAll('#gate-preview mark')].map(m => m.textContent).join(' ')",
            SHORT,
        )
        .await;
    assert!(marked.as_str().unwrap().split(' ').any(|word| word == "damn"), "{marked}, decision {decision}");
    assert!(!text_of(browser, "#gate-reasons").await.is_empty());
    browser.screenshot("02-gate").await;

    // A hashtag chip, from the account's history, goes into the text when clicked.
    write(browser, "Thanks to the team for the new product launch today").await;
    let tag =
        browser.until("hashtag chips", "document.querySelector('#hashtag-chips .chip')?.dataset.tag", SHORT).await;
    let tag = tag.as_str().unwrap().to_string();
    assert!(text_of(browser, "#hashtag-chips .chip").await.contains("lift"));
    browser.click("#hashtag-chips .chip").await;
    let script = format!("document.getElementById('text').value.endsWith(' ' + {tag:?})");
    browser.until("the chip's tag in the text", &script, SHORT).await;
    browser.until("tone", "document.querySelector('#tone-result h3')", SHORT).await;
    browser.until("similar posts", "document.querySelector('#similar-posts li .meta')", SHORT).await;
    browser.until("the forecast band", "document.querySelector('#forecast-chart polygon.band')", SHORT).await;
    browser.screenshot("03-hashtags-tone-similar").await;

    // Best times: a heatmap of the week; picking a slot by keyboard fills the schedule time.
    browser.until("the heatmap", "document.querySelectorAll('#heatmap .slot').length === 168", SHORT).await;
    browser.run("document.querySelector('#heatmap .slot[tabindex=\"0\"]').focus()", vec![]).await;
    let active = browser.client.active_element().await.unwrap();
    active.send_keys("\u{E014}\u{E015}").await.unwrap(); // → then ↓: Tuesday 01:00
    let focused = browser.client.active_element().await.unwrap();
    assert_eq!(focused.attr("data-minute").await.unwrap().as_deref(), Some("1500"));
    focused.send_keys("\u{E007}").await.unwrap(); // Enter
    let picked = browser.until("the schedule time", "document.getElementById('schedule').value", SHORT).await;
    assert!(picked.as_str().unwrap().contains('T'), "{picked}");
    let pressed = browser
        .run("return document.querySelector('#heatmap .slot[aria-pressed=\"true\"]')?.dataset.minute", vec![])
        .await;
    assert_eq!(pressed, json!("1500"));
    browser.click("#heatmap .best-slot").await;
    browser
        .until(
            "a best slot picked",
            "document.getElementById('timing-status').textContent.startsWith('Schedule set')",
            SHORT,
        )
        .await;
    browser.screenshot("04-timing").await;

    // An image with text: its OCR, alt text and a crop preview per platform.
    let poster = poster(dir);
    browser.type_into("#image-file", poster.to_str().unwrap()).await;
    let read = browser.until("OCR text", "document.getElementById('ocr-text')?.textContent", SHORT).await;
    let read = read.as_str().unwrap().to_uppercase();
    assert!(read.contains("SUMMER") && read.contains("SALE"), "{read}");
    assert!(!text_of(browser, "#alt-text").await.is_empty());
    browser.until("crop previews", "document.querySelectorAll('#image-result canvas').length >= 3", SHORT).await;
    browser.screenshot("05-image").await;

    // Captions, streamed; "Use this" puts one in the composer.
    write(browser, "Our new product launch is today, thanks to the whole team").await;
    browser.click("#generate").await;
    let caption = browser
        .until(
            "a finished caption",
            "document.querySelector('#caption-variants li[data-final] .caption-text')?.textContent",
            LONG,
        )
        .await;
    browser.click("#caption-variants li[data-final] .use-caption").await;
    let script = format!("document.getElementById('text').value === {caption}");
    browser.until("the caption in the composer", &script, SHORT).await;
    browser.until("captions finished", "!document.getElementById('generate').disabled", LONG).await;
    browser.screenshot("06-captions").await;

    accessible(browser, axe, "development mode, every panel filled").await;
}

async fn with_keys(browser: &Browser, axe: &str, keys: &[(Role, String)]) {
    // The tenant exists: development mode is over within a second, and a wrong key is a 401 the
    // page explains.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let wrong = format!("eiq_000000000000_{}", "0".repeat(64));
    set_key(browser, &wrong).await;
    let refused = browser.until("a 401", "document.getElementById('session-error').textContent", SHORT).await;
    let refused = refused.as_str().unwrap();
    assert!(refused.starts_with("401") && refused.contains("API key"), "{refused}");
    // The panels ask again, so none keeps the answer development mode gave.
    browser.until("the gate's 401", "document.getElementById('gate-error').textContent.startsWith('401')", SHORT).await;
    assert_eq!(text_of(browser, "#gate-decision").await, "No decision: the gate did not answer (below).");
    browser.screenshot("07-wrong-key").await;

    // The editor submits; the gate passes it to the approval queue.
    set_key(browser, &key_of(keys, Role::Editor)).await;
    browser
        .until("the editor's plan", "document.getElementById('who').textContent.includes('professional')", SHORT)
        .await;
    assert!(text_of(browser, "#session-error").await.is_empty());
    write(browser, "Doors open at nine for the spring launch, see you there").await;
    browser.run("document.getElementById('schedule').value = ''", vec![]).await;
    browser.click("#submit-post").await;
    let post = browser
        .until("a post waiting for approval", "document.querySelector('#post-state[data-state=\"pending_approval\"]') && document.querySelector('#post-view code').textContent", SHORT)
        .await;
    let post = post.as_str().unwrap().to_string();

    // The approver approves it from the queue; the post is scheduled.
    set_key(browser, &key_of(keys, Role::Approver)).await;
    let item = format!("#approval-queue li[data-post={post:?}] .approve");
    browser.until("the post in the approver's queue", &format!("document.querySelector({item:?})"), SHORT).await;
    browser.click(&item).await;
    browser.until("the post scheduled", "document.querySelector('#post-state[data-state=\"scheduled\"]')", SHORT).await;
    browser
        .until(
            "the quota warning",
            "document.getElementById('publishing-notice')?.textContent.includes('posts_per_month 1/1')",
            SHORT,
        )
        .await;
    browser.run("document.getElementById('publishing').scrollIntoView()", vec![]).await;
    browser.screenshot("08-approved").await;

    // A second post meets the month's quota: the approval is a 429 that says when to retry.
    set_key(browser, &key_of(keys, Role::Editor)).await;
    browser
        .until("the editor again", "document.getElementById('who').textContent.includes('professional')", SHORT)
        .await;
    write(browser, "Last call for the spring launch, doors close at six").await;
    browser.click("#submit-post").await;
    let second = browser
        .until("a second post waiting", &format!("document.querySelector('#post-state[data-state=\"pending_approval\"]') && document.querySelector('#post-view code').textContent !== {post:?} && document.querySelector('#post-view code').textContent"), SHORT)
        .await;
    set_key(browser, &key_of(keys, Role::Approver)).await;
    let item = format!("#approval-queue li[data-post={second}] .approve");
    browser.until("the second post queued", &format!("document.querySelector({item:?})"), SHORT).await;
    browser.click(&item).await;
    let refused = browser.until("a 429", "document.getElementById('queue-error').textContent", SHORT).await;
    let refused = refused.as_str().unwrap();
    assert!(
        refused.starts_with("429") && refused.contains("Retry after") && refused.contains("professional"),
        "{refused}"
    );
    browser.run("document.getElementById('publishing').scrollIntoView()", vec![]).await;
    browser.screenshot("09-quota").await;

    // The admin reads the first post's audit trail and the month's usage.
    set_key(browser, &key_of(keys, Role::Admin)).await;
    browser.until("the admin's usage", "document.getElementById('usage').textContent.includes('1 of 1')", SHORT).await;
    browser.click("#refresh-post").await;
    browser
        .until("the audit trail", "document.getElementById('audit-trail').textContent.includes('post.gated')", SHORT)
        .await;
    browser.run("document.getElementById('publishing').scrollIntoView()", vec![]).await;
    browser.screenshot("10-audit").await;
    accessible(browser, axe, "signed in, publishing filled").await;
}
