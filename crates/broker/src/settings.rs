//! `[broker]` settings.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct BrokerSettings {
    /// `amqp://user:password@host:port/vhost`, or several nodes of a cluster separated by
    /// commas: each (re)connection tries the next one. A comma inside a password is written
    /// `%2C`.
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
    /// `quorum` (replicated; the default) or `classic` (single node, with message priorities).
    #[serde(default)]
    pub queue_type: QueueType,
    /// Quorum queues: each task type's chunks are spread over this many shards per lane, by
    /// domain, so that one domain's import cannot hold back another's.
    #[serde(default = "default_shards")]
    pub shards: u16,
    /// Quorum queues: deliveries of one chunk after which the broker moves it to the dead-letter
    /// queue (a chunk that keeps crashing its worker).
    #[serde(default = "default_delivery_limit")]
    pub delivery_limit: u32,
}

/// How the work, retry and dead-letter queues are kept.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueType {
    /// Replicated quorum queues, sharded by domain into a fast and a bulk lane.
    #[default]
    Quorum,
    /// One classic queue per task type with message priorities (single-node installs).
    Classic,
}

fn default_shards() -> u16 {
    4
}

fn default_delivery_limit() -> u32 {
    20
}

impl BrokerSettings {
    /// The nodes to connect to, in the order tried.
    pub fn node_urls(&self) -> Vec<&str> {
        self.url
            .split(',')
            .map(str::trim)
            .filter(|url| !url.is_empty())
            .collect()
    }

    /// Checks the section.
    pub fn validate(&self) -> Result<(), userhub_domain::InvalidSetting> {
        let nodes = self.node_urls();
        if nodes.is_empty() {
            return Err(userhub_domain::InvalidSetting::new(
                "broker.url",
                "names no node (one AMQP URL, or several separated by commas)",
            ));
        }
        if let Some(bad) = nodes
            .iter()
            .find(|url| !(url.starts_with("amqp://") || url.starts_with("amqps://")))
        {
            return Err(userhub_domain::InvalidSetting::new(
                "broker.url",
                format!("`{}` is not an amqp:// or amqps:// URL", redacted(bad)),
            ));
        }
        if self.prefix.is_empty() || self.prefix.contains(char::is_whitespace) {
            return Err(userhub_domain::InvalidSetting::new(
                "broker.prefix",
                "must be a non-empty name without spaces",
            ));
        }
        if self.shards == 0 || self.shards > 64 {
            return Err(userhub_domain::InvalidSetting::new(
                "broker.shards",
                "must be 1 to 64",
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

/// A node URL without its user name and password, for messages: everything before the last
/// `@` goes, whatever the rest looks like.
fn redacted(url: &str) -> String {
    match url.rfind('@') {
        Some(at) => {
            let scheme = url.find("://").filter(|scheme| *scheme < at);
            let kept = &url[at + 1..];
            match scheme {
                Some(scheme) => format!("{}://…@{kept}", &url[..scheme]),
                None => format!("…@{kept}"),
            }
        }
        None => url.to_owned(),
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
            queue_type: QueueType::default(),
            shards: default_shards(),
            delivery_limit: default_delivery_limit(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_list_names_each_node_in_order() {
        let settings = BrokerSettings {
            url: "amqp://a:1@n1:5672/%2f, amqp://a:1@n2:5673/%2f,".to_owned(),
            ..BrokerSettings::default()
        };
        assert_eq!(
            settings.node_urls(),
            ["amqp://a:1@n1:5672/%2f", "amqp://a:1@n2:5673/%2f"]
        );
        assert!(settings.validate().is_ok());
        let bad = BrokerSettings {
            url: "amqp://a:1@n1/%2f,http://user:secret@n2/".to_owned(),
            ..BrokerSettings::default()
        };
        let error = bad.validate().unwrap_err().to_string();
        assert!(error.contains("not an amqp"), "{error}");
        assert!(
            !error.contains("secret"),
            "no password in messages: {error}"
        );
        let empty = BrokerSettings {
            url: " , ".to_owned(),
            ..BrokerSettings::default()
        };
        assert!(empty.validate().is_err());
    }
}
