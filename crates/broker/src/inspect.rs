//! Looking inside the broker from outside the protocol, for tests and operators' tools: taking
//! messages from a queue, tapping an exchange with a private queue, reading a depth, and
//! deleting a prefix's names, offering a raw message straight to a queue. Its own connection, so that lapin stays inside this crate.

use crate::{BrokerError, BrokerSettings, Topology};
use lapin::options::{
    BasicGetOptions, BasicPublishOptions, ConfirmSelectOptions, ExchangeDeleteOptions,
    QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use userhub_domain::TaskAction;

/// A message taken from a queue: its body and the routing key it was published with.
#[derive(Debug, Clone)]
pub struct TakenMessage {
    pub body: Vec<u8>,
    pub routing_key: String,
}

/// One connection and channel for looking at queues.
pub struct Inspector {
    connection: lapin::Connection,
    channel: lapin::Channel,
}

impl Inspector {
    /// Connects to the broker of `settings`.
    pub async fn connect(settings: &BrokerSettings) -> Result<Inspector, BrokerError> {
        let connection =
            lapin::Connection::connect(&settings.url, lapin::ConnectionProperties::default())
                .await?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Inspector {
            connection,
            channel,
        })
    }

    /// Takes the next ready message of `queue` (no acknowledgement: it is gone), if any.
    pub async fn take(&self, queue: &str) -> Result<Option<TakenMessage>, BrokerError> {
        let message = self
            .channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: true })
            .await?;
        Ok(message.map(|message| TakenMessage {
            body: message.delivery.data.clone(),
            routing_key: message.delivery.routing_key.to_string(),
        }))
    }

    /// Publishes `body` as a persistent message straight to `queue` and waits for the broker's
    /// confirm: `true` if it took the message, `false` if it refused it (e.g. a full queue).
    pub async fn offer(&self, queue: &str, body: &[u8]) -> Result<bool, BrokerError> {
        let confirmation = self
            .channel
            .basic_publish(
                "".into(),
                queue.into(),
                BasicPublishOptions::default(),
                body,
                lapin::BasicProperties::default().with_delivery_mode(2),
            )
            .await?
            .await?;
        Ok(!confirmation.is_nack())
    }

    /// Messages ready in `queue` (its full name), by a passive declare.
    pub async fn depth(&self, queue: &str) -> Result<u32, BrokerError> {
        let passive = QueueDeclareOptions {
            passive: true,
            ..QueueDeclareOptions::default()
        };
        let declared = self
            .channel
            .queue_declare(queue.into(), passive, FieldTable::default())
            .await?;
        Ok(declared.message_count())
    }

    /// Declares a private queue, deleted with this connection, bound to `exchange` with
    /// `pattern`; answers its name.
    pub async fn tap(&self, exchange: &str, pattern: &str) -> Result<String, BrokerError> {
        let private = QueueDeclareOptions {
            exclusive: true,
            ..QueueDeclareOptions::default()
        };
        let queue = self
            .channel
            .queue_declare("".into(), private, FieldTable::default())
            .await?
            .name()
            .to_string();
        self.channel
            .queue_bind(
                queue.as_str().into(),
                exchange.into(),
                pattern.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        Ok(queue)
    }

    /// Deletes every queue of every task type and the exchange of `topology`'s prefix, as far
    /// as they exist (what is missing is skipped).
    pub async fn delete_names(&self, topology: &Topology) {
        for action in TaskAction::ALL {
            for queue in topology.all_queues(action) {
                // A queue that is missing closes the channel on some brokers; go on regardless.
                let _ = self
                    .channel
                    .queue_delete(queue.as_str().into(), QueueDeleteOptions::default())
                    .await;
            }
        }
        let _ = self
            .channel
            .exchange_delete(
                topology.exchange().as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await;
    }

    /// Closes the connection (and with it any tap).
    pub async fn close(self) {
        let _ = self.connection.close(200, "done".into()).await;
    }
}
