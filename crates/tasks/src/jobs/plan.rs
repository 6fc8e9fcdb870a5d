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
use userhub_domain::record::{ExportRequest, ExportTarget, parse_export_record};
use userhub_domain::{TaskKey, TaskOptions, TaskState};
use userhub_store::exports::{
    ExportKey, ExportKind, count_selection, next_selected, open_selection,
};
use userhub_store::ledger::{ChunkEntry, insert_chunk};
use userhub_store::tasks::{
    complete_canceled, record_chunk_progress, set_plan, start_processing, state_for_chunk,
};
use userhub_store::{Pool, StoreError};

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

/// Turns a selector chunk into chunks of selected profiles.
pub async fn plan_export(
    pool: &Pool,
    transport: &dyn ChunkTransport,
    message: ReceivedChunk,
    kind: ExportKind,
    chunk_records: usize,
) -> Result<ChunkDisposition, ChunkError> {
    let task_id = message.task_id;
    let task = TaskKey::new(message.domain_id, task_id);
    let target = match kind {
        ExportKind::CoreProfiles => ExportTarget::CoreProfiles,
        ExportKind::AppProfiles => ExportTarget::AppProfiles,
    };
    let text = message
        .selector
        .as_ref()
        .map(|selector| selector.to_string())
        .ok_or_else(|| ChunkError::Processing("the chunk has no selector".to_owned()))?;
    let selector = match parse_export_record(&text, target) {
        Ok(ExportRequest::Selector(selector)) => selector,
        Ok(_) => {
            return Err(ChunkError::Processing(
                "the chunk's selector selects nothing".to_owned(),
            ));
        }
        Err(errors) => {
            return Err(ChunkError::Processing(format!(
                "invalid selector: {errors:?}"
            )));
        }
    };
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
    let chunk_records = chunk_records.max(1);
    let total = count_selection(&transaction, message.domain_id, kind, &selector).await?;
    let chunks_total = (total as usize).div_ceil(chunk_records) as u32 + 1;
    let priority = priority_for_backlog(total);
    let portal = open_selection(&transaction, message.domain_id, kind, &selector).await?;
    let mut index: u64 = 0;
    let mut chunk_no: u32 = 1;
    let mut batch = Vec::with_capacity(PUBLISH_BATCH);
    // Chunk 0 is the plan itself (no records); chunk k holds a run of consecutive indexes.
    let mut runs: Vec<Vec<[u32; 2]>> = vec![Vec::new()];
    loop {
        let keys = next_selected(&transaction, &portal, kind, chunk_records as i32).await?;
        if keys.is_empty() {
            break;
        }
        runs.push(vec![[index as u32, (index + keys.len() as u64 - 1) as u32]]);
        let mut records = Vec::with_capacity(keys.len());
        for key in &keys {
            records.push(ChunkRecord {
                index: index as u32,
                line: None,
                input: Some(Cow::Owned(record_input(key).map_err(encoding)?)),
                raw: None,
                errors: Cow::Borrowed(&[]),
            });
            index += 1;
        }
        let header = ChunkHeader {
            task_id,
            domain_id: message.domain_id,
            domain: &message.domain,
            action: message.action,
            options: &TaskOptions::default(),
            chunk_no,
            chunks_total,
        };
        let body = encode(&ChunkMessage::new(header, records)).map_err(encoding)?;
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
    let manifest = ChunkManifest::from_runs(runs);
    set_plan(&transaction, task, index as i64, chunk_no as i32, &manifest).await?;
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
    tracing::info!(%task_id, profiles = index, chunks = chunk_no - 1, "export planned");
    Ok(ChunkDisposition::Applied {
        completed_task: state == TaskState::Completed,
        succeeded: 0,
        failed: 0,
    })
}
