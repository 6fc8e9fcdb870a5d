//! Reading a task type's dead-letter queue for operators: letters are fetched unacknowledged, so
//! that closing the reader returns every letter not explicitly removed.

use crate::connection::Broker;
use crate::error::BrokerError;
use crate::topology::short;
use lapin::Channel;
use lapin::options::{BasicAckOptions, BasicGetOptions};
use lapin::types::{AMQPValue, FieldTable};
use userhub_domain::TaskAction;

/// One dead-lettered message.
pub struct DeadLetter {
    pub body: Vec<u8>,
    pub headers: FieldTable,
    pub message_id: Option<String>,
    acker: lapin::Acker,
}

impl DeadLetter {
    /// A text header (e.g. the failure reason).
    pub fn text_header(&self, name: &str) -> Option<String> {
        match self.headers.inner().get(name)? {
            AMQPValue::LongString(text) => {
                Some(String::from_utf8_lossy(text.as_bytes()).into_owned())
            }
            AMQPValue::ShortString(text) => Some(text.as_str().to_owned()),
            _ => None,
        }
    }

    /// An integer header (0 when absent).
    pub fn counter(&self, name: &str) -> i64 {
        match self.headers.inner().get(name) {
            Some(AMQPValue::LongLongInt(number)) => *number,
            Some(AMQPValue::LongInt(number)) => i64::from(*number),
            _ => 0,
        }
    }
}

/// A reader of one dead-letter queue.
pub struct DeadLetterQueue {
    channel: Channel,
    queue: String,
}

impl DeadLetterQueue {
    pub async fn open(broker: &Broker, action: TaskAction) -> Result<DeadLetterQueue, BrokerError> {
        let connection = broker.connection()?;
        let channel = connection.create_channel().await?;
        Ok(DeadLetterQueue {
            channel,
            queue: broker.topology().dead_queue(action),
        })
    }

    /// The next letter, still held (unacknowledged) by this reader.
    pub async fn next(&self) -> Result<Option<DeadLetter>, BrokerError> {
        let message = self
            .channel
            .basic_get(short(&self.queue), BasicGetOptions { no_ack: false })
            .await?;
        Ok(message.map(|message| {
            let delivery = message.delivery;
            DeadLetter {
                headers: delivery.properties.headers().clone().unwrap_or_default(),
                message_id: delivery
                    .properties
                    .message_id()
                    .as_ref()
                    .map(|id| id.as_str().to_owned()),
                body: delivery.data,
                acker: delivery.acker,
            }
        }))
    }

    /// Removes a letter from the queue for good.
    pub async fn remove(&self, letter: &DeadLetter) -> Result<(), BrokerError> {
        letter.acker.ack(BasicAckOptions::default()).await?;
        Ok(())
    }

    /// Ends reading; letters not removed go back to the queue.
    pub async fn close(self) {
        let _ = self.channel.close(200, short("done")).await;
    }
}
