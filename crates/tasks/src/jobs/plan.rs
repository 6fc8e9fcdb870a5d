//! Planning an export picked by a selector (`{"all": true}`, ...): under the task's row lock and
//! a repeatable-read snapshot, the selected keys are streamed from PostgreSQL and published as
//! ordinary chunks of `{"core-profile-id": ..}` / `{"pid": ..}` records, which any number of
//! workers then export in parallel. Memory holds one chunk of keys at a time. The plan's own
//! ledger row (chunk 0) and the task's final size are committed only after every chunk is
//! confirmed; the export's chunks wait for that commit on the task row.

use crate::apply::{ChunkDisposition, ChunkError};
use crate::envelope::{ChunkHeader, ChunkMessage, ChunkRecord, ReceivedChunk, encode};
use crate::gate::{self, Passage, RowLock};
use crate::transport::{ChunkTransport, Outgoing, priority_for_backlog};
use serde_json::json;
use serde_json::value::{RawValue, to_raw_value};
use std::borrow::Cow;
use userhub_domain::manifest::ChunkManifest;
use userhub_domain::profile::selector::ExportSelector;
use userhub_domain::record::{ExportRequest, ExportTarget, parse_export_record};
use userhub_domain::{TaskOptions, TaskState};
use userhub_store::exports::{
    ExportKey, ExportKind, count_selection, next_selected, open_selection,
};
use userhub_store::ledger::{ChunkEntry, insert_chunk};
use userhub_store::tasks::{
    complete_canceled, record_chunk_progress, set_plan, start_processing, state_for_chunk,
};
use userhub_store::{Pool, StoreError, Transaction};

/// Chunks published per round of confirms.
const PUBLISH_BATCH: usize = 16;

/// The record that asks for one selected profile.
fn record_input(key: &ExportKey) -> Result<Box<RawValue>, serde_json::Error> {
    match key {
        ExportKey::Core(id) => to_raw_value(&json!({ "core-profile-id": id })),
        ExportKey::App(pid) => to_raw_value(&json!({ "pid": pid })),
    }
}

fn encoding(error: serde_json::Error) -> ChunkError {
    ChunkError::Processing(error.to_string())
}

/// The selector the chunk carries, for `kind`'s profiles.
fn selector_of(message: &ReceivedChunk, kind: ExportKind) -> Result<ExportSelector, ChunkError> {
    let target = match kind {
        ExportKind::CoreProfiles => ExportTarget::CoreProfiles,
        ExportKind::AppProfiles => ExportTarget::AppProfiles,
    };
    let text = message
        .selector
        .as_ref()
        .map(|selector| selector.to_string())
        .ok_or_else(|| ChunkError::Processing("the chunk has no selector".to_owned()))?;
    match parse_export_record(&text, target) {
        Ok(ExportRequest::Selector(selector)) => Ok(selector),
        Ok(_) => Err(ChunkError::Processing(
            "the chunk's selector selects nothing".to_owned(),
        )),
        Err(errors) => Err(ChunkError::Processing(format!(
            "invalid selector: {errors:?}"
        ))),
    }
}

/// What publishing the selected profiles made: how many, in how many chunks, which indexes
/// each chunk holds.
struct Published {
    profiles: u64,
    /// The next chunk number (chunk 0 is the plan itself).
    chunks_end: u32,
    manifest: ChunkManifest,
}

