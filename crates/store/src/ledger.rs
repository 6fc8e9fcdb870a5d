//! The chunk ledger (`task_chunks`): one row per applied chunk with its per-record outcomes,
//! which makes redelivered chunks detectable and feeds the results and errors files.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;
use userhub_domain::TaskId;

/// A chunk's row, written in the chunk's own transaction.
#[derive(Debug)]
pub struct ChunkEntry<'a> {
    pub task_id: TaskId,
    pub chunk_no: i32,
    pub first_index: i64,
    pub records: i32,
    pub succeeded: i32,
    pub failed: i32,
    /// Deflated NDJSON of the results, in index order; `None` if there are none.
    pub results: Option<&'a [u8]>,
    pub errors: Option<&'a [u8]>,
}

/// Whether the chunk was already applied (a redelivery).
pub async fn chunk_applied(
    client: &impl GenericClient,
    task_id: TaskId,
    chunk_no: i32,
) -> Result<bool, StoreError> {
    let statement = client
        .prepare_cached("SELECT 1 FROM task_chunks WHERE task_id = $1 AND chunk_no = $2")
        .await?;
    Ok(client
        .query_opt(&statement, &[&task_id.as_i64(), &chunk_no])
        .await?
        .is_some())
}

/// The numbers of the task's chunks that are in the ledger.
pub async fn applied_chunk_numbers(
    client: &impl GenericClient,
    task_id: TaskId,
) -> Result<Vec<i32>, StoreError> {
    let rows = client
        .query(
            "SELECT chunk_no FROM task_chunks WHERE task_id = $1",
            &[&task_id.as_i64()],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Removes a chunk's ledger row (to apply the chunk again); returns its counts
/// `(records, succeeded, failed)` if it was there.
pub async fn remove_chunk(
    client: &impl GenericClient,
    task_id: TaskId,
    chunk_no: i32,
) -> Result<Option<(i64, i64, i64)>, StoreError> {
    let row = client
        .query_opt(
            "DELETE FROM task_chunks WHERE task_id = $1 AND chunk_no = $2
             RETURNING records::int8, succeeded::int8, failed::int8",
            &[&task_id.as_i64(), &chunk_no],
        )
        .await?;
    Ok(row.map(|row| (row.get(0), row.get(1), row.get(2))))
}

/// Records the chunk; returns false if another delivery of it committed first, in which case
/// the caller must roll back.
pub async fn insert_chunk(
    client: &impl GenericClient,
    entry: &ChunkEntry<'_>,
) -> Result<bool, StoreError> {
    let statement = client
        .prepare_cached(
            "INSERT INTO task_chunks (task_id, chunk_no, first_index, records, succeeded, failed, results, errors)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
             ON CONFLICT (task_id, chunk_no) DO NOTHING",
        )
        .await?;
    let inserted = client
        .execute(
            &statement,
            &[
                &entry.task_id.as_i64(),
                &entry.chunk_no,
                &entry.first_index,
                &entry.records,
                &entry.succeeded,
                &entry.failed,
                &entry.results,
                &entry.errors,
            ],
        )
        .await?;
    Ok(inserted == 1)
}

/// Which outcomes to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutcomeKind {
    Results,
    Errors,
}

/// One chunk's deflated outcome lines.
#[derive(Debug)]
pub struct OutcomeBlob {
    pub position: OutcomePosition,
    pub data: Vec<u8>,
}

/// The NDJSON text of a chunk's deflated outcomes (one entry per line, in index order).
pub fn inflate_outcomes(data: &[u8]) -> std::io::Result<String> {
    use std::io::Read;
    let mut text = String::new();
    flate2::read::DeflateDecoder::new(data).read_to_string(&mut text)?;
    Ok(text)
}

/// Where a reader of outcome blobs stands: after the blob at (`first_index`, `chunk_no`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomePosition {
    pub first_index: i64,
    pub chunk_no: i32,
}

impl OutcomePosition {
    /// Before the first blob.
    pub const START: OutcomePosition = OutcomePosition {
        first_index: -1,
        chunk_no: -1,
    };
}

/// Up to `limit` outcome blobs after `after`, ordered by their first record index. A
/// connection is needed only for the page, so that a slow reader holds none in between.
pub async fn outcome_page(
    client: &impl GenericClient,
    task_id: TaskId,
    kind: OutcomeKind,
    after: OutcomePosition,
    limit: i64,
) -> Result<Vec<OutcomeBlob>, StoreError> {
    let sql = match kind {
        OutcomeKind::Results => include_str!("../queries/ledger/results_page.sql"),
        OutcomeKind::Errors => include_str!("../queries/ledger/errors_page.sql"),
    };
    let statement = client.prepare_cached(sql).await?;
    let rows = client
        .query(
            &statement,
            &[
                &task_id.as_i64(),
                &after.first_index,
                &after.chunk_no,
                &limit,
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| OutcomeBlob {
            position: OutcomePosition {
                first_index: row.get(0),
                chunk_no: row.get(1),
            },
            data: row.get::<_, Option<Vec<u8>>>(2).unwrap_or_default(),
        })
        .collect())
}
