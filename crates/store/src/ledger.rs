//! The chunk ledger (`task_chunks`): one row per applied chunk with its per-record outcomes,
//! which makes redelivered chunks detectable and feeds the results and errors files.

use crate::error::StoreError;
use crate::outcome_blob::{EncodedOutcomes, OutcomeFrame};
use deadpool_postgres::GenericClient;
use userhub_domain::TaskKey;

/// A chunk's row, written in the chunk's own transaction.
#[derive(Debug)]
pub struct ChunkEntry<'a> {
    pub task: TaskKey,
    pub chunk_no: i32,
    pub first_index: i64,
    pub records: i32,
    pub succeeded: i32,
    pub failed: i32,
    /// The results' lines in index order (see `outcome_blob`); `None` if there are none.
    pub results: Option<&'a EncodedOutcomes>,
    pub errors: Option<&'a EncodedOutcomes>,
}

/// Whether the chunk was already applied (a redelivery).
pub async fn chunk_applied(
    client: &impl GenericClient,
    task: TaskKey,
    chunk_no: i32,
) -> Result<bool, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/ledger/chunk_applied.sql"))
        .await?;
    Ok(client
        .query_opt(
            &statement,
            &[&task.domain_id.as_i64(), &task.task_id.as_i64(), &chunk_no],
        )
        .await?
        .is_some())
}

/// The numbers of the task's chunks that are in the ledger.
pub async fn applied_chunk_numbers(
    client: &impl GenericClient,
    task: TaskKey,
) -> Result<Vec<i32>, StoreError> {
    let rows = client
        .query(
            include_str!("../queries/ledger/applied_chunk_numbers.sql"),
            &[&task.domain_id.as_i64(), &task.task_id.as_i64()],
        )
        .await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
}

/// Removes a chunk's ledger row (to apply the chunk again); returns its counts
/// `(records, succeeded, failed)` if it was there.
pub async fn remove_chunk(
    client: &impl GenericClient,
    task: TaskKey,
    chunk_no: i32,
) -> Result<Option<(i64, i64, i64)>, StoreError> {
    let row = client
        .query_opt(
            include_str!("../queries/ledger/remove_chunk.sql"),
            &[&task.domain_id.as_i64(), &task.task_id.as_i64(), &chunk_no],
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
        .prepare_cached(include_str!("../queries/ledger/insert_chunk.sql"))
        .await?;
    let results = FrameColumns::of(entry.results);
    let errors = FrameColumns::of(entry.errors);
    let inserted = client
        .execute(
            &statement,
            &[
                &entry.task.domain_id.as_i64(),
                &entry.task.task_id.as_i64(),
                &entry.chunk_no,
                &entry.first_index,
                &entry.records,
                &entry.succeeded,
                &entry.failed,
                &results.data,
                &results.crc32,
                &results.size,
                &results.last_index,
                &errors.data,
                &errors.crc32,
                &errors.size,
                &errors.last_index,
            ],
        )
        .await?;
    Ok(inserted == 1)
}

/// A blob and its frame as column values.
struct FrameColumns<'a> {
    data: Option<&'a [u8]>,
    crc32: Option<i32>,
    size: Option<i64>,
    last_index: Option<i64>,
}

impl<'a> FrameColumns<'a> {
    fn of(encoded: Option<&'a EncodedOutcomes>) -> FrameColumns<'a> {
        FrameColumns {
            data: encoded.map(|encoded| encoded.data.as_slice()),
            // The CRC's 32 bits are kept as they are in a signed column.
            crc32: encoded.map(|encoded| encoded.frame.crc32 as i32),
            size: encoded.map(|encoded| encoded.frame.size as i64),
            last_index: encoded.map(|encoded| encoded.frame.last_index as i64),
        }
    }
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
    /// `None` for a blob stored before frames existed.
    pub frame: Option<OutcomeFrame>,
}

impl OutcomeBlob {
    /// The blob's lines as text (split them with `userhub_domain::outcome_line::lines`).
    pub fn text(&self) -> std::io::Result<String> {
        crate::outcome_blob::inflate_outcomes(&self.data, self.frame.as_ref())
    }
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
    task: TaskKey,
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
                &task.domain_id.as_i64(),
                &task.task_id.as_i64(),
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
            frame: frame_of(row),
        })
        .collect())
}

fn frame_of(row: &tokio_postgres::Row) -> Option<OutcomeFrame> {
    let crc32: i32 = row.get::<_, Option<i32>>(3)?;
    let size: i64 = row.get::<_, Option<i64>>(4)?;
    let last_index: i64 = row.get::<_, Option<i64>>(5)?;
    Some(OutcomeFrame {
        crc32: crc32 as u32,
        size: u64::try_from(size).ok()?,
        last_index: u64::try_from(last_index).ok()?,
    })
}
