//! `[http]` and `[rate_limit]` settings: how every service's HTTP side listens, bounds its
//! clients and counts requests, each checked by its own `validate`.

use crate::client_address::AddressPolicy;
use crate::{BrowserPolicy, ServeOptions, ServerLimits};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use userhub_domain::InvalidSetting;

/// `[http]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HttpSettings {
    /// Address to listen on.
    pub addr: String,
    /// How long a verified API key is trusted before it is looked up again (revocation delay).
    pub auth_cache_ms: u64,
    /// Local demo mode: requests *without* credentials to this domain are admitted (for tools
    /// that cannot send the key). Only allowed when listening on a loopback address.
    pub unauthenticated_domain: Option<String>,
    /// Time allowed for a request's headers; also how long an idle keep-alive connection stays.
    pub header_read_timeout_ms: u64,
    /// Longest pause between two pieces of a request body (`408` past it).
    pub body_idle_timeout_ms: u64,
    /// Time allowed for a whole request body (`408` past it).
    pub body_timeout_ms: u64,
    /// Open connections per process; the one past it is answered `503` and closed.
    pub max_connections: usize,
    /// Open connections per client address (an IPv4 host or an IPv6 /64); the one past it is
    /// answered `429 TOO_MANY_CONNECTIONS` and closed. Trusted proxies are exempt.
    pub max_connections_per_address: usize,
    /// Authenticated requests handled at once per process; past it `503 SERVER_BUSY`.
    pub max_in_flight: usize,
    /// The share of `max_in_flight` (and of the database pool) one domain's requests may hold,
    /// in percent; past it that domain's requests get `429 TOO_MANY_CONCURRENT_REQUESTS` (or
    /// wait for a connection).
    pub domain_share_percent: u8,
    /// Requests handled at once before they authenticate (compatible endpoints reading their
    /// token from the body) or on anonymous routes (the dashboard page, `/openapi.json`).
    pub max_unauthenticated_in_flight: usize,
    /// Longest time an answer waits for the client to read more of it before the connection
    /// is closed.
    pub write_timeout_ms: u64,
    /// Proxies (addresses or CIDR ranges) whose `client_address_header` is believed; requests
    /// from anyone else are counted by their own address.
    #[serde(default)]
    pub trusted_proxies: Vec<String>,
    /// A bearer token that opens `/metrics` on this listener; unset, `/metrics` is served only
    /// on `metrics_addr`.
    pub metrics_token: Option<String>,
    /// A separate listener for `/metrics` (and the probes) without a token, for a private
    /// network (e.g. `0.0.0.0:9464` in a pod that only Prometheus may reach).
    pub metrics_addr: Option<String>,
    /// Origins (`https://app.example.com`) whose web pages may call the API (CORS); none by
    /// default, `*` for any page without credentials. (`default`: the layered config drops an
    /// empty list.)
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    /// Failed authentications (API keys, tokens, the operator token) per client address (and
    /// per key id guessed at) and minute; past it further failures are answered
    /// `429 AUTH_THROTTLED` until the minute ends. Valid credentials are never refused.
    pub auth_failures_per_minute: u32,
    /// Behind a reverse proxy: the header that holds the client's address (its last entry),
    /// e.g. `X-Forwarded-For`, believed only from `trusted_proxies`. Unset: the peer address.
    pub client_address_header: Option<String>,
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            addr: "127.0.0.1:8080".to_owned(),
            auth_cache_ms: 10_000,
            unauthenticated_domain: None,
            header_read_timeout_ms: 10_000,
            body_idle_timeout_ms: 30_000,
            body_timeout_ms: 600_000,
            max_connections: 1_024,
            max_connections_per_address: 128,
            max_in_flight: 256,
            domain_share_percent: 25,
            max_unauthenticated_in_flight: 64,
            write_timeout_ms: 60_000,
            trusted_proxies: Vec::new(),
            metrics_token: None,
            metrics_addr: None,
            cors_allowed_origins: Vec::new(),
            auth_failures_per_minute: 20,
            client_address_header: None,
        }
    }
}

impl HttpSettings {
    /// The address to listen on.
    pub fn socket_addr(&self) -> Result<SocketAddr, InvalidSetting> {
        self.addr
            .parse()
            .map_err(|error: std::net::AddrParseError| {
                InvalidSetting::new("http.addr", format!("`{}`: {error}", self.addr))
            })
    }

