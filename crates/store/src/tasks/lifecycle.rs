//! The task state machine, each transition one statement in `queries/tasks/`:
//!
//! ```text
//! created ──mark_queued──► queued ──start_processing──► processing ──record_chunk_progress──► completed
//!    │                                                       ▲   (last chunk; outcome from counters)
//!    ├──fail_unaccepted_task──► completed (failed)            │
//!    └──delete_task (the gateway withdrew it)                 └──reopen_for_replay◄── completed
//! any open state ──fail_task──► completed (failed)
//! ```
//!
//! A cancel request (EXT) marks an open task; its chunks applied after that complete their
//! records with `CANCELED`, and the last one ends the task with outcome `canceled`.
//!
//! Besides the transitions: the row locks that order gateway, workers and export planning, the
//! stall marks, and an export's plan.

use super::{NewTask, decode_error};
use crate::error::StoreError;
use deadpool_postgres::GenericClient;
use tokio_postgres::types::ToSql;
use userhub_domain::manifest::ChunkManifest;
use userhub_domain::{TaskAction, TaskId, TaskKey, TaskState};

/// Inserts the task in state `created`; `false` if another domain has a task with its id.
pub async fn insert_task(client: &impl GenericClient, task: &NewTask) -> Result<bool, StoreError> {
    let manifest = task
        .chunk_manifest
        .as_ref()
        .map(serde_json::to_value)
        .transpose()
        .map_err(|error| {
            StoreError::Config(format!("cannot encode the chunk manifest: {error}"))
        })?;
    let options = serde_json::to_value(&task.options)
        .map_err(|error| StoreError::Config(format!("cannot encode the options: {error}")))?;
    let inserted = client
        .execute(
            include_str!("../../queries/tasks/insert.sql"),
            &[
                &task.id.as_i64(),
                &task.domain_id.as_i64(),
                &task.action.as_str(),
                &task.input_format,
                &task.total,
                &task.chunks_total,
                &task.idempotency_key,
                &task.request_hash,
                &manifest,
                &options,
                &task.parent_task_id.map(TaskId::as_i64),
                &task.accepted_in_batches,
            ],
        )
        .await?;
    Ok(inserted == 1)
}

/// Takes the row lock that holds workers back until the gateway has published every chunk.
pub async fn lock_task(client: &impl GenericClient, task: TaskKey) -> Result<bool, StoreError> {
    let row = client
        .query_opt(
            include_str!("../../queries/tasks/lock.sql"),
            &[&task.domain_id.as_i64(), &task.task_id.as_i64()],
        )
        .await?;
    Ok(row.is_some())
}

/// `created` → `queued` once every chunk is durably published; returns the state afterwards.
pub async fn mark_queued(
    client: &impl GenericClient,
    task: TaskKey,
) -> Result<Option<TaskState>, StoreError> {
    let row = client
        .query_opt(
            include_str!("../../queries/tasks/mark_queued.sql"),
            &[&task.domain_id.as_i64(), &task.task_id.as_i64()],
        )
        .await?;
    row.map(|row| {
        let state: String = row.get(0);
        state.parse().map_err(|_| decode_error("state", &state))
    })
    .transpose()
}

/// Notes that a task accepted in batches stored another batch (its acceptance is alive).
pub async fn note_acceptance_progress(
    client: &impl GenericClient,
    task: TaskKey,
) -> Result<(), StoreError> {
    on_task(
        client,
        include_str!("../../queries/tasks/note_acceptance_progress.sql"),
        task,
        &[],
    )
    .await?;
    Ok(())
}

/// Withdraws a task nothing of which was applied (an upload it claimed is free again).
pub async fn delete_task(client: &impl GenericClient, task: TaskKey) -> Result<(), StoreError> {
    on_task(
        client,
        include_str!("../../queries/tasks/delete.sql"),
        task,
        &[],
    )
    .await?;
    Ok(())
}

/// `queued` → `processing` when a worker picks up a chunk. Waits while the gateway still holds
/// the task's lock.
pub async fn start_processing(
    client: &impl GenericClient,
    task: TaskKey,
) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(include_str!("../../queries/tasks/start_processing.sql"))
        .await?;
    client
        .execute(
            &statement,
            &[&task.domain_id.as_i64(), &task.task_id.as_i64()],
        )
        .await?;
    Ok(())
}

