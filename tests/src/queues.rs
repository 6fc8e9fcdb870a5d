//! The test's broker names: chunks waiting in a task type's work queues, queue depths, and
//! removing a test's queues and exchange when it stops.

use userhub_server::Settings;

/// Deletes the queues and the exchange of a test's broker prefix (best effort; they would expire
/// by themselves later).
pub(crate) async fn delete_broker_names(settings: &Settings) {
    let Ok(connection) =
        lapin::Connection::connect(&settings.broker.url, lapin::ConnectionProperties::default())
            .await
    else {
        return;
    };
    if let Ok(channel) = connection.create_channel().await {
        let topology = userhub_broker::Topology::new(&settings.broker);
        for action in userhub_domain::TaskAction::ALL {
            for queue in topology.all_queues(action) {
                let _ = channel
                    .queue_delete(queue.as_str().into(), Default::default())
                    .await;
            }
        }
        let _ = channel
            .exchange_delete(topology.exchange().as_str().into(), Default::default())
            .await;
    }
    let _ = connection.close(200, "done".into()).await;
}

/// Messages ready in the dead-letter queue of a task type.
pub async fn dead_letter_depth(settings: &Settings, action: userhub_domain::TaskAction) -> u32 {
    let topology = userhub_broker::Topology::new(&settings.broker);
    queue_depth(settings, &topology.dead_queue(action)).await
}

/// Takes (without acknowledgement: they are gone) up to `limit` chunks waiting in the work
/// queues of `action`, whichever shards and lanes hold them.
pub async fn take_work_messages(
    settings: &Settings,
    action: userhub_domain::TaskAction,
    limit: usize,
) -> Vec<Vec<u8>> {
    let connection =
        lapin::Connection::connect(&settings.broker.url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let topology = userhub_broker::Topology::new(&settings.broker);
    let mut taken = Vec::new();
    for queue in topology.work_queues(action) {
        while taken.len() < limit {
            let options = lapin::options::BasicGetOptions { no_ack: true };
            match channel
                .basic_get(queue.name.as_str().into(), options)
                .await
                .unwrap()
            {
                Some(message) => taken.push(message.delivery.data.clone()),
                None => break,
            }
        }
    }
    let _ = connection.close(200, "done".into()).await;
    taken
}

/// Messages ready in a queue (its full name).
pub async fn queue_depth(settings: &Settings, queue: &str) -> u32 {
    let connection =
        lapin::Connection::connect(&settings.broker.url, lapin::ConnectionProperties::default())
            .await
            .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let name = queue;
    let passive = lapin::options::QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let declared = channel
        .queue_declare(name.into(), passive, Default::default())
        .await
        .unwrap();
    let _ = connection.close(200, "done".into()).await;
    declared.message_count()
}
