//! Observability: logging (structured JSON or text, filtered by `RUST_LOG`-style directives) and
//! Prometheus metrics.

mod metrics;
mod probe;
mod tracing_setup;

pub use metrics::{
    ActionLabels, ChunkLabels, HttpLabels, MetricSet, Metrics, OutcomeLabels, QueueLabels,
    RouteLabels, StateLabels,
};
pub use probe::{BrokerProbe, QueueCounts, QueueCountsFuture};
use serde::{Deserialize, Serialize};
pub use tracing_setup::{Telemetry, continue_trace, init, init_with_exporter, trace_context_of};

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

/// The filter directives or the exporter settings were not valid.
#[derive(Debug, thiserror::Error)]
#[error("invalid telemetry settings: {0}")]
pub struct TelemetryError(String);
