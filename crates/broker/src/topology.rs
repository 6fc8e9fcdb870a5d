//! Names of exchanges and queues and their declaration: one direct exchange, one durable queue
//! per task type, retry queues that dead-letter back after a delay, a dead-letter queue, and the
//! topic exchange of profile events.

use crate::settings::BrokerSettings;
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};
use userhub_domain::TaskAction;

/// The highest message priority of the work queues.
pub const MAX_PRIORITY: u8 = 9;

/// The priority of a chunk whose domain has `backlog` records waiting (its own task included):
/// the smaller the backlog, the sooner it is served, so a domain's million-record import cannot
/// starve other domains' small tasks.
pub fn priority_for_backlog(backlog: i64) -> u8 {
    match backlog {
        ..=10_000 => 8,
        10_001..=100_000 => 5,
        100_001..=1_000_000 => 2,
        _ => 1,
    }
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Destination {
    /// The work queue of a task type, through the tasks exchange.
    Work(TaskAction),
    /// A retry queue of a task type (tier index into the retry delays).
    Retry(TaskAction, usize),
    /// The dead-letter queue of a task type.
    Dead(TaskAction),
    /// The profile-events topic exchange, with this routing key.
    ProfileEvent(String),
}

impl Destination {
    /// Whether a message must reach a queue: chunks must, events need no subscriber.
    pub fn must_be_routed(&self) -> bool {
        !matches!(self, Destination::ProfileEvent(_))
    }
}

/// The naming scheme, derived from the prefix.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
    retry_delays_ms: Vec<u64>,
    queue_expires_ms: Option<u64>,
}

impl Topology {
    pub fn new(settings: &BrokerSettings) -> Topology {
        Topology {
            prefix: settings.prefix.clone(),
            retry_delays_ms: settings.retry_delays_ms.clone(),
            queue_expires_ms: settings.queue_expires_ms,
        }
    }

    pub fn exchange(&self) -> String {
        format!("{}.tasks", self.prefix)
    }

    /// The topic exchange of profile events (EXT); bind a queue to `{domain}.{created|updated}`.
    pub fn profile_events_exchange(&self) -> String {
        format!("{}.profile-events", self.prefix)
    }

    pub fn work_queue(&self, action: TaskAction) -> String {
        format!("{}.{}", self.prefix, action.as_str())
    }

    pub fn retry_queue(&self, action: TaskAction, tier: usize) -> String {
        format!(
            "{}.{}.retry.{}ms",
            self.prefix,
            action.as_str(),
            self.retry_delay_ms(tier)
        )
    }

    pub fn dead_queue(&self, action: TaskAction) -> String {
        format!("{}.{}.dead", self.prefix, action.as_str())
    }

    /// The delay of a retry tier; tiers beyond the last reuse the last.
    pub fn retry_delay_ms(&self, tier: usize) -> u64 {
        let last = self.retry_delays_ms.len().saturating_sub(1);
        self.retry_delays_ms
            .get(tier.min(last))
            .copied()
            .unwrap_or(1_000)
    }

    pub fn retry_tiers(&self) -> usize {
        self.retry_delays_ms.len().max(1)
    }

    /// `(exchange, routing key)` to publish to.
    pub fn route(&self, destination: &Destination) -> (String, String) {
        match destination {
            Destination::Work(action) => (self.exchange(), action.as_str().to_owned()),
            Destination::Retry(action, tier) => (String::new(), self.retry_queue(*action, *tier)),
            Destination::Dead(action) => (String::new(), self.dead_queue(*action)),
            Destination::ProfileEvent(key) => (self.profile_events_exchange(), key.clone()),
        }
    }

    /// Work queues deliver higher-priority chunks first (small backlogs before big imports).
    fn work_arguments(&self) -> FieldTable {
        let mut arguments = self.base_arguments();
        arguments.insert(
            "x-max-priority".into(),
            AMQPValue::ShortShortUInt(MAX_PRIORITY),
        );
        arguments
    }

    fn base_arguments(&self) -> FieldTable {
        let mut arguments = FieldTable::default();
        if let Some(expires) = self.queue_expires_ms {
            arguments.insert("x-expires".into(), AMQPValue::LongLongInt(expires as i64));
        }
        arguments
    }

    /// Declares everything (idempotent); called after every (re)connection.
    pub async fn declare(&self, channel: &Channel) -> Result<(), lapin::Error> {
        let durable_exchange = ExchangeDeclareOptions {
            durable: true,
            ..ExchangeDeclareOptions::default()
        };
        channel
            .exchange_declare(
                self.exchange().into(),
                ExchangeKind::Direct,
                durable_exchange,
                FieldTable::default(),
            )
            .await?;
        channel
            .exchange_declare(
                self.profile_events_exchange().into(),
                ExchangeKind::Topic,
                durable_exchange,
                FieldTable::default(),
            )
            .await?;
        let durable = QueueDeclareOptions {
            durable: true,
            ..QueueDeclareOptions::default()
        };
        for action in TaskAction::ALL {
            let work = self.work_queue(action);
            channel
                .queue_declare(work.clone().into(), durable, self.work_arguments())
                .await?;
            channel
                .queue_bind(
                    work.into(),
                    self.exchange().into(),
                    action.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            for tier in 0..self.retry_tiers() {
                let mut arguments = self.base_arguments();
                arguments.insert(
                    "x-message-ttl".into(),
                    AMQPValue::LongLongInt(self.retry_delay_ms(tier) as i64),
                );
                arguments.insert(
                    "x-dead-letter-exchange".into(),
                    AMQPValue::LongString(self.exchange().into()),
                );
                arguments.insert(
                    "x-dead-letter-routing-key".into(),
                    AMQPValue::LongString(action.as_str().into()),
                );
                channel
                    .queue_declare(self.retry_queue(action, tier).into(), durable, arguments)
                    .await?;
            }
            channel
                .queue_declare(
                    self.dead_queue(action).into(),
                    durable,
                    self.base_arguments(),
                )
                .await?;
        }
        Ok(())
    }
}

/// Shorthand for lapin's string type.
pub(crate) fn short(text: &str) -> ShortString {
    text.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn big_backlogs_get_lower_priorities() {
        assert!(priority_for_backlog(3) > priority_for_backlog(50_000));
        assert!(priority_for_backlog(50_000) > priority_for_backlog(1_000_000));
        assert!(priority_for_backlog(i64::MAX) >= 1);
        assert!(priority_for_backlog(0) <= MAX_PRIORITY);
    }

    #[test]
    fn every_name_carries_the_prefix() {
        let settings = BrokerSettings {
            prefix: "t42".into(),
            ..BrokerSettings::default()
        };
        let topology = Topology::new(&settings);
        assert_eq!(topology.exchange(), "t42.tasks");
        assert_eq!(
            topology.route(&Destination::ProfileEvent("demo.created".into())),
            ("t42.profile-events".to_owned(), "demo.created".to_owned())
        );
        assert_eq!(
            topology.work_queue(TaskAction::CreateCoreProfiles),
            "t42.create_core_profiles"
        );
        assert_eq!(
            topology.retry_queue(TaskAction::GetAppProfiles, 1),
            "t42.get_app_profiles.retry.5000ms"
        );
        assert_eq!(topology.retry_delay_ms(99), 30_000);
        assert_eq!(
            topology.route(&Destination::Dead(TaskAction::UpdateCoreProfiles)),
            (String::new(), "t42.update_core_profiles.dead".to_owned())
        );
    }
}