/// The task's state, read with a share lock that lets other chunks of it proceed in parallel;
/// `None` if the gateway withdrew the task.
pub async fn state_for_chunk(
    client: &impl GenericClient,
    task: TaskKey,
) -> Result<Option<ChunkGate>, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../../queries/tasks/state_for_chunk.sql"))
        .await?;
    client
        .query_opt(
            &statement,
            &[&task.domain_id.as_i64(), &task.task_id.as_i64()],
        )
        .await?
        .as_ref()
        .map(gate_of)
        .transpose()
}

/// Runs a statement about one task: `$1` is its domain, `$2` its id, `rest` the parameters
/// after them; answers how many rows it touched.
async fn on_task(
    client: &impl GenericClient,
    statement: &str,
    task: TaskKey,
    rest: &[&(dyn ToSql + Sync)],
) -> Result<u64, StoreError> {
    let (domain_id, id) = (task.domain_id.as_i64(), task.task_id.as_i64());
    let mut parameters: Vec<&(dyn ToSql + Sync)> = Vec::with_capacity(rest.len() + 2);
    parameters.push(&domain_id);
    parameters.push(&id);
    parameters.extend_from_slice(rest);
    Ok(client.execute(statement, &parameters).await?)
}

/// A task as a chunk finds it: where it is in its life, and whether a cancel was requested.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChunkGate {
    pub state: TaskState,
    pub canceled: bool,
}

fn gate_of(row: &tokio_postgres::Row) -> Result<ChunkGate, StoreError> {
    let state: String = row.get(0);
    Ok(ChunkGate {
        state: state.parse().map_err(|_| decode_error("state", &state))?,
        canceled: row.get(1),
    })
}

/// What a cancel request found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CancelRequest {
    /// The task is open: its chunks not applied yet will be canceled (`requested_at` is the
    /// first request's time).
    Requested {
        state: TaskState,
        requested_at: chrono::DateTime<chrono::Utc>,
    },
    /// No open task of the domain has this id (unknown, or already completed).
    NotOpen,
}

/// Asks an open task to stop; asking again keeps the first request's time.
pub async fn request_cancel(
    client: &impl GenericClient,
    task: TaskKey,
) -> Result<CancelRequest, StoreError> {
    let row = client
        .query_opt(
            include_str!("../../queries/tasks/request_cancel.sql"),
            &[&task.domain_id.as_i64(), &task.task_id.as_i64()],
        )
        .await?;
    let Some(row) = row else {
        return Ok(CancelRequest::NotOpen);
    };
    let state: String = row.get(0);
    Ok(CancelRequest::Requested {
        state: state.parse().map_err(|_| decode_error("state", &state))?,
        requested_at: row.get(1),
    })
}

/// open → completed (canceled), for a task with no records to cancel (an unplanned export).
pub async fn complete_canceled(
    client: &impl GenericClient,
    task: TaskKey,
) -> Result<(), StoreError> {
    on_task(
        client,
        include_str!("../../queries/tasks/complete_canceled.sql"),
        task,
        &[],
    )
    .await?;
    Ok(())
}

/// Counts a committed chunk; the last chunk completes the task in the same transaction. The
/// answer says whether a cancel was requested by now (it waits for this row's lock).
pub async fn record_chunk_progress(
    client: &impl GenericClient,
    task: TaskKey,
    succeeded: i64,
    failed: i64,
) -> Result<ChunkGate, StoreError> {
    let statement = client
        .prepare_cached(include_str!(
            "../../queries/tasks/record_chunk_progress.sql"
        ))
        .await?;
    let row = client
        .query_one(
            &statement,
            &[
                &task.domain_id.as_i64(),
                &task.task_id.as_i64(),
                &succeeded,
                &failed,
            ],
        )
        .await?;
    gate_of(&row)
}

/// Completes a task that cannot be processed (e.g. its acceptance was interrupted), with a reason.
/// Only tasks still in `created` are affected; returns whether it was.
pub async fn fail_unaccepted_task(
    client: &impl GenericClient,
    task: TaskKey,
    reason: &str,
) -> Result<bool, StoreError> {
    let updated = on_task(
        client,
        include_str!("../../queries/tasks/fail_unaccepted.sql"),
        task,
        &[&reason],
    )
    .await?;
    Ok(updated == 1)
}

