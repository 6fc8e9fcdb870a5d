//! Consuming a task type's work queues with prefetch and manual acknowledgements: one channel,
//! a consumer per queue, and deliveries taken in weighted round-robin order among the queues
//! that have one ready (the fast lane's queues get more turns than the bulk lane's), so that no
//! queue's backlog holds back another's chunks.

use crate::error::BrokerError;
use crate::headers::from_table;
use crate::topology::{WorkQueue, short};
use futures_util::FutureExt;
use futures_util::StreamExt;
use futures_util::future::{BoxFuture, select_all};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::FieldTable;
use lapin::{Channel, Connection, Consumer};
use userhub_tasks::transport::{self, MessageHeaders, TransportError};

/// The consumers of one task type's work queues, on their own channel.
pub(crate) struct ChunkConsumer {
    channel: Channel,
    consumers: Vec<Consumer>,
    /// Consumer positions in turn order, each as often as its queue's weight.
    turns: Vec<usize>,
    /// The next turn.
    next_turn: usize,
}

/// The turn order: each queue as often as its weight, spread out (round by round).
fn turns(queues: &[WorkQueue]) -> Vec<usize> {
    let rounds = queues.iter().map(|queue| queue.weight).max().unwrap_or(1);
    (0..rounds)
        .flat_map(|round| {
            queues
                .iter()
                .enumerate()
                .filter(move |(_, queue)| queue.weight > round)
                .map(|(at, _)| at)
        })
        .collect()
}

impl ChunkConsumer {
    pub(crate) async fn open(
        connection: &Connection,
        queues: &[WorkQueue],
        tag: &str,
        prefetch: u16,
    ) -> Result<ChunkConsumer, BrokerError> {
        let channel = connection.create_channel().await?;
        // Per consumer: each queue keeps up to `prefetch` chunks ready for its turn.
        channel
            .basic_qos(prefetch.max(1), BasicQosOptions::default())
            .await?;
        let mut consumers = Vec::with_capacity(queues.len());
        for (at, queue) in queues.iter().enumerate() {
            let consumer = channel
                .basic_consume(
                    short(&queue.name),
                    short(&format!("{tag}-{at}")),
                    BasicConsumeOptions::default(),
                    FieldTable::default(),
                )
                .await?;
            consumers.push(consumer);
        }
        Ok(ChunkConsumer {
            channel,
            consumers,
            turns: turns(queues),
            next_turn: 0,
        })
    }

    /// The next delivery: from the queue whose turn it is, or the next in turn order that has
    /// one ready, else the first to arrive. `None` when a consumer or the channel ended.
    async fn next_delivery(&mut self) -> Option<Result<Delivery, BrokerError>> {
        let count = self.turns.len();
        for step in 0..count {
            let turn = (self.next_turn + step) % count;
            let consumer = &mut self.consumers[self.turns[turn]];
            if let Some(ready) = consumer.next().now_or_never() {
                self.next_turn = (turn + 1) % count;
                return ready.map(wrap);
            }
        }
        let waiting = self.consumers.iter_mut().map(|consumer| consumer.next());
        let (arrived, at, _) = select_all(waiting).await;
        if let Some(turn) = self.turns.iter().position(|queue| *queue == at) {
            self.next_turn = (turn + 1) % count;
        }
        arrived.map(wrap)
    }

    /// Stops receiving new deliveries (in-flight ones can still be acknowledged).
    async fn stop(&self) {
        for consumer in &self.consumers {
            let _ = self
                .channel
                .basic_cancel(
                    consumer.tag(),
                    lapin::options::BasicCancelOptions::default(),
                )
                .await;
        }
    }
}

impl transport::ChunkConsumer for ChunkConsumer {
    fn next(
        &mut self,
    ) -> BoxFuture<'_, Option<Result<Box<dyn transport::Delivery>, TransportError>>> {
        async move {
            let next = self.next_delivery().await?;
            Some(
                next.map(|delivery| Box::new(delivery) as Box<dyn transport::Delivery>)
                    .map_err(TransportError::from),
            )
        }
        .boxed()
    }

    fn cancel(&mut self) -> BoxFuture<'_, ()> {
        self.stop().boxed()
    }

    fn close(self: Box<Self>) -> BoxFuture<'static, ()> {
        async move {
            let _ = self.channel.close(200, short("done")).await;
        }
        .boxed()
    }
}

fn wrap(delivery: Result<lapin::message::Delivery, lapin::Error>) -> Result<Delivery, BrokerError> {
    delivery
        .map(|inner| Delivery { inner })
        .map_err(BrokerError::from)
}

/// One received message.
pub(crate) struct Delivery {
    inner: lapin::message::Delivery,
}

impl transport::Delivery for Delivery {
    fn body(&self) -> &[u8] {
        &self.inner.data
    }

    fn message_id(&self) -> String {
        self.inner
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str().to_owned())
            .unwrap_or_default()
    }

    fn headers(&self) -> MessageHeaders {
        from_table(self.inner.properties.headers().as_ref())
    }

    fn priority(&self) -> u8 {
        self.inner.properties.priority().unwrap_or(0)
    }

    fn ack(&self) -> BoxFuture<'_, Result<(), TransportError>> {
        async move {
            self.inner
                .ack(BasicAckOptions::default())
                .await
                .map(|_| ())
                .map_err(|error| TransportError::from(BrokerError::from(error)))
        }
        .boxed()
    }

    /// Returns the message to its queue for another consumer (used on shutdown).
    fn requeue(&self) -> BoxFuture<'_, Result<(), TransportError>> {
        async move {
            self.inner
                .reject(BasicRejectOptions { requeue: true })
                .await
                .map(|_| ())
                .map_err(|error| TransportError::from(BrokerError::from(error)))
        }
        .boxed()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn queue(name: &str, weight: usize) -> WorkQueue {
        WorkQueue {
            name: name.to_owned(),
            routing_key: name.to_owned(),
            weight,
        }
    }

    #[test]
    fn each_queue_gets_as_many_turns_as_its_weight_spread_over_rounds() {
        let queues = [queue("fast.0", 3), queue("fast.1", 3), queue("bulk.0", 1)];
        let order = turns(&queues);
        assert_eq!(order, [0, 1, 2, 0, 1, 0, 1]);
        assert_eq!(turns(&[queue("only", 1)]), [0]);
    }
}
