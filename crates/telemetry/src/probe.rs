//! What a service can ask about the message broker without depending on the broker crate:
//! whether it is connected, and how many messages wait per task type (the broker crate
//! implements [`BrokerProbe`]; health routes and the dashboard read it).

use std::future::Future;
use std::pin::Pin;
use userhub_domain::TaskAction;

/// Messages waiting in one task type's queues.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueCounts {
    pub work: u32,
    pub retry: u32,
    pub dead: u32,
}

/// The answer of [`BrokerProbe::queue_counts`].
pub type QueueCountsFuture<'a> = Pin<Box<dyn Future<Output = Option<QueueCounts>> + Send + 'a>>;

/// A process's view of its broker connection.
pub trait BrokerProbe: Send + Sync {
    /// Whether the connection is up now.
    fn is_connected(&self) -> bool;
    /// The counts of `action`'s queues, or `None` when the broker cannot tell now.
    fn queue_counts(&self, action: TaskAction) -> QueueCountsFuture<'_>;
}
