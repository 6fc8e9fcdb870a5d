//! Per-domain rate limits: a fixed window of `limit` requests per domain that opens at the
//! window's first request and lasts a minute — what the original API's headers show
//! (`Remaining` counts down, `Reset` is the end of the window in epoch milliseconds). The
//! windows live in PostgreSQL (`store::rate_windows`), so every gateway and status replica
//! counts against the same limit; a process leases a batch of a window's requests at once (a
//! sixteenth of what remains, at most `rate_limit.max_lease`) and spends it in memory, so a
//! request costs a database round trip only when its process's lease is spent. Leased requests
//! count as used: replicas together never admit more than the limit; a lease one process has
//! not spent when its traffic moves to another is lost for that window (at most a sixteenth of
//! what remained when it was leased). Kept by hand: the `governor` crate's keyed limiters keep
//! their state in one process, give every key one quota (domains have their own), refill
//! continuously (GCRA) and expose no window end for `Reset`.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use userhub_store::StoreError;
use userhub_store::TenantPool;
use userhub_store::rate_windows::{Lease, lease};

/// Counters kept in memory before expired ones are swept out.
const SWEEP_AT: usize = 4096;

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

/// What this process holds of one counter's window.
#[derive(Debug, Clone, Copy)]
struct Held {
    /// The limit the requests were leased under.
    limit: u32,
    /// Requests leased and not spent yet.
    unspent: u32,
    /// Requests leased in the window by every process, as of this process's last lease.
    used: u32,
    window_end_ms: i64,
    /// When the window ends by this process's clock (never later than the database's end).
    expires: Instant,
}

impl Held {
    fn of(limit: u32, lease: Lease, asked_at: Instant) -> Held {
        let left = u64::try_from(lease.window_end_ms - lease.now_ms).unwrap_or(0);
        Held {
            limit,
            unspent: lease.granted,
            used: lease.used,
            window_end_ms: lease.window_end_ms,
            // Counted from before the question was sent: the local window never outlives the
            // database's.
            expires: asked_at + Duration::from_millis(left),
        }
    }

    fn current(&self, limit: u32, now: Instant) -> bool {
        self.limit == limit && now < self.expires
    }

    /// Spends one request if one is held; the decision either way.
    fn spend(&mut self, now: Instant) -> RateDecision {
        let allowed = self.unspent > 0;
        if allowed {
            self.unspent -= 1;
        }
        let spent_everywhere = self.used.saturating_sub(self.unspent);
        RateDecision {
            allowed,
            limit: self.limit,
            remaining: self.limit.saturating_sub(spent_everywhere),
            reset_at_ms: self.window_end_ms,
            retry_after_secs: if allowed {
                0
            } else {
                let left = self.expires.saturating_duration_since(now);
                left.as_millis().div_ceil(1000).max(1) as u64
            },
        }
    }

    /// Adds a later lease of the same window.
    fn absorb(&mut self, later: Held) {
        self.unspent += later.unspent;
        self.used = self.used.max(later.used);
        self.expires = self.expires.min(later.expires);
    }
}

/// Counters keyed by domain name (or a product's counter of a domain), shared through the
/// database by every process and leased into this one.
#[derive(Debug)]
pub struct RateLimiter {
    default_per_minute: u32,
    max_lease: u32,
    held: Mutex<HashMap<String, Held>>,
}

impl RateLimiter {
    pub fn new(default_per_minute: u32, max_lease: u32) -> RateLimiter {
        RateLimiter {
            default_per_minute: default_per_minute.max(1),
            max_lease: max_lease.max(1),
            held: Mutex::new(HashMap::new()),
        }
    }

    pub fn default_per_minute(&self) -> u32 {
        self.default_per_minute
    }

    /// Counts one request against `key`, whose limit is `per_minute` (else the default): from
    /// what this process holds, or from a new lease taken on a connection of `database`.
    pub async fn check(
        &self,
        database: &TenantPool,
        key: &str,
        per_minute: Option<u32>,
    ) -> Result<RateDecision, StoreError> {
        let limit = per_minute.unwrap_or(self.default_per_minute).max(1);
        if let Some(decision) = self.spend_held(key, limit) {
            return Ok(decision);
        }
        let asked_at = Instant::now();
        let client = database.get().await?;
        let leased = lease(&*client, key, limit, self.max_lease).await?;
        drop(client);
        Ok(self.with_lease(key, Held::of(limit, leased, asked_at)))
    }

    /// The decision from this process's lease, when it holds a request or knows the window is
    /// spent; `None` when it must lease.
    fn spend_held(&self, key: &str, limit: u32) -> Option<RateDecision> {
        let now = Instant::now();
        let mut held = self.lock();
        let counter = held.get_mut(key)?;
        if !counter.current(limit, now) {
            return None;
        }
        let spent_out = counter.used >= limit;
        if counter.unspent == 0 && !spent_out {
            return None;
        }
        Some(counter.spend(now))
    }

    /// Keeps a new lease (with what is still held of the same window) and spends from it.
    fn with_lease(&self, key: &str, fresh: Held) -> RateDecision {
        let now = Instant::now();
        let mut held = self.lock();
        if held.len() >= SWEEP_AT {
            held.retain(|_, counter| now < counter.expires);
        }
        let counter = match held.entry(key.to_owned()) {
            Entry::Occupied(entry) => {
                let counter = entry.into_mut();
                if counter.window_end_ms == fresh.window_end_ms && counter.limit == fresh.limit {
                    counter.absorb(fresh);
                } else {
                    *counter = fresh;
                }
                counter
            }
            Entry::Vacant(entry) => entry.insert(fresh),
        };
        counter.spend(now)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Held>> {
        // A panic while holding the lock leaves counters that are still consistent numbers.
        self.held
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(limit: u32, granted: u32, used: u32) -> Held {
        let lease = Lease {
            granted,
            used,
            window_end_ms: 60_000,
            now_ms: 8_500,
        };
        Held::of(limit, lease, Instant::now())
    }

    #[test]
    fn a_lease_is_spent_one_request_at_a_time_and_remaining_counts_down() {
        let now = Instant::now();
        let mut counter = held(60, 3, 3);
        let remaining: Vec<u32> = (0..3)
            .map(|_| {
                let decision = counter.spend(now);
                assert!(decision.allowed);
                assert_eq!(decision.reset_at_ms, 60_000);
                decision.remaining
            })
            .collect();
        assert_eq!(remaining, [59, 58, 57]);
        let refused = counter.spend(now);
        assert!(!refused.allowed, "nothing is held any more");
    }

    #[test]
    fn a_spent_window_refuses_until_it_ends() {
        let now = Instant::now();
        let mut counter = held(60, 0, 60);
        let refused = counter.spend(now);
        assert!(!refused.allowed);
        assert_eq!(refused.remaining, 0);
        assert_eq!(refused.retry_after_secs, 52, "51.5 s rounds up");
        assert!(counter.current(60, now));
        assert!(!counter.current(61, now), "another limit leases again");
    }

    #[test]
    fn other_processes_leases_count_as_used() {
        let now = Instant::now();
        // This process holds 2 of the 10 leased in the window; the other 8 are elsewhere.
        let mut counter = held(100, 2, 10);
        assert_eq!(counter.spend(now).remaining, 91);
        counter.absorb(held(100, 4, 20));
        assert_eq!(counter.unspent, 5);
        assert_eq!(
            counter.spend(now).remaining,
            84,
            "20 leased, 4 of them unspent here"
        );
    }
}
