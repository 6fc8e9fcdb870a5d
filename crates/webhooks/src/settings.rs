//! `[webhooks]` settings.

use crate::sealing::Sealer;
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
    /// Deliveries of one domain sent at once by one process: a slow or hanging endpoint holds
    /// at most this many of the process's sends.
    pub concurrency_per_domain: usize,
    /// How long a rotated-out secret keeps signing (unless it is retired earlier).
    pub rotation_overlap_hours: u32,
    /// The key that seals endpoint secrets at rest: base64 of 32 random bytes
    /// (`openssl rand -base64 32`). Unset: webhooks are disabled (registering one answers
    /// `503 WEBHOOKS_DISABLED` and nothing is delivered).
    pub secret_key: Option<String>,
    /// Keys that sealed secrets before `secret_key` replaced them; they still open.
    pub old_secret_keys: Vec<String>,
}

impl Default for WebhookSettings {
    fn default() -> Self {
        WebhookSettings {
            allow_private_targets: false,
            timeout_ms: 10_000,
            poll_interval_ms: 1_000,
            retry_delays_ms: vec![5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000],
            concurrency: 16,
            concurrency_per_domain: 2,
            rotation_overlap_hours: 24,
            secret_key: None,
            old_secret_keys: Vec::new(),
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
        if self.concurrency == 0 || self.concurrency_per_domain == 0 {
            return Err(InvalidSetting::new(
                "webhooks.concurrency",
                "concurrency and concurrency_per_domain must be above 0",
            ));
        }
        self.sealer()?;
        Ok(())
    }

    /// The sealer of endpoint secrets; `None` when no key is set (webhooks disabled).
    pub fn sealer(&self) -> Result<Option<Sealer>, InvalidSetting> {
        let Some(key) = self
            .secret_key
            .as_deref()
            .filter(|key| !key.trim().is_empty())
        else {
            return Ok(None);
        };
        Sealer::new(key, &self.old_secret_keys)
            .map(Some)
            .map_err(|error| InvalidSetting::new("webhooks.secret_key", error.to_string()))
    }

    /// The wait after `attempts` failed attempts.
    pub fn retry_delay_ms(&self, attempts: usize) -> u64 {
        let at = attempts
            .saturating_sub(1)
            .min(self.retry_delays_ms.len() - 1);
        self.retry_delays_ms.get(at).copied().unwrap_or(5_000)
    }
}
