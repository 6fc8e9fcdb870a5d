//! Client-side pacing from the server's `X-Rate-Limit-*` headers: when the domain's bucket is
//! empty, requests wait for its reset instead of collecting `429`s.

use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
struct Budget {
    /// Requests left in the current window, as last reported (minus requests sent since).
    remaining: Option<u64>,
    /// When the window resets, epoch milliseconds.
    reset_at_ms: Option<u64>,
}

/// The shared request budget of one domain.
#[derive(Debug, Default)]
pub struct RateGate {
    budget: Mutex<Budget>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as u64)
}

impl RateGate {
    /// How long to wait before the next request may be sent; reserves it when it may go now.
    fn reserve(&self, now_ms: u64) -> Option<Duration> {
        let mut budget = self
            .budget
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        match (budget.remaining, budget.reset_at_ms) {
            (Some(0), Some(reset)) if reset > now_ms => {
                Some(Duration::from_millis(reset - now_ms + 50))
            }
            (Some(0), _) => {
                // The window has reset: the next answer tells the new budget.
                budget.remaining = None;
                None
            }
            (Some(left), _) => {
                budget.remaining = Some(left - 1);
                None
            }
            (None, _) => None,
        }
    }

    /// How long the next request would wait now (without reserving it).
    pub fn pending_wait(&self) -> Option<Duration> {
        let budget = self
            .budget
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        let now = now_ms();
        match (budget.remaining, budget.reset_at_ms) {
            (Some(0), Some(reset)) if reset > now => Some(Duration::from_millis(reset - now)),
            _ => None,
        }
    }

    /// Waits until a request may be sent.
    pub async fn wait(&self) {
        while let Some(pause) = self.reserve(now_ms()) {
            tokio::time::sleep(pause).await;
        }
    }

    /// Takes the budget from an answer's headers.
    pub fn observe(&self, headers: &reqwest::header::HeaderMap) {
        let number = |name: &str| {
            headers
                .get(name)
                .and_then(|value| value.to_str().ok())
                .and_then(|value| value.parse::<u64>().ok())
        };
        if let Some(remaining) = number("x-rate-limit-remaining") {
            let mut budget = self
                .budget
                .lock()
                .unwrap_or_else(|poison| poison.into_inner());
            budget.remaining = Some(remaining);
            budget.reset_at_ms = number("x-rate-limit-reset");
        }
    }

    /// After a `429`: nothing may go before `retry_after`.
    pub fn exhausted_for(&self, retry_after: Duration) {
        let mut budget = self
            .budget
            .lock()
            .unwrap_or_else(|poison| poison.into_inner());
        budget.remaining = Some(0);
        budget.reset_at_ms = Some(now_ms() + retry_after.as_millis() as u64);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::{HeaderMap, HeaderValue};

    fn headers(remaining: u64, reset_at_ms: u64) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert("x-rate-limit-remaining", HeaderValue::from(remaining));
        headers.insert("x-rate-limit-reset", HeaderValue::from(reset_at_ms));
        headers
    }

    #[test]
    fn requests_go_while_the_budget_lasts_then_wait_for_the_reset() {
        let gate = RateGate::default();
        assert_eq!(gate.reserve(1_000), None, "unknown budget: go");
        gate.observe(&headers(2, 61_000));
        assert_eq!(gate.reserve(1_000), None);
        assert_eq!(gate.reserve(1_000), None);
        assert_eq!(gate.reserve(1_000), Some(Duration::from_millis(60_050)));
        assert_eq!(gate.reserve(61_001), None, "after the reset: go");
    }

    #[test]
    fn a_429_blocks_until_retry_after() {
        let gate = RateGate::default();
        gate.exhausted_for(Duration::from_secs(30));
        let pause = gate.reserve(now_ms()).unwrap();
        assert!(pause > Duration::from_secs(29) && pause <= Duration::from_millis(30_050));
    }
}
