//! Chunk bodies, the claim check: the records of an accepted task's chunks wait here (compressed
//! by the caller) until the worker that applies a chunk takes them in its transaction.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;
use userhub_domain::TaskKey;

const INSERT: &str = include_str!("../queries/chunk_bodies/insert.sql");
const TAKE: &str = include_str!("../queries/chunk_bodies/take.sql");
const READ: &str = include_str!("../queries/chunk_bodies/read.sql");

/// Stores `bodies[n]` as the records of chunk `n` of `task`, in one statement.
pub async fn store_bodies(
    client: &impl GenericClient,
    task: TaskKey,
    bodies: &[Vec<u8>],
) -> Result<(), StoreError> {
    let chunk_nos: Vec<i32> = (0..bodies.len() as i32).collect();
    store_numbered_bodies(client, task, &chunk_nos, bodies).await
}

/// Stores the records of chunks `chunk_nos` of `task`, the `n`th body for the `n`th number
/// (chunks stored as they complete, in any order).
pub async fn store_numbered_bodies(
    client: &impl GenericClient,
    task: TaskKey,
    chunk_nos: &[i32],
    bodies: &[Vec<u8>],
) -> Result<(), StoreError> {
    let statement = client.prepare_cached(INSERT).await?;
    client
        .execute(
            &statement,
            &[
                &task.domain_id.as_i64(),
                &task.task_id.as_i64(),
                &chunk_nos,
                &bodies,
            ],
        )
        .await?;
    Ok(())
}

/// Takes the stored records of chunk `chunk_no`: the row is deleted when the caller's
/// transaction commits (and stays if it rolls back). `None` if nothing is stored for it.
pub async fn take_body(
    client: &impl GenericClient,
    task: TaskKey,
    chunk_no: i32,
) -> Result<Option<Vec<u8>>, StoreError> {
    body(client, TAKE, task, chunk_no).await
}

/// Reads the stored records of chunk `chunk_no` and keeps them.
pub async fn read_body(
    client: &impl GenericClient,
    task: TaskKey,
    chunk_no: i32,
) -> Result<Option<Vec<u8>>, StoreError> {
    body(client, READ, task, chunk_no).await
}

async fn body(
    client: &impl GenericClient,
    sql: &str,
    task: TaskKey,
    chunk_no: i32,
) -> Result<Option<Vec<u8>>, StoreError> {
    let statement = client.prepare_cached(sql).await?;
    let row = client
        .query_opt(
            &statement,
            &[&task.domain_id.as_i64(), &task.task_id.as_i64(), &chunk_no],
        )
        .await?;
    Ok(row.map(|row| row.get(0)))
}
