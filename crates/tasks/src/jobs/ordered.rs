//! In-order task types (upserts) apply their chunks one after another: a chunk that arrives
//! before its predecessor was applied is deferred (stored in PostgreSQL, then acknowledged), and
//! whoever applies the predecessor publishes it again. A sweep in every worker process publishes
//! deferred chunks whose release was missed (the process stopped between commit and publish).

use crate::transport::{ChunkTransport, Outgoing, TransportError, priority_for_backlog};
use serde::Deserialize;
use userhub_domain::{TaskAction, TaskKey};
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
    Transport(#[from] TransportError),
}

async fn publish(
    transport: &dyn ChunkTransport,
    action: TaskAction,
    task: TaskKey,
    chunk_no: i32,
    body: Vec<u8>,
) -> Result<(), ReleaseError> {
    let chunk_no = u32::try_from(chunk_no).unwrap_or_default();
    let message = Outgoing::chunk(action, task, chunk_no, priority_for_backlog(0), body);
    Ok(transport.publish(std::slice::from_ref(&message)).await?)
}

/// Publishes the task's chunk `chunk_no` again if it was deferred and may now be applied.
pub async fn release_next(
    pool: &Pool,
    transport: &dyn ChunkTransport,
    action: TaskAction,
    task: TaskKey,
    chunk_no: i32,
) -> Result<bool, ReleaseError> {
    let client = pool.get().await.map_err(StoreError::from)?;
    let Some(body) = ready_chunk(&client, task, chunk_no).await? else {
        return Ok(false);
    };
    let action = ChunkRoute::of(&body).map_or(action, |route| route.action);
    publish(transport, action, task, chunk_no, body).await?;
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
pub(crate) async fn release_forgotten(
    pool: &Pool,
    transport: &dyn ChunkTransport,
) -> Result<usize, ReleaseError> {
    let client = pool.get().await.map_err(StoreError::from)?;
    let forgotten = forgotten_chunks(&client, SWEEP_AFTER_MS).await?;
    let count = forgotten.len();
    for (task, chunk_no, body) in forgotten {
        let Some(route) = ChunkRoute::of(&body) else {
            tracing::error!(task_id = %task, chunk_no, "a deferred chunk cannot be read; leaving it");
            continue;
        };
        publish(transport, route.action, task, chunk_no, body).await?;
        forget(&client, task, chunk_no).await?;
        tracing::warn!(task_id = %task, chunk_no, "deferred chunk released by the sweep");
    }
    Ok(count)
}
