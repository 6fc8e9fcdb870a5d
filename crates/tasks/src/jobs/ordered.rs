//! In-order task types (upserts) apply their chunks one after another: a chunk that arrives
//! before its predecessor was applied is deferred (stored in PostgreSQL, then acknowledged), and
//! whoever applies the predecessor publishes it again. A sweep in every worker process publishes
//! deferred chunks whose release was missed (the process stopped between commit and publish).

use serde::Deserialize;
use userhub_broker::{Broker, Destination, FieldTable, OutgoingMessage, priority_for_backlog};
use userhub_domain::{TaskAction, TaskId, TaskKey};
use userhub_store::deferred::{forget, forgotten_chunks, ready_chunk};
use userhub_store::{Pool, StoreError};

/// How long a releasable deferred chunk may wait before the sweep publishes it.
const SWEEP_AFTER_MS: i64 = 10_000;

/// Why a deferred chunk could not be released.
#[derive(Debug, thiserror::Error)]
pub enum ReleaseError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Broker(#[from] userhub_broker::BrokerError),
}

async fn publish(
    broker: &Broker,
    action: TaskAction,
    task: TaskKey,
    chunk_no: i32,
    body: Vec<u8>,
) -> Result<(), ReleaseError> {
    let task_id: TaskId = task.task_id;
    let message = OutgoingMessage {
        destination: Destination::Work(action, task.domain_id),
        message_id: format!("{task_id}:{chunk_no}"),
        body,
        headers: FieldTable::default(),
        priority: priority_for_backlog(0),
    };
    let publisher = broker.publisher().await?;
    let published = publisher.publish_all(std::slice::from_ref(&message)).await;
    publisher.close().await;
    Ok(published?)
}

/// Publishes the task's chunk `chunk_no` again if it was deferred and may now be applied.
pub async fn release_next(
    pool: &Pool,
    broker: &Broker,
    action: TaskAction,
    task: TaskKey,
    chunk_no: i32,
) -> Result<bool, ReleaseError> {
    let client = pool.get().await.map_err(StoreError::from)?;
    let Some(body) = ready_chunk(&client, task, chunk_no).await? else {
        return Ok(false);
    };
    let action = ChunkRoute::of(&body).map_or(action, |route| route.action);
    publish(broker, action, task, chunk_no, body).await?;
    forget(&client, task, chunk_no).await?;
    tracing::debug!(task_id = %task, chunk_no, "deferred chunk released");
    Ok(true)
}

/// Where a chunk is published: its task type (its domain, for the shard, is the task's).
#[derive(Deserialize)]
struct ChunkRoute {
    action: TaskAction,
}

impl ChunkRoute {
    fn of(body: &[u8]) -> Option<ChunkRoute> {
        serde_json::from_slice(body).ok()
    }
}

/// Publishes deferred chunks whose predecessors are applied but whose release was missed.
pub(crate) async fn release_forgotten(pool: &Pool, broker: &Broker) -> Result<usize, ReleaseError> {
    let client = pool.get().await.map_err(StoreError::from)?;
    let forgotten = forgotten_chunks(&client, SWEEP_AFTER_MS).await?;
    let count = forgotten.len();
    for (task, chunk_no, body) in forgotten {
        let Some(route) = ChunkRoute::of(&body) else {
            tracing::error!(task_id = %task, chunk_no, "a deferred chunk cannot be read; leaving it");
            continue;
        };
        publish(broker, route.action, task, chunk_no, body).await?;
        forget(&client, task, chunk_no).await?;
        tracing::warn!(task_id = %task, chunk_no, "deferred chunk released by the sweep");
    }
    Ok(count)
}
