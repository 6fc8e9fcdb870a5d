//! Throttling of failed authentication. Only failures are judged: a request whose credentials
//! are valid is never refused here, so a key keeps working from an address that others (an
//! office, a NAT, a proxy) used to guess. Failures are counted per client address bucket (see
//! [`ClientAddress::bucket`]) and, for a known key id presented with a wrong secret, per key id
//! (a guess at one key from many addresses). Past `limit` failures within a minute, further
//! failures of that address or key id are answered `429 AUTH_THROTTLED` instead of `401` until
//! the minute ends. The tables are bounded: expired entries are dropped when one fills (at most
//! once a second, so that a flood of new addresses does not scan it on every failure), and
//! while it is full of live entries new entries are not tracked.

use crate::client_address::ClientAddress;
use std::collections::HashMap;
use std::hash::Hash;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Entries tracked at once, per table.
const MAX_TRACKED: usize = 65_536;
/// Shortest time between two sweeps of a full table.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    window_end: Instant,
}

/// Failures per key, and when the table was last swept.
#[derive(Debug)]
struct Table<K> {
    entries: HashMap<K, Failures>,
    swept_at: Option<Instant>,
}

impl<K: Eq + Hash> Table<K> {
    fn new() -> Self {
        Table {
            entries: HashMap::new(),
            swept_at: None,
        }
    }

    /// Counts a failure of `key`; `Err(seconds)` once it is past `limit` in its window.
    fn fail(&mut self, key: K, limit: u32, now: Instant) -> Result<(), u64> {
        if !self.entries.contains_key(&key) && self.entries.len() >= MAX_TRACKED {
            let due = self
                .swept_at
                .is_none_or(|swept| now.saturating_duration_since(swept) >= SWEEP_INTERVAL);
            if due {
                self.entries.retain(|_, entry| entry.window_end > now);
                self.swept_at = Some(now);
            }
            if self.entries.len() >= MAX_TRACKED {
                return Ok(());
            }
        }
        let entry = self.entries.entry(key).or_insert(Failures {
            count: 0,
            window_end: now + WINDOW,
        });
        if entry.window_end <= now {
            *entry = Failures {
                count: 0,
                window_end: now + WINDOW,
            };
        }
        entry.count = entry.count.saturating_add(1);
        if entry.count > limit {
            let wait = entry.window_end.saturating_duration_since(now);
            return Err(wait.as_secs_f64().ceil().max(1.0) as u64);
        }
        Ok(())
    }
}

/// Failed authentications per client address and per key id.
#[derive(Debug)]
pub struct AuthThrottle {
    limit: u32,
    addresses: Mutex<Table<IpAddr>>,
    keys: Mutex<Table<String>>,
}

impl AuthThrottle {
    /// Allows `limit_per_minute` failures per address (and per key id) and minute.
    pub fn new(limit_per_minute: u32) -> AuthThrottle {
        AuthThrottle {
            limit: limit_per_minute.max(1),
            addresses: Mutex::new(Table::new()),
            keys: Mutex::new(Table::new()),
        }
    }

    /// The failures allowed per address and minute.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// Counts a failed authentication from `address`, of `key_id` when a known key id came
    /// with a wrong secret. `Err(seconds)` when the failure should be answered `429`.
    pub fn fail(&self, address: Option<ClientAddress>, key_id: Option<&str>) -> Result<(), u64> {
        self.fail_at(address, key_id, Instant::now())
    }

    fn fail_at(
        &self,
        address: Option<ClientAddress>,
        key_id: Option<&str>,
        now: Instant,
    ) -> Result<(), u64> {
        let by_address = address.map_or(Ok(()), |address| {
            lock(&self.addresses).fail(address.bucket(), self.limit, now)
        });
        let by_key = key_id.map_or(Ok(()), |key_id| {
            lock(&self.keys).fail(key_id.to_owned(), self.limit, now)
        });
        match (by_address, by_key) {
            (Err(a), Err(b)) => Err(a.max(b)),
            (Err(wait), Ok(())) | (Ok(()), Err(wait)) => Err(wait),
            (Ok(()), Ok(())) => Ok(()),
        }
    }

    /// Addresses currently tracked (for tests and metrics).
    pub fn tracked(&self) -> usize {
        lock(&self.addresses).entries.len()
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<ClientAddress> {
        Some(ClientAddress::new(text.parse().unwrap()))
    }

    #[test]
    fn failures_past_the_limit_are_throttled_until_the_minute_ends() {
        let throttle = AuthThrottle::new(3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(throttle.fail_at(at("10.0.0.1"), None, start).is_ok());
        }
        let later = start + Duration::from_secs(20);
        assert_eq!(throttle.fail_at(at("10.0.0.1"), None, later), Err(40));
        assert!(
            throttle.fail_at(at("10.0.0.2"), None, start).is_ok(),
            "other addresses are not affected"
        );
        let next_minute = start + Duration::from_secs(61);
        assert!(throttle.fail_at(at("10.0.0.1"), None, next_minute).is_ok());
    }

    #[test]
    fn a_mapped_ipv4_client_counts_as_itself_not_its_neighbours() {
        let throttle = AuthThrottle::new(1);
        let start = Instant::now();
        throttle.fail_at(at("::ffff:192.0.2.1"), None, start).ok();
        assert!(throttle.fail_at(at("192.0.2.1"), None, start).is_err());
        assert!(
            throttle
                .fail_at(at("::ffff:192.0.2.2"), None, start)
                .is_ok()
        );
    }

    #[test]
    fn ipv6_addresses_count_by_their_network() {
        let throttle = AuthThrottle::new(1);
        let start = Instant::now();
        throttle.fail_at(at("2001:db8:1:2::1"), None, start).ok();
        assert!(
            throttle
                .fail_at(at("2001:db8:1:2::ffff"), None, start)
                .is_err()
        );
        assert!(throttle.fail_at(at("2001:db8:1:3::1"), None, start).is_ok());
    }

    #[test]
    fn guesses_at_one_key_are_counted_across_addresses() {
        let throttle = AuthThrottle::new(2);
        let start = Instant::now();
        for n in 0..2 {
            let address = at(&format!("10.0.1.{n}"));
            assert!(throttle.fail_at(address, Some("k1"), start).is_ok());
        }
        assert!(throttle.fail_at(at("10.0.1.9"), Some("k1"), start).is_err());
        assert!(throttle.fail_at(at("10.0.1.9"), Some("k2"), start).is_ok());
    }

    #[test]
    fn a_full_table_is_swept_at_most_once_a_second() {
        let throttle = AuthThrottle::new(5);
        let start = Instant::now();
        for n in 0..MAX_TRACKED as u32 {
            let address = Some(ClientAddress::new(IpAddr::from(n.to_be_bytes())));
            throttle.fail_at(address, None, start).ok();
        }
        let stranger = |n: u16| at(&format!("2001:db8:{n:x}::1"));
        throttle
            .fail_at(stranger(1), None, start + Duration::from_millis(1))
            .ok();
        throttle
            .fail_at(stranger(2), None, start + Duration::from_millis(2))
            .ok();
        assert_eq!(throttle.tracked(), MAX_TRACKED, "live entries are kept");
        let expired = start + WINDOW + Duration::from_secs(1);
        throttle.fail_at(stranger(3), None, expired).ok();
        assert_eq!(throttle.tracked(), 1, "expired entries are swept");
    }
}
