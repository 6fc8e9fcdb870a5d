//! The broker as the protocol's [`ChunkTransport`]: confirmed publishing on a small pool of
//! confirm-mode channels (reused while their connection lives, so a publish costs no channel
//! handshake), consumers of a task type's work queues, and queue depths.

use crate::connection::Broker;
use crate::error::BrokerError;
use crate::publisher::Publisher;
use futures_util::FutureExt;
use futures_util::future::BoxFuture;
use std::sync::Mutex;
use std::time::Duration;
use userhub_domain::TaskAction;
use userhub_tasks::transport::{ChunkConsumer, ChunkTransport, Outgoing, TransportError};

/// Confirm-mode channels kept for the next publish.
const IDLE_PUBLISHERS: usize = 4;

/// Idle confirm-mode channels.
#[derive(Default)]
pub(crate) struct PublisherPool {
    idle: Mutex<Vec<Publisher>>,
}

impl PublisherPool {
    fn take(&self) -> Option<Publisher> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        while let Some(publisher) = idle.pop() {
            if publisher.is_open() {
                return Some(publisher);
            }
        }
        None
    }

    fn give_back(&self, publisher: Publisher) -> Option<Publisher> {
        let mut idle = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        if idle.len() < IDLE_PUBLISHERS && publisher.is_open() {
            idle.push(publisher);
            return None;
        }
        Some(publisher)
    }
}

impl Broker {
    /// Publishes `messages` on a pooled channel; a channel that failed is closed, not reused.
    async fn publish_pooled(&self, messages: &[Outgoing]) -> Result<(), BrokerError> {
        let publisher = match self.publishers().take() {
            Some(publisher) => publisher,
            None => {
                let connection = self.connection()?;
                let timeout = Duration::from_millis(self.settings().confirm_timeout_ms);
                Publisher::open(&connection, self.topology().clone(), timeout).await?
            }
        };
        let published = publisher.publish_all(messages).await;
        if published.is_ok() {
            if let Some(extra) = self.publishers().give_back(publisher) {
                extra.close().await;
            }
        } else {
            publisher.close().await;
        }
        published
    }
}

impl ChunkTransport for Broker {
    fn is_up(&self) -> bool {
        self.is_connected()
    }

    fn up(&self) -> BoxFuture<'_, ()> {
        async move {
            self.connected().await;
        }
        .boxed()
    }

    fn publish<'a>(
        &'a self,
        messages: &'a [Outgoing],
    ) -> BoxFuture<'a, Result<(), TransportError>> {
        async move {
            if messages.is_empty() {
                return Ok(());
            }
            Ok(self.publish_pooled(messages).await?)
        }
        .boxed()
    }

    fn consume<'a>(
        &'a self,
        action: TaskAction,
        tag: &'a str,
    ) -> BoxFuture<'a, Result<Box<dyn ChunkConsumer>, TransportError>> {
        async move {
            let consumer = self.open_consumer(action, tag).await?;
            Ok(Box::new(consumer) as Box<dyn ChunkConsumer>)
        }
        .boxed()
    }

    fn prefetch(&self) -> usize {
        self.max_in_flight()
    }

    fn ready_messages(&self, action: TaskAction) -> BoxFuture<'_, Result<u32, TransportError>> {
        async move { Ok(self.waiting_messages(action).await?) }.boxed()
    }
}
