//! Settings: built-in defaults that work on a developer machine, then the optional file named by
//! `USERHUB_CONFIG`, then `USERHUB__SECTION__KEY` environment variables. Read once, at start-up,
//! and passed down explicitly.

use config::{Config, Environment, File};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use userhub_broker::BrokerSettings;
use userhub_gateway::GatewaySettings;
use userhub_status::StatusSettings;
use userhub_store::DatabaseSettings;
use userhub_telemetry::LogSettings;
use userhub_worker_runtime::{MAX_RETENTION_DAYS, RetentionSettings, WorkerSettings};

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
    /// Which web pages may call the API: the CORS allow-list, and in local demo mode only
    /// pages and host names of this machine.
    pub fn browser_policy(&self) -> userhub_http_common::BrowserPolicy {
        userhub_http_common::BrowserPolicy {
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
    pub fn serve_options(&self) -> userhub_http_common::ServeOptions {
        userhub_http_common::ServeOptions {
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
    pub fn server_limits(&self) -> userhub_http_common::ServerLimits {
        use std::time::Duration;
        userhub_http_common::ServerLimits {
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

/// `[telemetry]` settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TelemetrySettings {
    /// OTLP/HTTP collector base URL (e.g. `http://otel-collector:4318`); traces are exported when
    /// set. Defaults to the standard `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
}

/// `[ops]` settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OpsSettings {
    /// The token that opens the operator dashboard at `/ops/` (at least 16 characters); the
    /// dashboard's data endpoint is disabled while it is unset.
    pub operator_token: Option<String>,
}

/// Every setting of the server.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Settings {
    pub database: DatabaseSettings,
    pub broker: BrokerSettings,
    pub http: HttpSettings,
    pub rate_limit: RateLimitSettings,
    pub gateway: GatewaySettings,
    pub status: StatusSettings,
    pub worker: WorkerSettings,
    pub retention: RetentionSettings,
    pub log: LogSettings,
    pub telemetry: TelemetrySettings,
    pub ops: OpsSettings,
}

/// Settings that could not be read or make no sense.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings: {0}")]
    Read(#[from] config::ConfigError),
    #[error("invalid setting {key}: {reason}")]
    Invalid { key: &'static str, reason: String },
}

impl Settings {
    /// Layers defaults, the `USERHUB_CONFIG` file and the environment, then validates.
    pub fn load() -> Result<Settings, SettingsError> {
        let mut builder = Config::builder().add_source(Config::try_from(&Settings::default())?);
        if let Ok(path) = std::env::var("USERHUB_CONFIG") {
            builder = builder.add_source(File::with_name(&path).required(true));
        }
        let environment = Environment::with_prefix("USERHUB")
            .prefix_separator("__")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("broker.retry_delays_ms")
            .with_list_parse_key("http.cors_allowed_origins");
        let mut settings: Settings = builder.add_source(environment).build()?.try_deserialize()?;
        if settings.telemetry.otlp_endpoint.is_none() {
            settings.telemetry.otlp_endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok();
        }
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        let addr = self.http_addr()?;
        let open_domain = self.http.demo_mode();
        if open_domain && !addr.ip().is_loopback() {
            return Err(SettingsError::Invalid {
                key: "http.unauthenticated_domain",
                reason: "admitting requests without a key is only allowed on a loopback address \
                         (local demo mode)"
                    .to_owned(),
            });
        }
        let invalid = |key, reason: &str| {
            Err(SettingsError::Invalid {
                key,
                reason: reason.to_owned(),
            })
        };
        let http = &self.http;
        let timeouts = [
            ("http.header_read_timeout_ms", http.header_read_timeout_ms),
            ("http.body_idle_timeout_ms", http.body_idle_timeout_ms),
            ("http.body_timeout_ms", http.body_timeout_ms),
        ];
        for (key, value) in timeouts {
            if value == 0 {
                return invalid(key, "must be at least 1 ms");
            }
        }
        if open_domain && http.cors_allowed_origins.iter().any(|origin| origin == "*") {
            return invalid(
                "http.cors_allowed_origins",
                "`*` would let any web page use the domain that local demo mode opens without a key",
            );
        }
        if http.auth_failures_per_minute == 0 {
            return invalid("http.auth_failures_per_minute", "must be at least 1");
        }
        if let Some(name) = http.client_address_header.as_deref().map(str::trim)
            && !name.is_empty()
            && name.parse::<axum::http::HeaderName>().is_err()
        {
            return invalid("http.client_address_header", "must be a header name");
        }
        if http.max_connections == 0 || http.max_in_flight == 0 {
            return invalid(
                "http.max_connections",
                "connection and request caps must be at least 1",
            );
        }
        if self.status.download_idle_timeout_ms == 0 || self.status.downloads_per_domain == 0 {
            return invalid(
                "status.downloads_per_domain",
                "download limits must be at least 1",
            );
        }
        if self.rate_limit.per_minute == 0 {
            return invalid("rate_limit.per_minute", "must be at least 1");
        }
        if self.broker.prefix.is_empty() || self.broker.prefix.contains(char::is_whitespace) {
            return invalid("broker.prefix", "must be a non-empty name without spaces");
        }
        if self.gateway.records_per_task == 0 || self.gateway.chunk_records == 0 {
            return invalid(
                "gateway.records_per_task",
                "record limits must be at least 1",
            );
        }
        let retention = &self.retention;
        if retention.task_days == 0
            || retention.task_days > MAX_RETENTION_DAYS
            || retention.expired_task_days > MAX_RETENTION_DAYS
        {
            return Err(SettingsError::Invalid {
                key: "retention.task_days",
                reason: format!(
                    "retention periods must be 1 to {MAX_RETENTION_DAYS} days \
                     (expired_task_days may be 0)"
                ),
            });
        }
        if self.broker.retry_delays_ms.is_empty() {
            return invalid("broker.retry_delays_ms", "needs at least one delay");
        }
        if let Some(token) = self.ops.operator_token.as_deref()
            && !token.is_empty()
            && token.trim().len() < 16
        {
            return invalid("ops.operator_token", "must be at least 16 characters");
        }
        if let Some(token) = self.ops.operator_token.as_deref()
            && looks_like_placeholder(token)
        {
            return invalid(
                "ops.operator_token",
                "looks like a placeholder; use a random value, e.g. `openssl rand -hex 32`",
            );
        }
        Ok(())
    }

    pub fn http_addr(&self) -> Result<SocketAddr, SettingsError> {
        self.http
            .addr
            .parse()
            .map_err(|error: std::net::AddrParseError| SettingsError::Invalid {
                key: "http.addr",
                reason: format!("`{}`: {error}", self.http.addr),
            })
    }
}

/// Whether a secret reads like an example value rather than a random one: a word that example
/// files use, or too few different characters to be random.
fn looks_like_placeholder(secret: &str) -> bool {
    const WORDS: [&str; 7] = [
        "change",
        "replace",
        "placeholder",
        "example",
        "secret",
        "password",
        "xxxx",
    ];
    let secret = secret.trim().to_ascii_lowercase();
    if secret.is_empty() {
        return false;
    }
    let distinct = secret
        .chars()
        .collect::<std::collections::HashSet<_>>()
        .len();
    WORDS.iter().any(|word| secret.contains(word)) || distinct < 8
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholder_operator_tokens_are_refused() {
        for token in [
            "change-me-to-a-long-random-token",
            "REPLACE-ME-with-openssl-rand-hex-32",
            "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            "abababababababababab",
            "my-secret-dashboard-key",
        ] {
            let mut settings = Settings::default();
            settings.ops.operator_token = Some(token.to_owned());
            assert!(settings.validate().is_err(), "{token} was accepted");
        }
        let mut settings = Settings::default();
        settings.ops.operator_token = Some("3f9c1e0b7a5d2c4e8f6a1b3c5d7e9f0a".to_owned());
        settings.validate().unwrap();
    }

    #[test]
    fn defaults_are_valid_and_local() {
        let settings = Settings::default();
        settings.validate().unwrap();
        assert_eq!(settings.http.addr, "127.0.0.1:8080");
        assert_eq!(settings.rate_limit.per_minute, 60);
        assert!(settings.database.url.starts_with("postgres://"));
    }

    #[test]
    fn an_unauthenticated_domain_is_only_allowed_on_loopback() {
        let mut settings = Settings::default();
        settings.http.unauthenticated_domain = Some("demo".into());
        settings.validate().unwrap();
        settings.http.addr = "0.0.0.0:8080".into();
        assert!(matches!(
            settings.validate(),
            Err(SettingsError::Invalid {
                key: "http.unauthenticated_domain",
                ..
            })
        ));
    }

    #[test]
    fn nonsense_is_rejected_with_the_key() {
        let mut settings = Settings::default();
        settings.http.addr = "nowhere".into();
        assert!(matches!(
            settings.validate(),
            Err(SettingsError::Invalid {
                key: "http.addr",
                ..
            })
        ));
    }
}
