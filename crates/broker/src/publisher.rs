//! Confirmed publishing: persistent, mandatory messages on a channel in confirm mode; success
//! means the broker acknowledged every message (it is on disk in a durable queue).

use crate::error::BrokerError;
use crate::headers::to_table;
use crate::topology::{Topology, must_be_routed, short};
use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::{BasicProperties, Channel, Connection};
use std::time::Duration;
use userhub_tasks::transport::Outgoing;

/// AMQP delivery mode of messages that survive a broker restart.
const PERSISTENT: u8 = 2;

/// A confirm-mode channel.
pub(crate) struct Publisher {
    channel: Channel,
    topology: Topology,
    confirm_timeout: Duration,
}

impl Publisher {
    pub(crate) async fn open(
        connection: &Connection,
        topology: Topology,
        confirm_timeout: Duration,
    ) -> Result<Publisher, BrokerError> {
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher {
            channel,
            topology,
            confirm_timeout,
        })
    }

    /// Publishes every message and waits until the broker confirmed all of them. The one
    /// place messages are built: persistent, JSON, with their id, headers and priority.
    pub(crate) async fn publish_all(&self, messages: &[Outgoing]) -> Result<(), BrokerError> {
        let mut confirms = Vec::with_capacity(messages.len());
        for message in messages {
            let (exchange, routing_key) = self.topology.route(&message.route, message.priority);
            let properties = BasicProperties::default()
                .with_delivery_mode(PERSISTENT)
                .with_content_type(short("application/json"))
                .with_message_id(short(&message.message_id))
                .with_headers(to_table(&message.headers))
                .with_priority(message.priority);
            let confirm = self
                .channel
                .basic_publish(
                    short(&exchange),
                    short(&routing_key),
                    BasicPublishOptions {
                        mandatory: must_be_routed(&message.route),
                        ..BasicPublishOptions::default()
                    },
                    &message.body,
                    properties,
                )
                .await?;
            confirms.push(confirm);
        }
        let all_confirmed = async {
            for confirm in confirms {
                let confirmation = confirm.await?;
                if confirmation.is_nack() {
                    return Err(BrokerError::Refused("negative acknowledgement".to_owned()));
                }
                if let Some(returned) = confirmation.take_message() {
                    return Err(BrokerError::Refused(format!(
                        "unroutable: {}",
                        returned.reply_text
                    )));
                }
            }
            Ok(())
        };
        tokio::time::timeout(self.confirm_timeout, all_confirmed)
            .await
            .map_err(|_| BrokerError::ConfirmTimeout)?
    }

    /// Whether the channel can still publish.
    pub(crate) fn is_open(&self) -> bool {
        self.channel.status().connected()
    }

    pub(crate) async fn close(self) {
        let _ = self.channel.close(200, short("done")).await;
    }
}
