//! Where a scheduled post goes: a tenant's webhook, or its JSON Lines outbox.
//!
//! Both carry the same [`Delivery`], whose `idempotency_key` (`<post>:<platform>`) is the same on
//! every attempt and every replica. The scheduler delivers at least once (a replica that dies
//! after a receiver answered but before it recorded the answer leaves a lease that another replica
//! takes over), so a receiver that keeps the keys it has seen gets each post exactly once.
//!
//! A webhook is a `POST` of the delivery's JSON, signed like Stripe's:
//! `eiq-signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>`. The receiver
//! recomputes the MAC and refuses a timestamp older than its tolerance, so a captured request
//! cannot be replayed later. A 2xx is delivered; a 408, 425, 429, 5xx, timeout or connection
//! failure is retried; any other answer (a 4xx: the receiver refuses this post) is final.

use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use ring::hmac;
use serde::Serialize;

use super::address::{self, CheckedResolver};
use crate::error::ServiceError;

/// What a receiver gets for one post on one platform.
#[derive(Debug, Clone, Serialize)]
pub struct Delivery {
    pub idempotency_key: String,
    pub tenant: String,
    pub post_id: String,
    pub platform: String,
    pub text: String,
    pub accounts: Vec<String>,
    pub media: Vec<super::MediaRef>,
    /// RFC 3339; `None`: published on approval.
    pub scheduled_at: Option<String>,
    /// 1 on the first attempt.
    pub attempt: u32,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    Delivered,
    /// Worth trying again later.
    Retry(String),
    /// The receiver refused it (or the target is not allowed): straight to the dead letters.
    Final(String),
}

/// A webhook's target and its secret (opened from the store).
#[derive(Debug, Clone)]
pub struct WebhookTarget {
    pub url: String,
    pub secret: String,
}

/// Sends webhooks through a client that connects only to checked addresses.
#[derive(Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    allow_private: bool,
}

/// Longest wait for a receiver's answer (connecting included).
const WEBHOOK_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// Most of a refusal's reason kept (the receiver's status and a prefix of nothing else).
const MAX_REASON_CHARS: usize = 200;

impl WebhookSender {
    pub fn new(allow_private: bool) -> Result<Self, String> {
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(CheckedResolver { allow_private }))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(WEBHOOK_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .user_agent(concat!("eiq-webhook/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("webhook client: {e}"))?;
        Ok(Self { client, allow_private })
    }

    pub fn allow_private(&self) -> bool {
        self.allow_private
    }

    /// One attempt at `delivery` to `target`, signed at `now` (Unix seconds).
    pub async fn send(&self, target: &WebhookTarget, delivery: &Delivery, now: i64) -> Attempt {
        let url = match address::check_url("webhook.url", &target.url, self.allow_private).await {
            Ok(url) => url,
            Err(error) => return Attempt::Final(error.to_string()),
        };
        let body = match serde_json::to_vec(delivery) {
            Ok(body) => body,
            Err(error) => return Attempt::Final(format!("encoding the delivery: {error}")),
        };
        let request = self
            .client
            .post(url)
            .header("content-type", "application/json")
            .header("idempotency-key", &delivery.idempotency_key)
            .header("eiq-signature", signature(&target.secret, now, &body))
            .body(body);
        match request.send().await {
            Ok(response) => {
                let status = response.status();
                if status.is_success() {
                    Attempt::Delivered
                } else if matches!(status.as_u16(), 408 | 425 | 429) || status.is_server_error() {
                    Attempt::Retry(format!("the receiver answered {status}"))
                } else {
                    Attempt::Final(format!("the receiver answered {status}"))
                }
            }
            Err(error) => {
                let reason: String = error_chain(&error).chars().take(MAX_REASON_CHARS).collect();
                Attempt::Retry(reason)
            }
        }
    }
}

/// `t=<now>,v1=<hex HMAC-SHA256(secret, "<now>.<body>")>`.
pub fn signature(secret: &str, now: i64, body: &[u8]) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes());
    let mut context = hmac::Context::with_key(&key);
    context.update(now.to_string().as_bytes());
    context.update(b".");
    context.update(body);
    format!("t={now},v1={}", hex::encode(context.sign().as_ref()))
}

fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Appends deliveries to `<data dir>/outbox/<tenant>.jsonl`, one line each, synced before the
/// delivery counts as made. The file is this process's: with several replicas, use a webhook.
#[derive(Clone)]
pub struct Outbox {
    dir: PathBuf,
    /// One appender at a time in this process, so lines never interleave.
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl Outbox {
    pub fn new(data_dir: &std::path::Path) -> Self {
        Self { dir: data_dir.join("outbox"), lock: Arc::new(tokio::sync::Mutex::new(())) }
    }

    /// The tenant's outbox file.
    pub fn path(&self, tenant: &str) -> PathBuf {
        self.dir.join(format!("{tenant}.jsonl"))
    }

    pub async fn append(&self, delivery: &Delivery) -> Attempt {
        let mut line = match serde_json::to_vec(delivery) {
            Ok(line) => line,
            Err(error) => return Attempt::Final(format!("encoding the delivery: {error}")),
        };
        line.push(b'\n');
        let path = self.path(&delivery.tenant);
        let _appending = self.lock.lock().await;
        let written = tokio::task::spawn_blocking(move || -> std::io::Result<()> {
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent)?;
            }
            let mut file = std::fs::OpenOptions::new().create(true).append(true).open(&path)?;
            file.write_all(&line)?;
            file.sync_data()
        })
        .await;
        match written {
            Ok(Ok(())) => Attempt::Delivered,
            Ok(Err(error)) => Attempt::Retry(format!("writing the outbox: {}", error.kind())),
            Err(error) => Attempt::Retry(format!("writing the outbox: {error}")),
        }
    }
}

/// A failure of the server's own (the store, the secret key) is worth another attempt.
impl From<ServiceError> for Attempt {
    fn from(error: ServiceError) -> Self {
        Attempt::Retry(error.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_hmac_sha256_of_time_and_body() {
        // The MAC covers the time, a dot and the body, in that order.
        let header = signature("Jefe", 0, b"what do ya want for nothing?");
        let key = hmac::Key::new(hmac::HMAC_SHA256, b"Jefe");
        let expected = hex::encode(hmac::sign(&key, b"0.what do ya want for nothing?").as_ref());
        assert_eq!(header, format!("t=0,v1={expected}"));
        assert_ne!(signature("Jefe", 1, b"x"), signature("Jefe", 2, b"x"));
    }
}
