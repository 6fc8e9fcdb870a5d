//! Settings: built-in defaults that work on a developer machine, then the optional file named by
//! `USERHUB_CONFIG`, then `USERHUB__SECTION__KEY` environment variables. Read once, at start-up,
//! and passed down explicitly.

use config::{Config, Environment, File};
use serde::{Deserialize, Serialize};
use userhub_broker::BrokerSettings;
use userhub_domain::InvalidSetting;
use userhub_gateway::GatewaySettings;
use userhub_http_common::{HttpSettings, ProcessSettings, RateLimitSettings};
use userhub_status::{OpsSettings, StatusSettings};
use userhub_store::DatabaseSettings;
use userhub_tasks::{RetentionSettings, WorkerSettings};
use userhub_telemetry::LogSettings;
use userhub_webhooks::WebhookSettings;

/// `[telemetry]` settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct TelemetrySettings {
    /// OTLP/HTTP collector base URL (e.g. `http://otel-collector:4318`); traces are exported when
    /// set. Defaults to the standard `OTEL_EXPORTER_OTLP_ENDPOINT`.
    pub otlp_endpoint: Option<String>,
}

/// `[combined]` settings: `userhub-server all`, which runs the HTTP services and the workers in
/// one process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct CombinedSettings {
    /// How much nicer (lower in CPU priority, 0–19) than the HTTP threads the workers' own
    /// threads run, so that accepting a task or reading a status is not queued behind chunk
    /// work on shared cores; 0 runs the workers on the HTTP threads.
    pub worker_nice: i32,
}

impl Default for CombinedSettings {
    fn default() -> Self {
        CombinedSettings { worker_nice: 10 }
    }
}

impl CombinedSettings {
    fn validate(&self) -> Result<(), InvalidSetting> {
        if !(0..=19).contains(&self.worker_nice) {
            return Err(InvalidSetting::new(
                "combined.worker_nice",
                "must be between 0 and 19",
            ));
        }
        Ok(())
    }
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
    pub webhooks: WebhookSettings,
    #[serde(default)]
    pub combined: CombinedSettings,
}

/// Settings that could not be read or make no sense.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    #[error("cannot read settings: {0}")]
    Read(#[from] config::ConfigError),
    #[error(transparent)]
    Invalid(#[from] InvalidSetting),
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
            .with_list_parse_key("webhooks.retry_delays_ms")
            .with_list_parse_key("http.cors_allowed_origins")
            .with_list_parse_key("http.trusted_proxies")
            .with_list_parse_key("webhooks.old_secret_keys");
        let mut settings: Settings = builder.add_source(environment).build()?.try_deserialize()?;
        if settings.telemetry.otlp_endpoint.is_none() {
            settings.telemetry.otlp_endpoint = std::env::var("OTEL_EXPORTER_OTLP_ENDPOINT").ok();
        }
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every section, each by its own crate's rules.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.http.validate()?;
        self.status.validate()?;
        self.rate_limit.validate()?;
        self.broker.validate()?;
        self.gateway.validate()?;
        self.retention.validate()?;
        self.ops.validate()?;
        self.webhooks.validate()?;
        self.combined.validate()?;
        Ok(())
    }

    /// What a service process is made from.
    pub fn process(&self) -> ProcessSettings {
        ProcessSettings {
            database: self.database.clone(),
            http: self.http.clone(),
            rate_limit: self.rate_limit.clone(),
            request_limits: self.gateway.request_limits(),
        }
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
            Err(SettingsError::Invalid(InvalidSetting {
                key: "http.unauthenticated_domain",
                ..
            }))
        ));
    }

    #[test]
    fn nonsense_is_rejected_with_the_key() {
        let mut settings = Settings::default();
        settings.http.addr = "nowhere".into();
        assert!(matches!(
            settings.validate(),
            Err(SettingsError::Invalid(InvalidSetting {
                key: "http.addr",
                ..
            }))
        ));
    }
}
