//! Observability: logging (structured JSON or text, filtered by `RUST_LOG`-style directives) and
//! Prometheus metrics.

mod metrics;

pub use metrics::{
    ActionLabels, ChunkLabels, HttpLabels, Metrics, OutcomeLabels, QueueLabels, RouteLabels,
    StateLabels,
};
use serde::{Deserialize, Serialize};
use tracing_subscriber::EnvFilter;

/// How log lines look.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// One JSON object per line (for log shippers).
    Json,
    /// Human-readable lines.
    #[default]
    Text,
}

/// `[log]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LogSettings {
    pub format: LogFormat,
    /// Filter directives, e.g. `info,userhub=debug`; `RUST_LOG` wins when set.
    pub filter: String,
}

impl Default for LogSettings {
    fn default() -> Self {
        LogSettings {
            format: LogFormat::Text,
            filter: "info,lapin=warn,tokio_postgres=warn".to_owned(),
        }
    }
}

/// The filter directives were not valid.
#[derive(Debug, thiserror::Error)]
#[error("invalid log filter: {0}")]
pub struct TelemetryError(String);

/// Installs the global subscriber; call once at process start (before any service starts).
pub fn init_logging(settings: &LogSettings) -> Result<(), TelemetryError> {
    let filter = match std::env::var("RUST_LOG") {
        Ok(directives) if !directives.is_empty() => EnvFilter::try_new(directives),
        _ => EnvFilter::try_new(&settings.filter),
    }
    .map_err(|error| TelemetryError(error.to_string()))?;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    let installed = match settings.format {
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    installed.map_err(|error| TelemetryError(error.to_string()))
}
