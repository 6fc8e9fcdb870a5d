//! RabbitMQ for userhub, as the task protocol's transport: a supervised connection that
//! reconnects by itself and re-declares the topology, confirmed publishing of persistent
//! messages on pooled channels, consumers with prefetch, and the dead-letter queues operators
//! read. lapin stays inside this crate: the rest of the workspace sees
//! [`userhub_tasks::ChunkTransport`].

mod connection;
mod consumer;
mod dead_letters;
mod error;
mod headers;
mod inspect;
mod probe;
mod publisher;
mod settings;
mod topology;
mod transport;

pub use connection::{Broker, QueueDepths};
pub use dead_letters::{DeadLetter, DeadLetterQueue};
pub use error::BrokerError;
pub use inspect::{Inspector, TakenMessage};
pub use settings::{BrokerSettings, QueueType};
pub use topology::{FAST_LANE_WEIGHT, Topology, WorkQueue};
