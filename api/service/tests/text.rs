//! Analysis and the moderation gate over a tiny encoder built in the test (seeded random weights,
//! the real tokenizer, batcher and heads code), with no fetched model. Its scores mean nothing, so
//! policies here use thresholds every score crosses (0) or none, and assert on the logic.

use std::collections::BTreeMap;
use std::time::Duration;

use eiq_inference::{BatcherConfig, Lexicon, LoadOptions, tiny};
use eiq_service::captions::{CaptionRequest, HashtagWish, Method, Origin};
use eiq_service::engagement::ImportSettings;
use eiq_service::tenancy::Principal;
use eiq_service::text::{Decision, GateRequest, Policy, PolicyBook, PolicyChoice, Thresholds};
use eiq_service::{Services, ServicesConfig, VectorSettings};

const MODEL: &str = "tiny-text";
/// The heads the built-in `default` policy names (`offensive`, `hate`), and a multi-class one.
const HEADS: &[(&str, &[&str])] = &[
    ("offensive", &["not-offensive", "offensive"]),
    ("hate", &["not-hate", "hate"]),
    ("sentiment", &["negative", "neutral", "positive"]),
];

struct Fixture {
    services: Services,
    _dir: tempfile::TempDir,
}

fn options(max_queue: usize) -> LoadOptions {
    let batcher =
        BatcherConfig { max_batch_tokens: 4096, max_batch_size: 32, max_wait: Duration::from_millis(1), max_queue };
    LoadOptions { threads: 1, batcher, cache_entries: 0, generation_queue: 1, ocr_in_flight: 1 }
}

/// Services over the tiny model; `text_model` may name one that is not served.
fn fixture(text_model: &str, gate_timeout: Duration) -> Fixture {
    fixture_with_queue(text_model, gate_timeout, 256)
}

fn fixture_with_queue(text_model: &str, gate_timeout: Duration, max_queue: usize) -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let services = Services::new(ServicesConfig {
        registry: tiny::tiny_registry(MODEL, HEADS, &options(max_queue)),
        text_model: text_model.into(),
        profanity: Ok(Lexicon::from_entries(["damn"])),
        segmenter: Err("not needed here".into()),
        max_inputs: 16,
        policies: PolicyBook::builtin(),
        gate_timeout,
        caption_model: "smollm2-135m-instruct".into(),
        caption_timeout: Duration::from_secs(10),
        images: eiq_service::images::ImageSettings {
            ocr_model: "ppocr-v4".into(),
            max_bytes: 1 << 20,
            max_pixels: 1 << 20,
            max_in_flight: 1,
        },
        data_dir: dir.path().to_path_buf(),
        imports: ImportSettings {
            root: None,
            max_bytes: 1 << 20,
            max_rows: 1000,
            max_concurrent: 1,
            plans: eiq_service::tenants::PlanBook::builtin(),
        },
        vectors: VectorSettings::Embedded,
    });
    Fixture { services, _dir: dir }
}

fn inline(thresholds: &[(&str, Option<f32>, Option<f32>)], blocklist: &[&str]) -> PolicyChoice {
    PolicyChoice::Inline(Policy {
        thresholds: thresholds
            .iter()
            .map(|&(category, review, block)| (category.to_string(), Thresholds { review, block }))
            .collect::<BTreeMap<_, _>>(),
        blocklist: blocklist.iter().map(|entry| entry.to_string()).collect(),
        allowlist: Vec::new(),
        duplicate_window_days: None,
    })
}

fn principal() -> Principal {
    Principal::from_tenant_header(None).unwrap()
}

fn gate(text: &str, policy: PolicyChoice) -> GateRequest {
    GateRequest { text: text.into(), platform: Some("x".into()), account_id: None, policy }
}

#[tokio::test]
async fn analysis_runs_every_head_on_one_encoder_pass_per_text() {
    let f = fixture(MODEL, Duration::from_secs(5));
    let texts = vec!["I love this new launch".to_string(), "damn, the market fell".to_string()];
    let analysis = f.services.analysis.analyze(texts, None).await.unwrap();
    assert_eq!(analysis.model, MODEL);
    assert_eq!(analysis.heads.iter().map(|h| h.task.as_str()).collect::<Vec<_>>(), ["offensive", "hate", "sentiment"]);
    for result in &analysis.results {
        assert_eq!(result.tasks.len(), 3);
        for task in &result.tasks {
            let total: f32 = task.scores.iter().map(|(_, p)| p).sum();
            assert!((total - 1.0).abs() < 1e-4, "{task:?}");
            assert!(task.scores.iter().any(|(label, _)| *label == task.label));
        }
    }
    assert!(analysis.results[0].spans.is_empty());
    assert_eq!(analysis.results[1].spans[0].text, "damn");

    let err = f.services.analysis.analyze(vec!["hi".into()], Some(vec!["sarcasm".into()])).await.unwrap_err();
    assert_eq!(err.param(), Some("tasks[0]"), "{err}");
    let err = f.services.analysis.analyze(vec!["ok".into(), "  ".into()], None).await.unwrap_err();
    assert_eq!(err.param(), Some("inputs[1]"), "{err}");
}

