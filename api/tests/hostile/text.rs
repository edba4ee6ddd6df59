//! Text intelligence and the gate under attack: word lists built to be slow, profanity-dense
//! and oversized texts. Each once took seconds to minutes of CPU and stalled every other caller.

use std::time::Duration;

use serde_json::{Value, json};

use crate::common::{TestServer, shared};
use crate::{serial, slowest_health_during};

async fn post(server: &TestServer, path: &str, body: &Value) -> (u16, Value) {
    let (status, body) = server.post_json(path, body).await;
    (status.as_u16(), body)
}

/// A distinct word for each `i`: consonants and vowels alternate, so no letter repeats (repeats
/// would make spellings of one word, which a policy may list only a few of).
fn word(mut i: usize) -> String {
    const CONSONANTS: &[u8] = b"bcdfghjklmnpqrstvwxz";
    let mut word = String::from("q");
    while i > 0 || word.len() < 4 {
        word.push(b"aeiou"[i % 5] as char);
        word.push(CONSONANTS[(i / 5) % 20] as char);
        i /= 100;
    }
    word
}

#[tokio::test(flavor = "multi_thread")]
async fn word_lists_cost_linear_time_and_health_stays_quick() {
    let _serial = serial().await;
    let server = shared().await;
    // A 1,000-word blocklist entry against a 1,000-word text took 15 s: now refused at once.
    let words: Vec<String> = (0..1_000).map(|i| format!("w{i}")).collect();
    let text = words.join(" ");
    let (status, body) =
        post(server, "/v1/moderation/gate", &json!({"text": text, "policy": {"blocklist": [text]}})).await;
    assert_eq!(status, 422, "{body}");
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("policy.blocklist[0]") && message.len() < 300, "{message}");

    // The heaviest requests the limits allow, two at a time: profanity filling the longest text,
    // and a gate with the most blocklist entries of the most words.
    let dense = "fuck shit ".repeat(6_500);
    let blocklist: Vec<String> = (0..10_000).map(|i| format!("{} a b c d e f g", word(i))).collect();
    let gate = json!({"text": dense, "policy": {"blocklist": blocklist}});
    let analyze = json!({"inputs": [dense]});
    let work = async {
        for _ in 0..3 {
            let ((gate_status, verdict), (analyze_status, analysis)) =
                tokio::join!(post(server, "/v1/moderation/gate", &gate), post(server, "/v1/analyze", &analyze));
            assert_eq!((gate_status, analyze_status), (200, 200), "{verdict} {analysis}");
            assert_eq!(verdict["spans"].as_array().unwrap().len(), 13_000);
            let last = &analysis["results"][0]["spans"][12_999];
            assert_eq!((last["start"].as_u64(), last["end"].as_u64()), (Some(64_995), Some(64_999)), "{last}");
        }
    };
    let slowest = slowest_health_during(server, work).await;
    eprintln!("slowest /health while the worst word-list requests ran: {slowest:?}");
    // Word lists matched on the async workers stalled /health for seconds; what remains is the OS
    // sharing two cores between the encoder's threads and the probe (120 ms seen on a slow CPU).
    assert!(slowest < Duration::from_millis(300), "{slowest:?}");

    // Over the per-text limit: a clear 422 on every text endpoint.
    let huge = "fuck ".repeat(400_000);
    for (path, body) in [
        ("/v1/analyze", json!({"inputs": [huge]})),
        ("/v1/moderation/gate", json!({"text": huge})),
        ("/v1/embeddings", json!({"input": huge})),
        ("/v1/moderations", json!({"input": huge})),
    ] {
        let (status, answer) = post(server, path, &body).await;
        assert_eq!(status, 422, "{path}: {}", answer.to_string().chars().take(300).collect::<String>());
        assert!(answer.to_string().len() < 2_048);
    }
    // Perspective's shape: Google answers every client mistake with 400.
    let body = json!({"comment": {"text": huge}, "requestedAttributes": {"PROFANITY": {}}});
    let (status, answer) = post(server, "/v1alpha1/comments:analyze", &body).await;
    assert_eq!((status, answer["error"]["status"].as_str()), (400, Some("INVALID_ARGUMENT")), "{answer}");
}
