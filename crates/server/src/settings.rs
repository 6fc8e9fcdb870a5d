//! Settings: built-in defaults that work on a developer machine, then the optional file named by
//! `USERHUB_CONFIG`, then `USERHUB__SECTION__KEY` environment variables. Read once, at start-up,
//! and passed down explicitly.

use config::{Config, Environment, File};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use userhub_broker::BrokerSettings;
use userhub_gateway::GatewaySettings;
use userhub_store::DatabaseSettings;
use userhub_telemetry::LogSettings;
use userhub_worker_runtime::WorkerSettings;

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
}

impl Default for HttpSettings {
    fn default() -> Self {
        HttpSettings {
            addr: "127.0.0.1:8080".to_owned(),
            auth_cache_ms: 10_000,
            unauthenticated_domain: None,
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
    pub worker: WorkerSettings,
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
            .with_list_parse_key("broker.retry_delays_ms");
        let mut settings: Settings = builder.add_source(environment).build()?.try_deserialize()?;
        if settings.telemetry.otlp_endpoint.is_none() {
            settings.telemetry.otlp_endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok();
        }
        settings.validate()?;
        Ok(settings)
    }

    pub fn validate(&self) -> Result<(), SettingsError> {
        let addr = self.http_addr()?;
        let open_domain = self
            .http
            .unauthenticated_domain
            .as_deref()
            .is_some_and(|domain| !domain.is_empty());
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
        if self.broker.retry_delays_ms.is_empty() {
            return invalid("broker.retry_delays_ms", "needs at least one delay");
        }
        if let Some(token) = self.ops.operator_token.as_deref()
            && !token.is_empty()
            && token.trim().len() < 16
        {
            return invalid("ops.operator_token", "must be at least 16 characters");
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

#[cfg(test)]
mod tests {
    use super::*;

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
