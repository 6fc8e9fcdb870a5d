//! The dashboard's queue depths from the broker connection of the process that serves it (the
//! status crate itself reads PostgreSQL only).

use userhub_broker::Broker;
use userhub_domain::TaskAction;
use userhub_status::dashboard::{QueueCounts, QueueCountsFuture, QueueDepthSource};

/// Queue depths by passive declares on the process's broker connection.
pub struct BrokerQueueDepths(pub Broker);

impl QueueDepthSource for BrokerQueueDepths {
    fn queue_counts(&self, action: TaskAction) -> QueueCountsFuture<'_> {
        Box::pin(async move {
            match self.0.queue_depths(action).await {
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
