//! `[status]` settings: how downloads of results and errors are bounded.

use serde::{Deserialize, Serialize};
use std::time::Duration;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusSettings {
    /// A download whose client reads nothing for this long is ended (and holds nothing).
    pub download_idle_timeout_ms: u64,
    /// Downloads one domain may run at once; past it `429 TOO_MANY_DOWNLOADS`.
    pub downloads_per_domain: usize,
}

impl Default for StatusSettings {
    fn default() -> Self {
        StatusSettings {
            download_idle_timeout_ms: 60_000,
            downloads_per_domain: 4,
        }
    }
}

impl StatusSettings {
    pub fn download_idle_timeout(&self) -> Duration {
        Duration::from_millis(self.download_idle_timeout_ms)
    }
}
