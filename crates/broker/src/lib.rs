//! RabbitMQ for userhub: a supervised connection that reconnects by itself and re-declares the
//! topology, confirmed publishing of persistent messages, and consumers with prefetch.

mod connection;
mod consumer;
mod dead_letters;
mod error;
mod probe;
mod publisher;
mod settings;
mod topology;

pub use connection::{Broker, QueueDepths};
pub use consumer::{ChunkConsumer, Delivery};
pub use dead_letters::{DeadLetter, DeadLetterQueue};
pub use error::BrokerError;
pub use lapin::types::{AMQPValue, FieldTable};
pub use publisher::{OutgoingMessage, Publisher};
pub use settings::{BrokerSettings, QueueType};
pub use topology::{
    Destination, FAST_LANE_PRIORITY, FAST_LANE_WEIGHT, MAX_PRIORITY, Topology, WorkQueue,
    priority_for_backlog,
};

/// Message header carrying how many times processing of a message failed permanently.
pub const ATTEMPT_HEADER: &str = "x-userhub-attempt";
/// Message header carrying how many times processing of a message failed transiently.
pub const TRANSIENT_ATTEMPT_HEADER: &str = "x-userhub-transient-attempt";
/// Message header naming why a message was dead-lettered.
pub const FAILURE_HEADER: &str = "x-userhub-failure";
