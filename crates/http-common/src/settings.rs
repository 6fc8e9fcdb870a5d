//! `[http]` and `[rate_limit]` settings: how every service's HTTP side listens, bounds its
//! clients and counts requests, each checked by its own `validate`.

use crate::{BrowserPolicy, ServeOptions, ServerLimits};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
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
    /// Requests handled at once per process; past it `503 SERVER_BUSY` with `Retry-After`.
    pub max_in_flight: usize,
    /// Origins (`https://app.example.com`) whose web pages may call the API (CORS); none by
    /// default, `*` for any page without credentials. (`default`: the layered config drops an
    /// empty list.)
    #[serde(default)]
    pub cors_allowed_origins: Vec<String>,
    /// Failed authentications (API keys, tokens, the operator token) per client address and
    /// minute; past it `429 AUTH_THROTTLED` until the minute ends.
    pub auth_failures_per_minute: u32,
    /// Behind a reverse proxy: the header that holds the client's address (its last entry),
    /// e.g. `X-Forwarded-For`. Unset: the peer address. Set it only behind a proxy that writes
    /// the header, or clients could pick their own address.
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
            max_in_flight: 256,
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
        if let Some(name) = self.client_address_header.as_deref().map(str::trim)
            && !name.is_empty()
            && name.parse::<axum::http::HeaderName>().is_err()
        {
            return Err(InvalidSetting::new(
                "http.client_address_header",
                "must be a header name",
            ));
        }
        if self.max_connections == 0 || self.max_in_flight == 0 {
            return Err(InvalidSetting::new(
                "http.max_connections",
                "connection and request caps must be at least 1",
            ));
        }
        Ok(())
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
            client_address_header: self
                .client_address_header
                .as_deref()
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .and_then(|name| name.parse().ok()),
        }
    }

    /// The limits the server loop applies.
    pub fn server_limits(&self) -> ServerLimits {
        ServerLimits {
            header_read_timeout: Duration::from_millis(self.header_read_timeout_ms),
            body_idle_timeout: Duration::from_millis(self.body_idle_timeout_ms),
            body_timeout: Duration::from_millis(self.body_timeout_ms),
            max_connections: self.max_connections,
            max_in_flight: self.max_in_flight,
        }
    }
}

/// `[rate_limit]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RateLimitSettings {
    /// Requests per minute per domain, unless the domain has its own limit.
    pub per_minute: u32,
}

impl Default for RateLimitSettings {
    fn default() -> Self {
        RateLimitSettings { per_minute: 60 }
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
        Ok(())
    }
}
