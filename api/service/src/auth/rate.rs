//! Request rate limits per credential: one token bucket per API key (or SSO subject).
//!
//! A bucket holds up to `burst` tokens and refills at `per_second`; each request takes one, and a
//! request finding it empty is refused with the time until the next token. Buckets exist only for
//! credentials that authenticated, so their number is bounded by the keys the tenants made; the
//! map is capped all the same, and full buckets (which carry no state worth keeping) go first.
//! Limits are per replica: several replicas each allow the rate.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Most buckets kept; past it, full buckets are forgotten, then new credentials wait.
const MAX_BUCKETS: usize = 100_000;

/// Requests per second per credential, and the burst above it; a rate of 0 turns limits off.
#[derive(Debug, Clone, Copy)]
pub struct RateSettings {
    pub per_second: f64,
    pub burst: u32,
}

struct Bucket {
    tokens: f64,
    updated: Instant,
}

pub struct RateLimiter {
    settings: RateSettings,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(settings: RateSettings) -> Self {
        Self { settings, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes a token from `credential`'s bucket, or says how long until one is free.
    pub fn take(&self, credential: &str, now: Instant) -> Result<(), Duration> {
        let RateSettings { per_second, burst } = self.settings;
        if per_second <= 0.0 {
            return Ok(());
        }
        let burst = f64::from(burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_BUCKETS && !buckets.contains_key(credential) {
            buckets.retain(|_, b| refilled(b, now, per_second, burst) < burst);
            if buckets.len() >= MAX_BUCKETS {
                return Err(Duration::from_secs(1));
            }
        }
        let bucket = buckets.entry(credential.to_string()).or_insert(Bucket { tokens: burst, updated: now });
        bucket.tokens = refilled(bucket, now, per_second, burst);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / per_second))
        }
    }
}

fn refilled(bucket: &Bucket, now: Instant, per_second: f64, burst: f64) -> f64 {
    let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
    (bucket.tokens + elapsed * per_second).min(burst)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_its_burst_then_its_rate() {
        let limiter = RateLimiter::new(RateSettings { per_second: 2.0, burst: 3 });
        let start = Instant::now();
        for _ in 0..3 {
            limiter.take("a", start).unwrap();
        }
        let wait = limiter.take("a", start).unwrap_err();
        assert!((wait.as_secs_f64() - 0.5).abs() < 1e-6, "{wait:?}");
        // Another credential has its own bucket.
        limiter.take("b", start).unwrap();
        // Half a second later one token is back, and only one.
        let later = start + Duration::from_millis(500);
        limiter.take("a", later).unwrap();
        assert!(limiter.take("a", later).is_err());
    }

    #[test]
    fn a_rate_of_zero_is_no_limit() {
        let limiter = RateLimiter::new(RateSettings { per_second: 0.0, burst: 1 });
        let now = Instant::now();
        for _ in 0..1_000 {
            limiter.take("a", now).unwrap();
        }
    }
}