/// Turns a selector chunk into chunks of selected profiles.
pub async fn plan_export(
    pool: &Pool,
    transport: &dyn ChunkTransport,
    message: ReceivedChunk,
    kind: ExportKind,
    chunk_records: usize,
) -> Result<ChunkDisposition, ChunkError> {
    let task_id = message.task_id;
    let task = message.task();
    let selector = selector_of(&message, kind)?;
    let mut client = pool.get().await.map_err(StoreError::from)?;
    // Wait (on the task row) until the gateway has finished accepting the task, so that the
    // transaction below starts from its committed state.
    state_for_chunk(&client, task).await?;
    start_processing(&client, task).await?;
    let transaction = client
        .build_transaction()
        .isolation_level(userhub_store::IsolationLevel::RepeatableRead)
        .start()
        .await
        .map_err(StoreError::from)?;
    let canceled = match gate::check(&transaction, task, 0, RowLock::Exclusive).await? {
        Passage::Open { canceled } => canceled,
        Passage::Stopped(stop) => return stop.finish(transaction).await,
    };
    if canceled {
        // Canceled before it was planned: no record was selected, none is reported.
        complete_canceled(&transaction, task).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        return Ok(ChunkDisposition::Dropped(
            "the task was canceled before it was planned",
        ));
    }
    let selection = Selection {
        message: &message,
        kind,
        selector: &selector,
        chunk_records: chunk_records.max(1),
    };
    let published = selection.publish(&transaction, transport).await?;
    set_plan(
        &transaction,
        task,
        published.profiles as i64,
        published.chunks_end as i32,
        &published.manifest,
    )
    .await?;
    let plan_entry = ChunkEntry {
        task,
        chunk_no: 0,
        first_index: 0,
        records: 0,
        succeeded: 0,
        failed: 0,
        results: None,
        errors: None,
    };
    if !insert_chunk(&transaction, &plan_entry).await? {
        transaction.rollback().await.map_err(StoreError::from)?;
        return Ok(ChunkDisposition::Duplicate);
    }
    let state = record_chunk_progress(&transaction, task, 0, 0).await?.state;
    transaction.commit().await.map_err(StoreError::from)?;
    let chunks = published.chunks_end - 1;
    tracing::info!(%task_id, profiles = published.profiles, chunks, "export planned");
    Ok(ChunkDisposition::Applied {
        completed_task: state == TaskState::Completed,
        succeeded: 0,
        failed: 0,
    })
}

/// An export's selection, to be published as chunks.
struct Selection<'a> {
    message: &'a ReceivedChunk,
    kind: ExportKind,
    selector: &'a ExportSelector,
    chunk_records: usize,
}

impl Selection<'_> {
    /// Streams the selected keys inside `transaction` and publishes them, a chunk of
    /// `chunk_records` at a time, with confirms.
    async fn publish(
        &self,
        transaction: &Transaction<'_>,
        transport: &dyn ChunkTransport,
    ) -> Result<Published, ChunkError> {
        let message = self.message;
        let (domain_id, kind) = (message.domain_id, self.kind);
        let total = count_selection(transaction, domain_id, kind, self.selector).await?;
        let chunks_total = (total as usize).div_ceil(self.chunk_records) as u32 + 1;
        let priority = priority_for_backlog(total);
        let portal = open_selection(transaction, domain_id, kind, self.selector).await?;
        let mut index: u64 = 0;
        let mut chunk_no: u32 = 1;
        let mut batch = Vec::with_capacity(PUBLISH_BATCH);
        // Chunk 0 is the plan itself (no records); chunk k holds a run of consecutive indexes.
        let mut runs: Vec<Vec<[u32; 2]>> = vec![Vec::new()];
        loop {
            let keys = next_selected(transaction, &portal, kind, self.chunk_records as i32).await?;
            if keys.is_empty() {
                break;
            }
            runs.push(vec![[index as u32, (index + keys.len() as u64 - 1) as u32]]);
            let header = ChunkHeader {
                task_id: message.task_id,
                domain_id,
                domain: &message.domain,
                action: message.action,
                options: &TaskOptions::default(),
                chunk_no,
                chunks_total,
            };
            let body = chunk_body(header, &keys, &mut index)?;
            let task = message.task();
            batch.push(Outgoing::chunk(
                message.action,
                task,
                chunk_no,
                priority,
                body,
            ));
            chunk_no += 1;
            if batch.len() == PUBLISH_BATCH {
                transport.publish(&batch).await?;
                batch.clear();
            }
        }
        transport.publish(&batch).await?;
        Ok(Published {
            profiles: index,
            chunks_end: chunk_no,
            manifest: ChunkManifest::from_runs(runs),
        })
    }
}

/// The message of one chunk of selected `keys`, numbered from `index` on.
fn chunk_body(
    header: ChunkHeader<'_>,
    keys: &[ExportKey],
    index: &mut u64,
) -> Result<Vec<u8>, ChunkError> {
    let mut records = Vec::with_capacity(keys.len());
    for key in keys {
        records.push(ChunkRecord {
            index: *index as u32,
            line: None,
            input: Some(Cow::Owned(record_input(key).map_err(encoding)?)),
            raw: None,
            errors: Cow::Borrowed(&[]),
        });
        *index += 1;
    }
    encode(&ChunkMessage::new(header, records)).map_err(encoding)
}
