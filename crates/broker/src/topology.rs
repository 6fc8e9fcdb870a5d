//! Names of exchanges and queues and their declaration: one direct exchange; per task type its
//! work queues — quorum queues sharded by domain into a fast and a bulk lane (the default), or one
//! classic queue with priorities — retry queues that dead-letter back after a delay and a
//! dead-letter queue; and the topic exchange of profile events.

use crate::settings::{BrokerSettings, QueueType};
use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{Channel, ExchangeKind};
use userhub_domain::TaskAction;
use userhub_tasks::transport::{FAST_PRIORITY, MAX_PRIORITY, Route};

/// How many turns the fast lane gets for each turn of the bulk lane.
pub const FAST_LANE_WEIGHT: usize = 4;

/// Whether a message must reach a queue: chunks must, events need no subscriber.
pub(crate) fn must_be_routed(route: &Route) -> bool {
    !matches!(route, Route::ProfileEvent { .. })
}

/// A work queue a worker consumes, and its share of the worker's turns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkQueue {
    pub name: String,
    pub routing_key: String,
    pub weight: usize,
}

/// The naming scheme, derived from the prefix and the queue type.
#[derive(Debug, Clone)]
pub struct Topology {
    prefix: String,
    retry_delays_ms: Vec<u64>,
    queue_expires_ms: Option<u64>,
    queue_type: QueueType,
    shards: u16,
    delivery_limit: u32,
}

impl Topology {
    pub fn new(settings: &BrokerSettings) -> Topology {
        Topology {
            prefix: settings.prefix.clone(),
            retry_delays_ms: settings.retry_delays_ms.clone(),
            queue_expires_ms: settings.queue_expires_ms,
            queue_type: settings.queue_type,
            shards: settings.shards.max(1),
            delivery_limit: settings.delivery_limit,
        }
    }

    pub fn queue_type(&self) -> QueueType {
        self.queue_type
    }

    pub fn exchange(&self) -> String {
        format!("{}.tasks", self.prefix)
    }

    /// The topic exchange of profile events (EXT); bind a queue to `{domain}.{created|updated}`.
    pub fn profile_events_exchange(&self) -> String {
        format!("{}.profile-events", self.prefix)
    }

    /// The start of a task type's queue names and routing keys. Quorum queues have names of
    /// their own (`{prefix}.q.{action}...`), so that they never clash with the classic queues
    /// of an installation that switches.
    fn stem(&self, action: TaskAction) -> (String, String) {
        match self.queue_type {
            QueueType::Classic => (
                format!("{}.{}", self.prefix, action.as_str()),
                action.as_str().to_owned(),
            ),
            QueueType::Quorum => (
                format!("{}.q.{}", self.prefix, action.as_str()),
                format!("q.{}", action.as_str()),
            ),
        }
    }

    /// Every work queue of a task type, with its weight: classic, the one queue; quorum, a fast
    /// and a bulk lane of `shards` queues each and the queue retried chunks return to.
    pub fn work_queues(&self, action: TaskAction) -> Vec<WorkQueue> {
        let (name, key) = self.stem(action);
        match self.queue_type {
            QueueType::Classic => vec![WorkQueue {
                name,
                routing_key: key,
                weight: 1,
            }],
            QueueType::Quorum => {
                let mut queues = Vec::new();
                for (lane, weight) in [("fast", FAST_LANE_WEIGHT), ("bulk", 1)] {
                    for shard in 0..self.shards {
                        queues.push(WorkQueue {
                            name: format!("{name}.{lane}.{shard}"),
                            routing_key: format!("{key}.{lane}.{shard}"),
                            weight,
                        });
                    }
                }
                queues.push(WorkQueue {
                    name: format!("{name}.retried"),
                    routing_key: self.retried_key(action),
                    weight: 1,
                });
                queues
            }
        }
    }

    /// Where retried chunks return: the work queue (classic) or the retried queue (quorum).
    fn retried_key(&self, action: TaskAction) -> String {
        let (_, key) = self.stem(action);
        match self.queue_type {
            QueueType::Classic => key,
            QueueType::Quorum => format!("{key}.retried"),
        }
    }

