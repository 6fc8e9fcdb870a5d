//! Consuming a work queue with prefetch and manual acknowledgements.

use crate::error::BrokerError;
use crate::topology::short;
use futures_util::StreamExt;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, BasicQosOptions, BasicRejectOptions};
use lapin::types::{AMQPValue, FieldTable};
use lapin::{Channel, Connection, Consumer};

/// A consumer on its own channel.
pub struct ChunkConsumer {
    channel: Channel,
    consumer: Consumer,
}

impl ChunkConsumer {
    pub(crate) async fn open(
        connection: &Connection,
        queue: &str,
        tag: &str,
        prefetch: u16,
    ) -> Result<ChunkConsumer, BrokerError> {
        let channel = connection.create_channel().await?;
        channel
            .basic_qos(prefetch.max(1), BasicQosOptions::default())
            .await?;
        let consumer = channel
            .basic_consume(
                short(queue),
                short(tag),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(ChunkConsumer { channel, consumer })
    }

    /// The next delivery; `None` when the consumer or its channel ended.
    pub async fn next(&mut self) -> Option<Result<Delivery, BrokerError>> {
        let delivery = self.consumer.next().await?;
        Some(
            delivery
                .map(|inner| Delivery { inner })
                .map_err(BrokerError::from),
        )
    }

    /// Stops receiving new deliveries (in-flight ones can still be acknowledged).
    pub async fn cancel(&self) {
        let _ = self
            .channel
            .basic_cancel(
                self.consumer.tag(),
                lapin::options::BasicCancelOptions::default(),
            )
            .await;
    }

    pub async fn close(self) {
        let _ = self.channel.close(200, short("done")).await;
    }
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
