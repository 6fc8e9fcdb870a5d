//! The broker's error type.

/// A failure talking to RabbitMQ.
#[derive(Debug, thiserror::Error)]
pub enum BrokerError {
    /// Not connected right now; the supervisor is reconnecting.
    #[error("message broker unavailable")]
    Unavailable,
    #[error("message broker error: {0}")]
    Amqp(#[from] lapin::Error),
    /// The broker refused (nack) or returned (unroutable) a message.
    #[error("message broker refused a message: {0}")]
    Refused(String),
    #[error("message broker did not confirm in time")]
    ConfirmTimeout,
}

impl From<BrokerError> for userhub_tasks::TransportError {
    fn from(error: BrokerError) -> Self {
        use userhub_tasks::TransportError;
        match error {
            BrokerError::Unavailable => TransportError::Unavailable,
            BrokerError::Refused(reason) => TransportError::Refused(reason),
            other => TransportError::Failed(other.to_string()),
        }
    }
}
