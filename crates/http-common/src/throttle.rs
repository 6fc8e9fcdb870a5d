//! Throttling of failed authentication per client address: after `limit` failures within a
//! minute an address is answered `429 AUTH_THROTTLED` until its minute ends, before any key is
//! looked up. Addresses are IPv4 hosts or IPv6 /64 networks (one machine usually owns a whole
//! /64). The table is bounded: expired entries are dropped when it fills (at most once a
//! second, so that a flood of new addresses does not scan it on every failure), and while it is
//! full of live entries new addresses are not tracked.

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderName};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

const WINDOW: Duration = Duration::from_secs(60);
/// Addresses tracked at once.
const MAX_TRACKED: usize = 65_536;
/// Shortest time between two sweeps of a full table.
const SWEEP_INTERVAL: Duration = Duration::from_secs(1);

/// The address a request came from, as the server loop resolved it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddress(pub IpAddr);

/// Puts the [`ClientAddress`] into every request: the peer's address, or — behind a proxy the
/// operator named — the last address of `header` (e.g. `X-Forwarded-For`).
pub async fn resolve_client_address(
    State(header): State<Option<HeaderName>>,
    mut request: Request,
    next: Next,
) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(peer)| peer.ip());
    let forwarded = header
        .as_ref()
        .and_then(|header| forwarded_address(request.headers(), header));
    if let Some(address) = forwarded.or(peer) {
        request.extensions_mut().insert(ClientAddress(address));
    }
    next.run(request).await
}

/// The last (nearest) address of a forwarding header.
fn forwarded_address(headers: &HeaderMap, header: &HeaderName) -> Option<IpAddr> {
    let value = headers.get_all(header).iter().next_back()?.to_str().ok()?;
    value.rsplit(',').next()?.trim().parse().ok()
}

#[derive(Debug, Clone, Copy)]
struct Failures {
    count: u32,
    window_end: Instant,
}

/// The tracked addresses and when the table was last swept.
#[derive(Debug)]
struct Table {
    entries: HashMap<IpAddr, Failures>,
    swept_at: Option<Instant>,
}

/// Failed authentications per client address.
#[derive(Debug)]
pub struct AuthThrottle {
    limit: u32,
    failures: Mutex<Table>,
}

/// The table key of an address: IPv4 as is, IPv6 by its /64 network.
fn key_of(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V4(_) => address,
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            IpAddr::V6(Ipv6Addr::new(
                segments[0],
                segments[1],
                segments[2],
                segments[3],
                0,
                0,
                0,
                0,
            ))
        }
    }
}

impl AuthThrottle {
    /// Allows `limit_per_minute` failures per address and minute.
    pub fn new(limit_per_minute: u32) -> AuthThrottle {
        AuthThrottle {
            limit: limit_per_minute.max(1),
            failures: Mutex::new(Table {
                entries: HashMap::new(),
                swept_at: None,
            }),
        }
    }

    /// The failures allowed per address and minute.
    pub fn limit(&self) -> u32 {
        self.limit
    }

    /// `Err(seconds)` while `address` has used up its failures.
    pub fn check(&self, address: Option<ClientAddress>) -> Result<(), u64> {
        self.check_at(address, Instant::now())
    }

    /// Counts a failed authentication from `address`.
    pub fn record_failure(&self, address: Option<ClientAddress>) {
        self.record_at(address, Instant::now());
    }

    fn check_at(&self, address: Option<ClientAddress>, now: Instant) -> Result<(), u64> {
        let Some(ClientAddress(address)) = address else {
            return Ok(());
        };
        let table = self.lock();
        match table.entries.get(&key_of(address)) {
            Some(entry) if entry.window_end > now && entry.count >= self.limit => {
                let wait = entry.window_end.saturating_duration_since(now);
                Err(wait.as_secs_f64().ceil().max(1.0) as u64)
            }
            _ => Ok(()),
        }
    }

    fn record_at(&self, address: Option<ClientAddress>, now: Instant) {
        let Some(ClientAddress(address)) = address else {
            return;
        };
        let mut table = self.lock();
        let key = key_of(address);
        if !table.entries.contains_key(&key) && table.entries.len() >= MAX_TRACKED {
            let due = table
                .swept_at
                .is_none_or(|swept| now.saturating_duration_since(swept) >= SWEEP_INTERVAL);
            if due {
                table.entries.retain(|_, entry| entry.window_end > now);
                table.swept_at = Some(now);
            }
            if table.entries.len() >= MAX_TRACKED {
                return;
            }
        }
        let entry = table.entries.entry(key).or_insert(Failures {
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
    }

    /// Addresses currently tracked (for tests and metrics).
    pub fn tracked(&self) -> usize {
        self.lock().entries.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Table> {
        self.failures
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<ClientAddress> {
        Some(ClientAddress(text.parse().unwrap()))
    }

    #[test]
    fn an_address_is_refused_after_its_failures_until_the_minute_ends() {
        let throttle = AuthThrottle::new(3);
        let start = Instant::now();
        for _ in 0..3 {
            assert!(throttle.check_at(at("10.0.0.1"), start).is_ok());
            throttle.record_at(at("10.0.0.1"), start);
        }
        assert_eq!(
            throttle.check_at(at("10.0.0.1"), start + Duration::from_secs(20)),
            Err(40)
        );
        assert!(
            throttle.check_at(at("10.0.0.2"), start).is_ok(),
            "other addresses are not affected"
        );
        assert!(
            throttle
                .check_at(at("10.0.0.1"), start + Duration::from_secs(61))
                .is_ok()
        );
    }

    #[test]
    fn ipv6_addresses_count_by_their_network() {
        let throttle = AuthThrottle::new(1);
        let start = Instant::now();
        throttle.record_at(at("2001:db8:1:2::1"), start);
        assert!(throttle.check_at(at("2001:db8:1:2::ffff"), start).is_err());
        assert!(throttle.check_at(at("2001:db8:1:3::1"), start).is_ok());
    }

    #[test]
    fn the_nearest_forwarded_address_is_used() {
        let mut headers = HeaderMap::new();
        let name = HeaderName::from_static("x-forwarded-for");
        headers.insert(name.clone(), "203.0.113.9, 10.1.1.1".parse().unwrap());
        assert_eq!(
            forwarded_address(&headers, &name),
            Some("10.1.1.1".parse().unwrap())
        );
        headers.insert(name.clone(), "garbage".parse().unwrap());
        assert_eq!(forwarded_address(&headers, &name), None);
    }

    #[test]
    fn a_full_table_is_swept_at_most_once_a_second() {
        let throttle = AuthThrottle::new(5);
        let start = Instant::now();
        for n in 0..MAX_TRACKED as u32 {
            throttle.record_at(Some(ClientAddress(IpAddr::from(n.to_be_bytes()))), start);
        }
        let stranger = |n: u16| at(&format!("2001:db8:{n:x}::1"));
        throttle.record_at(stranger(1), start + Duration::from_millis(1));
        throttle.record_at(stranger(2), start + Duration::from_millis(2));
        assert_eq!(throttle.tracked(), MAX_TRACKED, "live entries are kept");
        throttle.record_at(stranger(3), start + WINDOW + Duration::from_secs(1));
        assert_eq!(throttle.tracked(), 1, "expired entries are swept");
    }
}
