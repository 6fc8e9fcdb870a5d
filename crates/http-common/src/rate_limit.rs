//! Per-domain rate limits: a fixed window of `limit` requests per domain that opens at the
//! window's first request and lasts a minute — what the original API's headers show
//! (`Remaining` counts down, `Reset` is the end of the window in epoch milliseconds). The
//! windows live in PostgreSQL (`store::rate_windows`, one atomic upsert per request, on a
//! connection of the domain's own share), so every gateway and status replica counts against
//! the same limit. Kept by hand: the `governor`
//! crate's keyed limiters keep their state in one process, give every key one quota (domains
//! have their own), refill continuously (GCRA) and expose no window end for `Reset`.

use userhub_store::StoreError;
use userhub_store::TenantPool;
use userhub_store::rate_windows::{WindowCount, take};

/// The verdict on one request and the figures for the `X-Rate-Limit-*` headers.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateDecision {
    pub allowed: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Epoch milliseconds at which the window ends and the limit is whole again.
    pub reset_at_ms: i64,
    /// Seconds until a request would be allowed (0 when allowed).
    pub retry_after_secs: u64,
}

/// Counters keyed by domain name (or a product's counter of a domain), shared through the
/// database by every process.
#[derive(Debug)]
pub struct RateLimiter {
    default_per_minute: u32,
}

impl RateLimiter {
    pub fn new(default_per_minute: u32) -> RateLimiter {
        RateLimiter {
            default_per_minute: default_per_minute.max(1),
        }
    }

    pub fn default_per_minute(&self) -> u32 {
        self.default_per_minute
    }

    /// Counts one request against `key`, whose limit is `per_minute` (else the default), on a
    /// connection of `database`.
    pub async fn check(
        &self,
        database: &TenantPool,
        key: &str,
        per_minute: Option<u32>,
    ) -> Result<RateDecision, StoreError> {
        let limit = per_minute.unwrap_or(self.default_per_minute).max(1);
        let client = database.get().await?;
        Ok(decide(limit, take(&*client, key).await?))
    }
}

/// The verdict for a counter that reached `count` in its window.
fn decide(limit: u32, count: WindowCount) -> RateDecision {
    let used = u32::try_from(count.used).unwrap_or(u32::MAX);
    let allowed = used <= limit;
    let until_reset_ms = (count.window_end_ms - count.now_ms).max(0);
    RateDecision {
        allowed,
        limit,
        remaining: limit.saturating_sub(used),
        reset_at_ms: count.window_end_ms,
        retry_after_secs: if allowed {
            0
        } else {
            (until_reset_ms as u64).div_ceil(1000).max(1)
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn count(used: i32, now_ms: i64) -> WindowCount {
        WindowCount {
            used,
            window_end_ms: 60_000,
            now_ms,
        }
    }

    #[test]
    fn the_request_past_the_limit_is_refused_until_the_window_ends() {
        for used in 1..=60 {
            let decision = decide(60, count(used, 50_000));
            assert!(decision.allowed);
            assert_eq!(decision.remaining, 60 - used as u32);
            assert_eq!(decision.reset_at_ms, 60_000);
        }
        let refused = decide(60, count(61, 8_500));
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after_secs, 52, "51.5 s rounds up");
        assert_eq!(decide(60, count(70, 59_999)).retry_after_secs, 1);
    }

    #[test]
    fn a_domain_limit_applies_to_its_own_count() {
        assert!(decide(1000, count(999, 0)).allowed);
        assert_eq!(decide(1000, count(999, 0)).remaining, 1);
        assert!(!decide(1, count(2, 0)).allowed);
    }
}
