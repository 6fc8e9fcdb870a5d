//! The port through which the protocol moves its messages: a task's chunks to the workers of
//! its task type, their retries and dead letters, and profile events. The broker crate
//! implements it over RabbitMQ; [`memory::InMemoryTransport`] implements it in the process, so
//! that the whole protocol is tested with PostgreSQL alone. Futures are boxed so that the
//! protocol holds one `Arc<dyn ChunkTransport>` whichever transport runs it.

pub mod memory;

use futures_util::future::BoxFuture;
use std::collections::BTreeMap;
use userhub_domain::{DomainId, TaskAction, TaskKey};

/// The lowest priority whose chunks go first (the broker's fast lane).
pub const FAST_PRIORITY: u8 = 8;
/// The highest priority a chunk has.
pub const MAX_PRIORITY: u8 = 9;

/// The priority of a chunk whose domain has `backlog` records waiting (its own task included):
/// the smaller the backlog, the sooner it is served, so a domain's million-record import cannot
/// starve other domains' small tasks.
pub fn priority_for_backlog(backlog: i64) -> u8 {
    match backlog {
        ..=10_000 => FAST_PRIORITY,
        10_001..=100_000 => 5,
        100_001..=1_000_000 => 2,
        _ => 1,
    }
}

/// Where a message goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// The work of a task type; the domain (and the message's priority) decide which queue
    /// takes it.
    Work {
        action: TaskAction,
        domain_id: DomainId,
    },
    /// A task type's retries, after the delay of `tier` (an index into the retry delays).
    Retry { action: TaskAction, tier: usize },
    /// A task type's dead letters.
    Dead { action: TaskAction },
    /// The profile events, under this routing key.
    ProfileEvent { routing_key: String },
}

/// What a message carries besides its body.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MessageHeaders {
    /// How many times processing failed permanently.
    pub attempts: i64,
    /// How many times processing failed transiently.
    pub transient_attempts: i64,
    /// Why the message was last sent on (a retry or a dead letter).
    pub failure: Option<String>,
    /// Text headers, such as the W3C trace context (`traceparent`).
    pub text: BTreeMap<String, String>,
}

/// A message to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub route: Route,
    /// Stable per chunk (`{task_id}:{chunk_no}`) or per event batch.
    pub message_id: String,
    pub body: Vec<u8>,
    pub headers: MessageHeaders,
    /// 0 (last) to [`MAX_PRIORITY`] (first); kept by retries and dead letters.
    pub priority: u8,
}

impl Outgoing {
    /// Chunk `chunk_no` of `task`, to `action`'s workers at `priority`, carrying the current
    /// span's trace context so that the worker continues the trace.
    pub fn chunk(
        action: TaskAction,
        task: TaskKey,
        chunk_no: u32,
        priority: u8,
        body: Vec<u8>,
    ) -> Outgoing {
        let text = userhub_telemetry::trace_context_of(&tracing::Span::current())
            .into_iter()
            .collect();
        Outgoing {
            route: Route::Work {
                action,
                domain_id: task.domain_id,
            },
            message_id: format!("{}:{chunk_no}", task.task_id),
            body,
            headers: MessageHeaders {
                text,
                ..MessageHeaders::default()
            },
            priority,
        }
    }
}

/// Why the transport could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TransportError {
    /// No connection now; trying again later may succeed.
    #[error("the message broker is unavailable")]
    Unavailable,
    /// The broker refused a message (it is full, or nothing takes it).
    #[error("the message broker refused the message: {0}")]
    Refused(String),
    /// Anything else the transport reports.
    #[error("message broker failure: {0}")]
    Failed(String),
}

/// Moves the protocol's messages.
pub trait ChunkTransport: Send + Sync + 'static {
    /// Whether messages can be published now (a request can be refused at once when not).
    fn is_up(&self) -> bool;

    /// Waits until the transport is up.
    fn up(&self) -> BoxFuture<'_, ()>;

    /// Publishes every message durably: `Ok` once the transport holds all of them.
    fn publish<'a>(&'a self, messages: &'a [Outgoing])
    -> BoxFuture<'a, Result<(), TransportError>>;

    /// Starts taking the chunks of `action`'s task type (`tag` names the consumer).
    fn consume<'a>(
        &'a self,
        action: TaskAction,
        tag: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn ChunkConsumer>, TransportError>>;

    /// How many chunks one consumer applies at once.
    fn prefetch(&self) -> usize;

    /// Chunks of `action` waiting to be taken, in its work and retry queues.
    fn ready_messages(&self, action: TaskAction) -> BoxFuture<'_, Result<u32, TransportError>>;
}

/// The chunks of one task type, as they arrive.
pub trait ChunkConsumer: Send {
    /// The next chunk; `None` when the consumer ended (the transport went away).
    fn next(&mut self) -> BoxFuture<'_, Option<Result<Box<dyn Delivery>, TransportError>>>;

    /// Stops taking new chunks; those taken can still be settled.
    fn cancel(&mut self) -> BoxFuture<'_, ()>;

    /// Ends the consumer; chunks taken and not settled go back to be taken again.
    fn close(self: Box<Self>) -> BoxFuture<'static, ()>;
}

/// One chunk taken from the transport, to be settled once.
pub trait Delivery: Send + Sync {
    fn body(&self) -> &[u8];

    fn message_id(&self) -> String;

    fn headers(&self) -> MessageHeaders;

    /// The priority it was published with.
    fn priority(&self) -> u8;

    /// Done with: it is not delivered again.
    fn ack(&self) -> BoxFuture<'_, Result<(), TransportError>>;

    /// Not done with: it goes back to be taken again.
    fn requeue(&self) -> BoxFuture<'_, Result<(), TransportError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_backlogs_go_first() {
        assert_eq!(priority_for_backlog(0), FAST_PRIORITY);
        assert_eq!(priority_for_backlog(10_000), FAST_PRIORITY);
        assert!(priority_for_backlog(10_001) < FAST_PRIORITY);
        assert!(priority_for_backlog(5_000_000) < priority_for_backlog(500_000));
        assert!(priority_for_backlog(i64::MIN) <= MAX_PRIORITY);
    }
}