    /// Checks the section; the first problem found is answered.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let addr = self.socket_addr()?;
        let open_domain = self.demo_mode();
        if open_domain && !addr.ip().is_loopback() {
            return Err(InvalidSetting::new(
                "http.unauthenticated_domain",
                "admitting requests without a key is only allowed on a loopback address \
                 (local demo mode)",
            ));
        }
        let timeouts = [
            ("http.header_read_timeout_ms", self.header_read_timeout_ms),
            ("http.body_idle_timeout_ms", self.body_idle_timeout_ms),
            ("http.body_timeout_ms", self.body_timeout_ms),
            ("http.write_timeout_ms", self.write_timeout_ms),
        ];
        for (key, value) in timeouts {
            if value == 0 {
                return Err(InvalidSetting::new(key, "must be at least 1 ms"));
            }
        }
        if open_domain && self.cors_allowed_origins.iter().any(|origin| origin == "*") {
            return Err(InvalidSetting::new(
                "http.cors_allowed_origins",
                "`*` would let any web page use the domain that local demo mode opens without a key",
            ));
        }
        if self.auth_failures_per_minute == 0 {
            return Err(InvalidSetting::new(
                "http.auth_failures_per_minute",
                "must be at least 1",
            ));
        }
        self.validate_addresses()?;
        let caps = [
            ("http.max_connections", self.max_connections),
            (
                "http.max_connections_per_address",
                self.max_connections_per_address,
            ),
            ("http.max_in_flight", self.max_in_flight),
            (
                "http.max_unauthenticated_in_flight",
                self.max_unauthenticated_in_flight,
            ),
        ];
        for (key, value) in caps {
            if value == 0 {
                return Err(InvalidSetting::new(key, "must be at least 1"));
            }
        }
        if !(1..=100).contains(&self.domain_share_percent) {
            return Err(InvalidSetting::new(
                "http.domain_share_percent",
                "must be between 1 and 100",
            ));
        }
        if let Some(token) = self.metrics_token()
            && token.len() < 16
        {
            return Err(InvalidSetting::new(
                "http.metrics_token",
                "must be at least 16 characters",
            ));
        }
        Ok(())
    }

    /// Checks the client-address header, the trusted proxies and the metrics listener.
    fn validate_addresses(&self) -> Result<(), InvalidSetting> {
        let header = self.client_address_header.as_deref().map(str::trim);
        if let Some(name) = header
            && !name.is_empty()
        {
            if name.parse::<axum::http::HeaderName>().is_err() {
                return Err(InvalidSetting::new(
                    "http.client_address_header",
                    "must be a header name",
                ));
            }
            if self.trusted_proxies.is_empty() {
                return Err(InvalidSetting::new(
                    "http.trusted_proxies",
                    "must name the proxies (addresses or CIDR ranges) whose client-address \
                     header is believed, or anyone could pick their own address",
                ));
            }
        }
        self.trusted_proxy_nets()?;
        if let Some(addr) = self.metrics_addr()
            && addr.parse::<SocketAddr>().is_err()
        {
            return Err(InvalidSetting::new(
                "http.metrics_addr",
                format!("`{addr}` is not an address with a port"),
            ));
        }
        Ok(())
    }

    /// The trusted proxies as networks (a plain address is a /32 or /128).
    pub fn trusted_proxy_nets(&self) -> Result<Vec<IpNet>, InvalidSetting> {
        self.trusted_proxies
            .iter()
            .map(|entry| entry.trim())
            .filter(|entry| !entry.is_empty())
            .map(|entry| {
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| {
                        InvalidSetting::new(
                            "http.trusted_proxies",
                            format!("`{entry}` is not an address or CIDR range"),
                        )
                    })
            })
            .collect()
    }

    /// The metrics token, when one is set.
    pub fn metrics_token(&self) -> Option<&str> {
        self.metrics_token
            .as_deref()
            .map(str::trim)
            .filter(|token| !token.is_empty())
    }

    /// The separate metrics listener's address, when one is set.
    pub fn metrics_addr(&self) -> Option<&str> {
        self.metrics_addr
            .as_deref()
            .map(str::trim)
            .filter(|addr| !addr.is_empty())
    }

    /// Which web pages may call the API: the CORS allow-list, and in local demo mode only
    /// pages and host names of this machine.
    pub fn browser_policy(&self) -> BrowserPolicy {
        BrowserPolicy {
            allowed_origins: self.cors_allowed_origins.clone(),
            loopback_only: self.demo_mode(),
        }
    }

    /// Whether one domain is open without a key (local demo mode).
    pub fn demo_mode(&self) -> bool {
        self.unauthenticated_domain
            .as_deref()
            .is_some_and(|domain| !domain.is_empty())
    }

    /// How the server loop serves: its limits, the browser policy and the client's address.
    pub fn serve_options(&self) -> ServeOptions {
        ServeOptions {
            limits: self.server_limits(),
            browsers: self.browser_policy(),
            addresses: AddressPolicy {
                header: self
                    .client_address_header
                    .as_deref()
                    .map(str::trim)
                    .filter(|name| !name.is_empty())
                    .and_then(|name| name.parse().ok()),
                // Checked by `validate`.
                trusted_proxies: self.trusted_proxy_nets().unwrap_or_default(),
            },
        }
    }

    /// The limits the server loop applies.
    pub fn server_limits(&self) -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            body_idle_timeout: Duration::from_millis(self.body_idle_timeout_ms),
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            max_connections: self.max_connections,
            max_connections_per_address: self.max_connections_per_address,
            write_timeout: Duration::from_millis(self.write_timeout_ms),
        }
    }
}

/// `[rate_limit]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimitSettings {
    /// Requests per minute per domain, unless the domain has its own limit.
    pub per_minute: u32,
    /// The most requests of a window one process leases at once (it leases a sixteenth of what
    /// remains, within this); 1 makes every request a database round trip.
    pub max_lease: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings {
            per_minute: 60,
            max_lease: 256,
        }
    }
}

impl RateLimitSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.per_minute == 0 {
            return Err(InvalidSetting::new(
                "rate_limit.per_minute",
                "must be at least 1",
            ));
        }
        if self.max_lease == 0 {
            return Err(InvalidSetting::new(
                "rate_limit.max_lease",
                "must be at least 1",
            ));
        }
        Ok(())
    }
}
