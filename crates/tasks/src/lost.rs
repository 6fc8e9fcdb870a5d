//! Chunks that will never be applied — lost from the queues, or never queued because a task's
//! acceptance failed half-way: each gets its ledger row with every record failed with
//! `PROCESSING_FAILED`, which counts it, and the last one completes the task.

use crate::apply::{ChunkError, OutcomeWriter};
use serde_json::{Value, json};
use userhub_domain::manifest::ChunkManifest;
use userhub_domain::{ErrorCode, FieldError, TaskKey};
use userhub_store::Transaction;
use userhub_store::ledger::{ChunkEntry, insert_chunk};
use userhub_store::tasks::record_chunk_progress;

/// Why the records of the chunks are failed.
pub(crate) struct Loss<'a> {
    /// The records' error message.
    pub message: &'static str,
    /// What happened, in the error's details.
    pub reason: &'a str,
}

/// Writes the ledger rows of `chunk_nos` (a chunk that has one already is left as it is) with
/// every record, known from `manifest`, failed.
pub(crate) async fn fail_chunks(
    transaction: &Transaction<'_>,
    task: TaskKey,
    manifest: Option<&ChunkManifest>,
    chunk_nos: impl IntoIterator<Item = i32>,
    loss: &Loss<'_>,
) -> Result<(), ChunkError> {
    let error = FieldError::new("", ErrorCode::ProcessingFailed, loss.message)
        .with_details(json!({ "reason": loss.reason }));
    for chunk_no in chunk_nos {
        let indexes: Vec<u32> = manifest
            .map(|manifest| manifest.indexes(chunk_no as usize).collect())
            .unwrap_or_default();
        let mut writer = OutcomeWriter::default();
        for index in &indexes {
            writer.add_error(*index, None, &Value::Null, std::slice::from_ref(&error))?;
        }
        let outcomes = writer.finish()?;
        let entry = ChunkEntry {
            task,
            chunk_no,
            first_index: indexes.first().map_or(0, |index| i64::from(*index)),
            records: indexes.len() as i32,
            succeeded: 0,
            failed: outcomes.failed,
            results: None,
            errors: outcomes.errors.as_ref(),
        };
        if insert_chunk(transaction, &entry).await? {
            record_chunk_progress(transaction, task, 0, i64::from(outcomes.failed)).await?;
        }
    }
    Ok(())
}
