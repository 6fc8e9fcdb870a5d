//! `[status]` settings (how downloads of results and errors are bounded) and `[ops]` settings
//! (the operator dashboard's token).

use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;
use userhub_domain::InvalidSetting;

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
    /// Checks the section.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        if self.download_idle_timeout_ms == 0 || self.downloads_per_domain == 0 {
            return Err(InvalidSetting::new(
                "status.downloads_per_domain",
                "download limits must be at least 1",
            ));
        }
        Ok(())
    }

    pub fn download_idle_timeout(&self) -> Duration {
        Duration::from_millis(self.download_idle_timeout_ms)
    }
}

/// `[ops]` settings.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OpsSettings {
    /// The token that opens the operator dashboard at `/ops/` (at least 16 characters); the
    /// dashboard's data endpoint is disabled while it is unset.
    pub operator_token: Option<String>,
}

impl OpsSettings {
    /// Checks the section: a token must be long and must not read like an example value.
    pub fn validate(&self) -> Result<(), InvalidSetting> {
        let Some(token) = self.operator_token.as_deref() else {
            return Ok(());
        };
        if !token.is_empty() && token.trim().len() < 16 {
            return Err(InvalidSetting::new(
                "ops.operator_token",
                "must be at least 16 characters",
            ));
        }
        if looks_like_placeholder(token) {
            return Err(InvalidSetting::new(
                "ops.operator_token",
                "looks like a placeholder; use a random value, e.g. `openssl rand -hex 32`",
            ));
        }
        Ok(())
    }

    /// The token, if one is set.
    pub fn token(&self) -> Option<Arc<str>> {
        self.operator_token
            .as_deref()
            .map(str::trim)
            .filter(|token| !token.is_empty())
            .map(Arc::from)
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
            let settings = OpsSettings {
                operator_token: Some(token.to_owned()),
            };
            assert!(settings.validate().is_err(), "{token} was accepted");
        }
        let settings = OpsSettings {
            operator_token: Some("3f9c1e0b7a5d2c4e8f6a1b3c5d7e9f0a".to_owned()),
        };
        settings.validate().unwrap();
    }
}