/// Locks the task row for planning an export and returns its state (`None`: withdrawn).
pub async fn lock_task_state(
    client: &impl GenericClient,
    task: TaskKey,
) -> Result<Option<ChunkGate>, StoreError> {
    client
        .query_opt(
            include_str!("../../queries/tasks/lock_state.sql"),
            &[&task.domain_id.as_i64(), &task.task_id.as_i64()],
        )
        .await?
        .as_ref()
        .map(gate_of)
        .transpose()
}

/// Records an export's plan: how many profiles it has, in how many chunks (plan included), and
/// which indexes each chunk holds.
pub async fn set_plan(
    client: &impl GenericClient,
    task: TaskKey,
    total: i64,
    chunks_total: i32,
    manifest: &ChunkManifest,
) -> Result<(), StoreError> {
    let manifest = serde_json::to_value(manifest).map_err(|error| {
        StoreError::Config(format!("cannot encode the chunk manifest: {error}"))
    })?;
    on_task(
        client,
        include_str!("../../queries/tasks/set_plan.sql"),
        task,
        &[&total, &chunks_total, &manifest],
    )
    .await?;
    Ok(())
}

/// Completes a task that cannot be processed as `failed` with a reason (no-op once completed).
pub async fn fail_task(
    client: &impl GenericClient,
    task: TaskKey,
    reason: &str,
) -> Result<(), StoreError> {
    on_task(
        client,
        include_str!("../../queries/tasks/fail.sql"),
        task,
        &[&reason],
    )
    .await?;
    Ok(())
}

/// A task that made no progress for a while, claimed (row-locked) by one stall detector.
#[derive(Debug, Clone)]
pub struct StalledTask {
    pub task: TaskKey,
    pub action: TaskAction,
    pub state: TaskState,
    pub chunks_total: i32,
    pub chunks_done: i32,
    /// Seconds since the last committed chunk (or since creation).
    pub idle_seconds: i64,
    pub already_marked: bool,
    pub manifest: Option<ChunkManifest>,
}

/// Locks unfinished tasks idle for at least `idle_ms`, skipping tasks another process holds
/// (a gateway still publishing, a worker committing, another detector).
pub async fn claim_idle_tasks(
    client: &impl GenericClient,
    idle_ms: i64,
    limit: i64,
) -> Result<Vec<StalledTask>, StoreError> {
    let rows = client
        .query(
            include_str!("../../queries/tasks/claim_idle.sql"),
            &[&idle_ms, &limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let action: String = row.get("action");
            let state: String = row.get("state");
            let manifest: Option<serde_json::Value> = row.get("chunk_manifest");
            Ok(StalledTask {
                task: TaskKey::new(
                    row.get::<_, i64>("domain_id").into(),
                    TaskId::from(row.get::<_, i64>("id")),
                ),
                action: action
                    .parse()
                    .map_err(|_| decode_error("action", &action))?,
                state: state.parse().map_err(|_| decode_error("state", &state))?,
                chunks_total: row.get("chunks_total"),
                chunks_done: row.get("chunks_done"),
                idle_seconds: row.get("idle"),
                already_marked: row.get("marked"),
                manifest: manifest.and_then(|value| serde_json::from_value(value).ok()),
            })
        })
        .collect()
}

/// Marks a task as stalled with the reason shown in its status.
pub async fn mark_stalled(
    client: &impl GenericClient,
    task: TaskKey,
    reason: &str,
) -> Result<(), StoreError> {
    on_task(
        client,
        include_str!("../../queries/tasks/mark_stalled.sql"),
        task,
        &[&reason],
    )
    .await?;
    Ok(())
}

/// Records why a task ended as it did.
pub async fn set_failure_reason(
    client: &impl GenericClient,
    task: TaskKey,
    reason: &str,
) -> Result<(), StoreError> {
    on_task(
        client,
        include_str!("../../queries/tasks/set_failure_reason.sql"),
        task,
        &[&reason],
    )
    .await?;
    Ok(())
}

/// Takes a chunk's counts out of the task and reopens it, so that the chunk can be applied again
/// (replaying a dead-lettered chunk). The caller holds the row lock.
pub async fn reopen_for_replay(
    client: &impl GenericClient,
    task: TaskKey,
    removed: Option<(i64, i64, i64)>,
) -> Result<(), StoreError> {
    let (records, succeeded, failed) = removed.unwrap_or((0, 0, 0));
    let chunks = i32::from(removed.is_some());
    on_task(
        client,
        include_str!("../../queries/tasks/reopen_for_replay.sql"),
        task,
        &[&chunks, &records, &succeeded, &failed],
    )
    .await?;
    Ok(())
}
