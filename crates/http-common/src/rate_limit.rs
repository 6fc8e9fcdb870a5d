//! Per-domain rate limits: a bucket of `limit` tokens per domain, refilled in full one minute
//! after the first request of its window — what the original API's headers show (`Remaining`
//! counts down, `Reset` is the end of the window in epoch milliseconds). Kept by hand: the
//! `governor` crate's keyed limiters give every key one quota (domains have their own), refill
//! continuously (GCRA) and expose no window end for the `Reset` header.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);

/// The verdict on one request and the figures for the `X-Rate-Limit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Epoch milliseconds at which the bucket is full again.
    pub reset_at_ms: i64,
    /// Seconds until a request would be allowed (0 when allowed).
    pub retry_after_secs: u64,
}

#[derive(Debug)]
struct Bucket {
    used: u32,
    window_end: Instant,
}

/// Buckets keyed by domain name. In one process the gateway and status share one limiter.
#[derive(Debug)]
pub struct RateLimiter {
    default_per_minute: u32,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl RateLimiter {
    pub fn new(default_per_minute: u32) -> RateLimiter {
        RateLimiter {
            default_per_minute: default_per_minute.max(1),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn default_per_minute(&self) -> u32 {
        self.default_per_minute
    }

    /// Takes one token for `domain` if there is one (`consume`), or only looks (`!consume`).
    pub fn check(&self, domain: &str, per_minute: Option<u32>, consume: bool) -> RateDecision {
        self.check_at(domain, per_minute, consume, Instant::now())
    }

    fn check_at(
        &self,
        domain: &str,
        per_minute: Option<u32>,
        consume: bool,
        now: Instant,
    ) -> RateDecision {
        let limit = per_minute.unwrap_or(self.default_per_minute).max(1);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(domain.to_owned()).or_insert(Bucket {
            used: 0,
            window_end: now + WINDOW,
        });
        if now >= bucket.window_end {
            *bucket = Bucket {
                used: 0,
                window_end: now + WINDOW,
            };
        }
        let allowed = bucket.used < limit;
        if allowed && consume {
            bucket.used += 1;
        }
        let until_reset = bucket.window_end.saturating_duration_since(now);
        let reset_at_ms = chrono::Utc::now().timestamp_millis() + until_reset.as_millis() as i64;
        RateDecision {
            allowed,
            limit,
            remaining: limit.saturating_sub(bucket.used),
            reset_at_ms,
            retry_after_secs: if allowed {
                0
            } else {
                until_reset.as_secs_f64().ceil().max(1.0) as u64
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sixty_first_request_in_a_minute_is_refused_until_the_window_ends() {
        let limiter = RateLimiter::new(60);
        let start = Instant::now();
        for expected_remaining in (0..60).rev() {
            let decision = limiter.check_at("demo", None, true, start + Duration::from_secs(50));
            assert!(decision.allowed);
            assert_eq!(decision.remaining, expected_remaining);
        }
        let refused = limiter.check_at("demo", None, true, start + Duration::from_secs(59));
        assert!(!refused.allowed);
        assert_eq!(
            refused.retry_after_secs, 51,
            "the window opened at the first request"
        );
        assert!(
            limiter.check_at("other", None, true, start).allowed,
            "buckets are per domain"
        );
        let next_window = limiter.check_at("demo", None, true, start + Duration::from_secs(111));
        assert!(next_window.allowed);
        assert_eq!(next_window.remaining, 59);
    }

    #[test]
    fn per_domain_overrides_apply_and_peeking_does_not_consume() {
        let limiter = RateLimiter::new(60);
        assert_eq!(limiter.check("big", Some(1000), true).limit, 1000);
        let before = limiter.check("big", Some(1000), false).remaining;
        let after = limiter.check("big", Some(1000), false).remaining;
        assert_eq!((before, after), (999, 999));
    }
}
