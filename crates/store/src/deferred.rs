//! Deferred chunks: a chunk of an in-order task (an upsert) that arrives before its predecessor
//! was applied is stored here in the same transaction that finds it early, and published again
//! once the predecessor committed — so chunks apply one after another without anyone waiting.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;
use userhub_domain::{TaskId, TaskKey};

const INSERT: &str = include_str!("../queries/deferred/insert.sql");
const TAKE: &str = include_str!("../queries/deferred/take.sql");
const READY: &str = include_str!("../queries/deferred/ready.sql");
const FORGET: &str = include_str!("../queries/deferred/forget.sql");
const PREDECESSORS_APPLIED: &str = include_str!("../queries/deferred/predecessors_applied.sql");

/// Whether chunks `0..chunk_no` of the task are all applied.
pub async fn predecessors_applied(
    client: &impl GenericClient,
    task: TaskKey,
    chunk_no: i32,
) -> Result<bool, StoreError> {
    let statement = client.prepare_cached(PREDECESSORS_APPLIED).await?;
    let row = client
        .query_one(
            &statement,
            &[&task.domain_id.as_i64(), &task.task_id.as_i64(), &chunk_no],
        )
        .await?;
    Ok(row.get::<_, i64>(0) == i64::from(chunk_no))
}

/// Keeps `body` (the chunk's message) until its predecessor is applied.
pub async fn defer_chunk(
    client: &impl GenericClient,
    task: TaskKey,
    chunk_no: i32,
    body: &[u8],
) -> Result<(), StoreError> {
    let statement = client.prepare_cached(INSERT).await?;
    client
        .execute(
            &statement,
            &[
                &task.domain_id.as_i64(),
                &task.task_id.as_i64(),
                &chunk_no,
                &body,
            ],
        )
        .await?;
    Ok(())
}

/// The message of deferred chunk `chunk_no` if it is waiting and may now be applied.
pub async fn ready_chunk(
    client: &impl GenericClient,
    task: TaskKey,
    chunk_no: i32,
) -> Result<Option<Vec<u8>>, StoreError> {
    let statement = client.prepare_cached(TAKE).await?;
    let row = client
        .query_opt(
            &statement,
            &[&task.domain_id.as_i64(), &task.task_id.as_i64(), &chunk_no],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}

/// Deferred chunks that may be applied and have waited at least `min_age_ms`.
pub async fn forgotten_chunks(
    client: &impl GenericClient,
    min_age_ms: i64,
) -> Result<Vec<(TaskKey, i32, Vec<u8>)>, StoreError> {
    let statement = client.prepare_cached(READY).await?;
    let rows = client.query(&statement, &[&(min_age_ms as f64)]).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let task = TaskKey::new(
                row.get::<_, i64>(0).into(),
                TaskId::from(row.get::<_, i64>(1)),
            );
            (task, row.get(2), row.get(3))
        })
        .collect())
}

/// Forgets a deferred chunk once it was published again.
pub async fn forget(
    client: &impl GenericClient,
    task: TaskKey,
    chunk_no: i32,
) -> Result<(), StoreError> {
    let statement = client.prepare_cached(FORGET).await?;
    client
        .execute(
            &statement,
            &[&task.domain_id.as_i64(), &task.task_id.as_i64(), &chunk_no],
        )
        .await?;
    Ok(())
}
