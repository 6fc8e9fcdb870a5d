//! The broker as the health routes and the dashboard see it (queue depths by passive declares).

use crate::Broker;
use userhub_domain::TaskAction;
use userhub_telemetry::{BrokerProbe, QueueCounts, QueueCountsFuture};

impl BrokerProbe for Broker {
    fn is_connected(&self) -> bool {
        Broker::is_connected(self)
    }

    fn queue_counts(&self, action: TaskAction) -> QueueCountsFuture<'_> {
        Box::pin(async move {
            match self.queue_depths(action).await {
                Ok(depths) => Some(QueueCounts {
                    work: depths.work,
                    retry: depths.retry,
                    dead: depths.dead,
                }),
                Err(error) => {
                    tracing::debug!(%error, "queue depths unavailable");
                    None
                }
            }
        })
    }
}
