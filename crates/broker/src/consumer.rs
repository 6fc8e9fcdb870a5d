//! Consuming a task type's work queues with prefetch and manual acknowledgements: one channel,
//! a consumer per queue, and deliveries taken in weighted round-robin order among the queues
//! that have one ready (the fast lane's queues get more turns than the bulk lane's), so that no
//! queue's backlog holds back another's chunks.

use crate::error::BrokerError;
use crate::topology::{WorkQueue, short};
use futures_util::FutureExt;
use futures_util::StreamExt;
use futures_util::future::select_all;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, Consumer};

/// The consumers of one task type's work queues, on their own channel.
pub struct ChunkConsumer {
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
    pub async fn next(&mut self) -> Option<Result<Delivery, BrokerError>> {
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
    pub async fn cancel(&self) {
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

    pub async fn close(self) {
        let _ = self.channel.close(200, short("done")).await;
    }
}

fn wrap(delivery: Result<lapin::message::Delivery, lapin::Error>) -> Result<Delivery, BrokerError> {
    delivery
        .map(|inner| Delivery { inner })
        .map_err(BrokerError::from)
}

/// One received message.
pub struct Delivery {
    inner: lapin::message::Delivery,
}

impl Delivery {
    pub fn body(&self) -> &[u8] {
        &self.inner.data
    }

    pub fn redelivered(&self) -> bool {
        self.inner.redelivered
    }

    /// An integer header (0 when absent).
    pub fn counter(&self, name: &str) -> i64 {
        self.headers()
            .and_then(|headers| headers.inner().get(name).cloned())
            .and_then(|value| match value {
                AMQPValue::LongLongInt(number) => Some(number),
                AMQPValue::LongInt(number) => Some(number.into()),
                AMQPValue::ShortInt(number) => Some(number.into()),
                _ => None,
            })
            .unwrap_or(0)
    }

    /// The string-valued headers (e.g. the W3C `traceparent`).
    pub fn text_headers(&self) -> std::collections::HashMap<String, String> {
        self.headers()
            .map(|headers| {
                headers
                    .inner()
                    .iter()
                    .filter_map(|(key, value)| match value {
                        AMQPValue::LongString(text) => Some((
                            key.as_str().to_owned(),
                            String::from_utf8_lossy(text.as_bytes()).into_owned(),
                        )),
                        _ => None,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn headers(&self) -> Option<&FieldTable> {
        self.inner.properties.headers().as_ref()
    }

    pub fn priority(&self) -> u8 {
        self.inner.properties.priority().unwrap_or(0)
    }

    pub fn message_id(&self) -> Option<String> {
        self.inner
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.as_str().to_owned())
    }

    pub async fn ack(&self) -> Result<(), BrokerError> {
        self.inner.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    /// Returns the message to its queue for another consumer (used on shutdown).
    pub async fn requeue(&self) -> Result<(), BrokerError> {
        self.inner
            .reject(BasicRejectOptions { requeue: true })
            .await?;
        Ok(())
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