#[tokio::test]
async fn the_gate_decides_by_the_policy_and_says_why() {
    let f = fixture(MODEL, Duration::from_secs(5));
    let gate_service = &f.services.gate;

    let allowed = gate_service.check(&principal(), gate("a good day", inline(&[], &[]))).await.unwrap();
    assert_eq!(allowed.decision, Decision::Allow);
    assert!(allowed.reasons.is_empty());
    assert!(allowed.scores.contains_key("offensive") && allowed.scores.contains_key("sentiment.positive"));

    let review = gate_service
        .check(&principal(), gate("a good day", inline(&[("offensive", Some(0.0), None)], &[])))
        .await
        .unwrap();
    assert_eq!(review.decision, Decision::Review);
    assert_eq!((review.reasons[0].category.as_str(), review.reasons[0].source.as_str()), ("offensive", MODEL));
    assert_eq!(review.reasons[0].threshold, Some(0.0));

    let policy = inline(&[("offensive", Some(0.0), None)], &["competitorco"]);
    let blocked = gate_service.check(&principal(), gate("buy CompetitorCo now, CompetitorCo!", policy)).await.unwrap();
    assert_eq!(blocked.decision, Decision::Block);
    assert_eq!(blocked.reasons[0].category, "blocklist", "block comes before review: {:?}", blocked.reasons);
    assert_eq!(blocked.reasons.iter().filter(|r| r.category == "blocklist").count(), 1, "one reason per entry");
    assert_eq!(blocked.spans.len(), 2);
    assert!(blocked.reasons[0].detail.as_deref().unwrap().contains("(2 times)"));

    // The built-in default policy reviews profanity.
    let profane = gate_service.check(&principal(), gate("damn it", PolicyChoice::default())).await.unwrap();
    assert!(profane.reasons.iter().any(|r| r.category == "profanity" && r.decision == Decision::Review));
    assert_eq!(profane.policy, "default");
}

#[tokio::test]
async fn the_gate_fails_closed_when_the_model_cannot_answer() {
    // A text model this server does not serve, and one whose queue has no room at all. (A model
    // too slow for the deadline is the API tests' case: the tiny one answers within any tick.)
    for (model, max_queue, detail) in [("not-served", 256, "not loaded"), (MODEL, 0, "queue")] {
        let f = fixture_with_queue(model, Duration::from_secs(5), max_queue);
        let policy = inline(&[], &["competitorco"]);
        let verdict = f.services.gate.check(&principal(), gate("hello there", policy.clone())).await.unwrap();
        assert_eq!(verdict.decision, Decision::Review, "{model}");
        let reason = &verdict.reasons[0];
        assert_eq!(reason.category, "model_unavailable");
        assert!(reason.detail.as_deref().unwrap().contains(detail), "{reason:?}");
        // Word lists need no model: a blocklisted post is still blocked.
        let verdict = f.services.gate.check(&principal(), gate("competitorco rocks", policy)).await.unwrap();
        assert_eq!(verdict.decision, Decision::Block, "{model}");
    }
}

#[tokio::test]
async fn the_gate_refuses_client_mistakes_with_the_field() {
    let f = fixture(MODEL, Duration::from_secs(5));
    let gate_service = &f.services.gate;
    let cases = [
        (gate("", PolicyChoice::default()), "text[0]"),
        (gate("hi", PolicyChoice::Named("strict".into())), "policy"),
        (gate("hi", inline(&[("offensive", Some(1.5), None)], &[])), "policy.thresholds.offensive.review"),
        (gate("hi", inline(&[("sarcasm", Some(0.5), None)], &[])), "policy.thresholds.sarcasm"),
        (gate("hi", inline(&[], &["!!!"])), "policy.blocklist[0]"),
    ];
    for (request, param) in cases {
        let err = gate_service.check(&principal(), request).await.unwrap_err();
        assert!(err.is_invalid_input(), "{err:?}");
        assert_eq!(err.param(), Some(param), "{err}");
    }
}

#[tokio::test]
async fn captions_without_the_model_are_the_draft_fitted_by_rules_and_say_so() {
    let fixture = fixture(MODEL, Duration::from_secs(5));
    let principal = Principal::from_tenant_header(None).unwrap();
    let draft = "Big news! Our spring collection is live at https://shop.example.com/spring with @acme. ".repeat(6);
    let request = CaptionRequest {
        text: draft.clone(),
        image: None,
        platforms: vec!["x".into(), "bluesky".into(), "instagram".into()],
        tone: None,
        hashtags: HashtagWish::Unspecified,
        variants: Some(3),
        seed: Some(7),
    };
    let captions = fixture.services.captions.generate(&principal, request, None).await.unwrap();
    assert!(matches!(&captions.method, Method::Rules { reason } if reason.contains("smollm2-135m-instruct")));
    assert_eq!(captions.variants.len(), 3, "one fitted draft per platform without a model");
    for variant in &captions.variants {
        assert!(variant.valid, "{variant:?}");
        assert!(variant.length.used <= variant.length.limit);
        assert!(
            variant.text.contains("https://shop.example.com/spring") && variant.text.contains("@acme"),
            "{variant:?}"
        );
        assert_eq!(variant.origin, Origin::FittedDraft);
    }
    let x = &captions.variants[0];
    assert!(x.trimmed && x.text.ends_with(['.', '!', '…']), "cut at a sentence or word: {:?}", x.text);

    let unknown = CaptionRequest {
        text: "hi".into(),
        image: None,
        platforms: vec!["friendster".into()],
        tone: None,
        hashtags: HashtagWish::Unspecified,
        variants: None,
        seed: None,
    };
    let err = fixture.services.captions.generate(&principal, unknown, None).await.unwrap_err();
    assert_eq!(err.param(), Some("platforms[0]"));
}