    pub fn retry_queue(&self, action: TaskAction, tier: usize) -> String {
        let (name, _) = self.stem(action);
        format!("{name}.retry.{}ms", self.retry_delay_ms(tier))
    }

    pub fn dead_queue(&self, action: TaskAction) -> String {
        let (name, _) = self.stem(action);
        format!("{name}.dead")
    }

    /// Every queue of a task type: work, retry and dead-letter.
    pub fn all_queues(&self, action: TaskAction) -> Vec<String> {
        let mut queues: Vec<String> = self
            .work_queues(action)
            .into_iter()
            .map(|queue| queue.name)
            .collect();
        queues.extend((0..self.retry_tiers()).map(|tier| self.retry_queue(action, tier)));
        queues.push(self.dead_queue(action));
        queues
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

    /// `(exchange, routing key)` to publish a message of `priority` to.
    pub fn route(&self, route: &Route, priority: u8) -> (String, String) {
        match route {
            Route::Work { action, domain_id } => {
                let (_, key) = self.stem(*action);
                let key = match self.queue_type {
                    QueueType::Classic => key,
                    QueueType::Quorum => {
                        let lane = if priority >= FAST_PRIORITY {
                            "fast"
                        } else {
                            "bulk"
                        };
                        let shard = domain_id.as_i64().rem_euclid(i64::from(self.shards));
                        format!("{key}.{lane}.{shard}")
                    }
                };
                (self.exchange(), key)
            }
            Route::Retry { action, tier } => (String::new(), self.retry_queue(*action, *tier)),
            Route::Dead { action } => (String::new(), self.dead_queue(*action)),
            Route::ProfileEvent { routing_key } => {
                (self.profile_events_exchange(), routing_key.clone())
            }
        }
    }

    /// The arguments every queue of the queue type carries.
    fn base_arguments(&self) -> FieldTable {
        let mut arguments = FieldTable::default();
        if let Some(expires) = self.queue_expires_ms {
            arguments.insert("x-expires".into(), AMQPValue::LongLongInt(expires as i64));
        }
        if self.queue_type == QueueType::Quorum {
            arguments.insert(
                "x-queue-type".into(),
                AMQPValue::LongString("quorum".into()),
            );
        }
        arguments
    }

    /// Quorum queues dead-letter at least once, which needs publishes refused (publisher nack)
    /// rather than old messages dropped when a queue is over its limits.
    fn at_least_once(&self, arguments: &mut FieldTable) {
        if self.queue_type == QueueType::Quorum {
            arguments.insert(
                "x-dead-letter-strategy".into(),
                AMQPValue::LongString("at-least-once".into()),
            );
            arguments.insert(
                "x-overflow".into(),
                AMQPValue::LongString("reject-publish".into()),
            );
        }
    }

    /// Classic work queues deliver higher-priority chunks first (small backlogs before big
    /// imports); quorum work queues move a chunk delivered `delivery_limit` times to the
    /// dead-letter queue.
    fn work_arguments(&self, action: TaskAction) -> FieldTable {
        let mut arguments = self.base_arguments();
        match self.queue_type {
            QueueType::Classic => {
                arguments.insert(
                    "x-max-priority".into(),
                    AMQPValue::ShortShortUInt(MAX_PRIORITY),
                );
            }
            QueueType::Quorum => {
                arguments.insert(
                    "x-delivery-limit".into(),
                    AMQPValue::LongLongInt(i64::from(self.delivery_limit)),
                );
                arguments.insert(
                    "x-dead-letter-exchange".into(),
                    AMQPValue::LongString("".into()),
                );
                arguments.insert(
                    "x-dead-letter-routing-key".into(),
                    AMQPValue::LongString(self.dead_queue(action).into()),
                );
                self.at_least_once(&mut arguments);
            }
        }
        arguments
    }

    fn retry_arguments(&self, action: TaskAction, tier: usize) -> FieldTable {
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
            AMQPValue::LongString(self.retried_key(action).into()),
        );
        self.at_least_once(&mut arguments);
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
            // The dead-letter queue first: work queues name it.
            channel
                .queue_declare(
                    self.dead_queue(action).into(),
                    durable,
                    self.base_arguments(),
                )
                .await?;
            for work in self.work_queues(action) {
                channel
                    .queue_declare(
                        work.name.clone().into(),
                        durable,
                        self.work_arguments(action),
                    )
                    .await?;
                channel
                    .queue_bind(
                        work.name.into(),
                        self.exchange().into(),
                        work.routing_key.into(),
                        QueueBindOptions::default(),
                        FieldTable::default(),
                    )
                    .await?;
            }
            for tier in 0..self.retry_tiers() {
                channel
                    .queue_declare(
                        self.retry_queue(action, tier).into(),
                        durable,
                        self.retry_arguments(action, tier),
                    )
                    .await?;
            }
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
    use userhub_domain::DomainId;
    use userhub_tasks::transport::priority_for_backlog;

    #[test]
    fn every_name_carries_the_prefix() {
        let settings = BrokerSettings {
            prefix: "t42".into(),
            queue_type: QueueType::Classic,
            ..BrokerSettings::default()
        };
        let topology = Topology::new(&settings);
        assert_eq!(topology.exchange(), "t42.tasks");
        assert_eq!(
            topology.route(
                &Route::ProfileEvent {
                    routing_key: "demo.created".into()
                },
                0
            ),
            ("t42.profile-events".to_owned(), "demo.created".to_owned())
        );
        assert_eq!(
            topology.work_queues(TaskAction::CreateCoreProfiles)[0].name,
            "t42.create_core_profiles"
        );
        assert_eq!(
            topology.retry_queue(TaskAction::GetAppProfiles, 1),
            "t42.get_app_profiles.retry.5000ms"
        );
        assert_eq!(topology.retry_delay_ms(99), 30_000);
        assert_eq!(
            topology.route(
                &Route::Dead {
                    action: TaskAction::UpdateCoreProfiles
                },
                0
            ),
            (String::new(), "t42.update_core_profiles.dead".to_owned())
        );
    }

    #[test]
    fn quorum_chunks_go_to_their_domain_s_shard_and_their_backlog_s_lane() {
        let settings = BrokerSettings {
            prefix: "t7".into(),
            shards: 3,
            ..BrokerSettings::default()
        };
        let topology = Topology::new(&settings);
        let action = TaskAction::CreateCoreProfiles;
        let queues = topology.work_queues(action);
        assert_eq!(queues.len(), 2 * 3 + 1);
        let keys: Vec<&str> = queues.iter().map(|q| q.routing_key.as_str()).collect();
        let route = |domain: i64, priority: u8| {
            topology
                .route(
                    &Route::Work {
                        action,
                        domain_id: DomainId::new(domain),
                    },
                    priority,
                )
                .1
        };
        for domain in 1..20 {
            for priority in [1, 5, 8] {
                let key = route(domain, priority);
                assert!(keys.contains(&key.as_str()), "{key} is bound");
            }
        }
        assert_eq!(
            route(4, priority_for_backlog(10)),
            "q.create_core_profiles.fast.1"
        );
        assert_eq!(
            route(4, priority_for_backlog(500_000)),
            "q.create_core_profiles.bulk.1"
        );
        assert_ne!(
            route(4, 1),
            route(5, 1),
            "neighbouring domains use different shards"
        );
        let fast: usize = queues
            .iter()
            .filter(|q| q.name.contains(".fast."))
            .map(|q| q.weight)
            .sum();
        let bulk: usize = queues
            .iter()
            .filter(|q| q.name.contains(".bulk."))
            .map(|q| q.weight)
            .sum();
        assert_eq!(fast, FAST_LANE_WEIGHT * bulk);
        assert_eq!(
            topology.dead_queue(action),
            "t7.q.create_core_profiles.dead"
        );
        assert!(
            topology
                .all_queues(action)
                .contains(&"t7.q.create_core_profiles.retry.1000ms".to_owned())
        );
        assert_eq!(
            topology.retried_key(action),
            "q.create_core_profiles.retried"
        );
    }
}
