//! `[broker]` settings.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrokerSettings {
    /// `amqp://user:password@host:port/vhost`.
    pub url: String,
    /// Prefixes every exchange and queue name, so installations or tests can share a broker.
    pub prefix: String,
    /// Unacknowledged deliveries per consumer channel.
    pub prefetch: u16,
    /// How long a publisher waits for the broker's confirms.
    pub confirm_timeout_ms: u64,
    /// Delays of the retry tiers, shortest first.
    pub retry_delays_ms: Vec<u64>,
    /// Delete queues unused for this long (tests use it to leave no queues behind).
    pub queue_expires_ms: Option<u64>,
}

impl BrokerSettings {
    /// Checks the section.
    pub fn validate(&self) -> Result<(), userhub_domain::InvalidSetting> {
        if self.prefix.is_empty() || self.prefix.contains(char::is_whitespace) {
            return Err(userhub_domain::InvalidSetting::new(
                "broker.prefix",
                "must be a non-empty name without spaces",
            ));
        }
        if self.retry_delays_ms.is_empty() {
            return Err(userhub_domain::InvalidSetting::new(
                "broker.retry_delays_ms",
                "needs at least one delay",
            ));
        }
        Ok(())
    }
}

impl Default for BrokerSettings {
    fn default() -> Self {
        BrokerSettings {
            url: "amqp://guest:guest@127.0.0.1:5672/%2f".to_owned(),
            prefix: "userhub".to_owned(),
            prefetch: 4,
            confirm_timeout_ms: 15_000,
            retry_delays_ms: vec![1_000, 5_000, 30_000],
            queue_expires_ms: None,
        }
    }
}
