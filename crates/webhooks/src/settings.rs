//! `[webhooks]` settings.

use serde::{Deserialize, Serialize};
use userhub_domain::InvalidSetting;

/// How webhooks are checked and delivered.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct WebhookSettings {
    /// Let endpoints reach loopback, link-local and private addresses (`make run` sets it for
    /// local receivers); off by default so that a webhook cannot reach the installation's own
    /// network by accident.
    pub allow_private_targets: bool,
    /// How long one attempt may take.
    pub timeout_ms: u64,
    /// Pause between polls of the delivery queue when nothing was due.
    pub poll_interval_ms: u64,
    /// Waits after the 1st, 2nd, ... failed attempt (the last one repeats) until the delivery's
    /// 24-hour window ends.
    pub retry_delays_ms: Vec<u64>,
    /// Deliveries sent at once by one process.
    pub concurrency: usize,
    /// How long a rotated-out secret keeps signing.
    pub rotation_overlap_hours: u32,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private_targets: false,
            timeout_ms: 10_000,
            poll_interval_ms: 1_000,
            retry_delays_ms: vec![5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000],
            concurrency: 8,
            rotation_overlap_hours: 24,
        }
    }
}

impl WebhookSettings {
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.timeout_ms == 0 {
            return Err(InvalidSetting::new(
                "webhooks.timeout_ms",
                "must be above 0",
            ));
        }
        if self.retry_delays_ms.is_empty() || self.retry_delays_ms.contains(&0) {
            return Err(InvalidSetting::new(
                "webhooks.retry_delays_ms",
                "needs at least one delay, each above 0",
            ));
        }
        if self.concurrency == 0 {
            return Err(InvalidSetting::new(
                "webhooks.concurrency",
                "must be above 0",
            ));
        }
        Ok(())
    }

    /// The wait after `attempts` failed attempts.
    pub fn retry_delay_ms(&self, attempts: usize) -> u64 {
        let at = attempts
            .saturating_sub(1)
            .min(self.retry_delays_ms.len() - 1);
        self.retry_delays_ms.get(at).copied().unwrap_or(5_000)
    }
}
