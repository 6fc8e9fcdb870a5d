//! Reading a task type's dead-letter queue for operators: letters are fetched unacknowledged, so
//! that closing the reader returns every letter not explicitly removed.

use crate::connection::Broker;
use crate::error::BrokerError;
use crate::headers::from_table;
use crate::topology::short;
use lapin::Channel;
use lapin::options::{BasicAckOptions, BasicGetOptions};
use userhub_domain::TaskAction;
use userhub_tasks::transport::MessageHeaders;

/// One dead-lettered message.
pub struct DeadLetter {
    pub body: Vec<u8>,
    /// Its attempts and the reason it was given up.
    pub headers: MessageHeaders,
    pub message_id: Option<String>,
    acker: lapin::Acker,
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
                headers: from_table(delivery.properties.headers().as_ref()),
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
