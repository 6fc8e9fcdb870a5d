//! The test's broker names: chunks waiting in a task type's work queues, queue depths, and
//! removing a test's queues and exchange when it stops.

use userhub_broker::{Inspector, Topology};
use userhub_server::Settings;

/// Deletes the queues and the exchange of a test's broker prefix (best effort; they would expire
/// by themselves later).
pub(crate) async fn delete_broker_names(settings: &Settings) {
    let Ok(inspector) = Inspector::connect(&settings.broker).await else {
        return;
    };
    inspector
        .delete_names(&Topology::new(&settings.broker))
        .await;
    inspector.close().await;
}

/// Messages ready in the dead-letter queue of a task type.
pub async fn dead_letter_depth(settings: &Settings, action: userhub_domain::TaskAction) -> u32 {
    let topology = Topology::new(&settings.broker);
    queue_depth(settings, &topology.dead_queue(action)).await
}

/// Takes (without acknowledgement: they are gone) up to `limit` chunks waiting in the work
/// queues of `action`, whichever shards and lanes hold them.
pub async fn take_work_messages(
    settings: &Settings,
    action: userhub_domain::TaskAction,
    limit: usize,
) -> Vec<Vec<u8>> {
    let inspector = Inspector::connect(&settings.broker).await.unwrap();
    let topology = Topology::new(&settings.broker);
    let mut taken = Vec::new();
    for queue in topology.work_queues(action) {
        while taken.len() < limit {
            match inspector.take(&queue.name).await.unwrap() {
                Some(message) => taken.push(message.body),
                None => break,
            }
        }
    }
    inspector.close().await;
    taken
}

/// Messages ready in a queue (its full name).
pub async fn queue_depth(settings: &Settings, queue: &str) -> u32 {
    let inspector = Inspector::connect(&settings.broker).await.unwrap();
    let depth = inspector.depth(queue).await.unwrap();
    inspector.close().await;
    depth
}
