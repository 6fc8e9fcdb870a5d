//! The task row: creation by the gateway, the state machine, progress counters and reads.

use crate::error::StoreError;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use userhub_domain::manifest::ChunkManifest;
use userhub_domain::{TaskAction, TaskId, TaskOptions, TaskOutcome, TaskState};

/// What the gateway knows when it creates a task.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub id: TaskId,
    pub domain_id: i64,
    pub action: TaskAction,
    /// `json` (array) or `jsonl`.
    pub input_format: &'static str,
    pub total: i64,
    pub chunks_total: i32,
    pub idempotency_key: Option<String>,
    pub request_hash: Option<Vec<u8>>,
    /// Which record indexes each chunk holds.
    pub chunk_manifest: Option<ChunkManifest>,
    pub options: TaskOptions,
}

/// A task as stored.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    pub id: TaskId,
    pub domain_id: i64,
    pub action: TaskAction,
    pub state: TaskState,
    pub outcome: Option<TaskOutcome>,
    pub input_format: String,
    pub total: i64,
    pub processed: i64,
    pub succeeded: i64,
    pub failed: i64,
    pub chunks_total: i32,
    pub chunks_done: i32,
    pub failure_reason: Option<String>,
    pub created_at: DateTime<Utc>,
    pub started_at: Option<DateTime<Utc>>,
    pub completed_at: Option<DateTime<Utc>>,
    pub last_progress_at: DateTime<Utc>,
    /// Set while no chunk has committed for the stall timeout.
    pub stalled_since: Option<DateTime<Utc>>,
    pub stall_reason: Option<String>,
    pub options: TaskOptions,
    /// Set once the retention period has passed: the outcomes are deleted.
    pub expired_at: Option<DateTime<Utc>>,
}

pub(crate) const TASK_COLUMNS: &str = "id, domain_id, action, state, outcome, input_format, total, processed, succeeded, \
     failed, chunks_total, chunks_done, failure_reason, created_at, started_at, completed_at, last_progress_at, \
     stalled_since, stall_reason, options, expired_at";

fn decode_error(what: &str, value: &str) -> StoreError {
    StoreError::Config(format!("unexpected {what} `{value}` in the tasks table"))
}

pub(crate) fn task_of(row: &tokio_postgres::Row) -> Result<TaskRecord, StoreError> {
    let action: String = row.get("action");
    let state: String = row.get("state");
    let outcome: Option<String> = row.get("outcome");
    Ok(TaskRecord {
        id: TaskId::from(row.get::<_, i64>("id")),
        domain_id: row.get("domain_id"),
        action: action
            .parse()
            .map_err(|_| decode_error("action", &action))?,
        state: state.parse().map_err(|_| decode_error("state", &state))?,
        outcome: match outcome {
            Some(text) => Some(text.parse().map_err(|_| decode_error("outcome", &text))?),
            None => None,
        },
        input_format: row.get("input_format"),
        total: row.get("total"),
        processed: row.get("processed"),
        succeeded: row.get("succeeded"),
        failed: row.get("failed"),
        chunks_total: row.get("chunks_total"),
        chunks_done: row.get("chunks_done"),
        failure_reason: row.get("failure_reason"),
        created_at: row.get("created_at"),
        started_at: row.get("started_at"),
        completed_at: row.get("completed_at"),
        last_progress_at: row.get("last_progress_at"),
        stalled_since: row.get("stalled_since"),
        stall_reason: row.get("stall_reason"),
        options: serde_json::from_value(row.get("options")).unwrap_or_default(),
        expired_at: row.get("expired_at"),
    })
}

/// Inserts the task in state `created`.
pub async fn insert_task(client: &impl GenericClient, task: &NewTask) -> Result<(), StoreError> {
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
    client
        .execute(
            "INSERT INTO tasks (id, domain_id, action, state, input_format, total, chunks_total,
                                idempotency_key, request_hash, chunk_manifest, options)
             VALUES ($1, $2, $3, 'created', $4, $5, $6, $7, $8, $9, $10)",
            &[
                &task.id.as_i64(),
                &task.domain_id,
                &task.action.as_str(),
                &task.input_format,
                &task.total,
                &task.chunks_total,
                &task.idempotency_key,
                &task.request_hash,
                &manifest,
                &options,
            ],
        )
        .await?;
    Ok(())
}

/// Takes the row lock that holds workers back until the gateway has published every chunk.
pub async fn lock_task(client: &impl GenericClient, id: TaskId) -> Result<bool, StoreError> {
    let row = client
        .query_opt(
            "SELECT 1 FROM tasks WHERE id = $1 FOR UPDATE",
            &[&id.as_i64()],
        )
        .await?;
    Ok(row.is_some())
}

/// `created` → `queued` once every chunk is durably published; returns the state afterwards.
pub async fn mark_queued(
    client: &impl GenericClient,
    id: TaskId,
) -> Result<Option<TaskState>, StoreError> {
    let row = client
        .query_opt(
            "UPDATE tasks SET state = CASE WHEN state = 'created' THEN 'queued' ELSE state END
              WHERE id = $1 RETURNING state",
            &[&id.as_i64()],
        )
        .await?;
    row.map(|row| {
        let state: String = row.get(0);
        state.parse().map_err(|_| decode_error("state", &state))
    })
    .transpose()
}

pub async fn delete_task(client: &impl GenericClient, id: TaskId) -> Result<(), StoreError> {
    client
        .execute("DELETE FROM tasks WHERE id = $1", &[&id.as_i64()])
        .await?;
    Ok(())
}

/// A task of `domain_id`; tasks of other domains are invisible.
pub async fn find_task(
    client: &impl GenericClient,
    domain_id: i64,
    id: TaskId,
) -> Result<Option<TaskRecord>, StoreError> {
    let statement = client
        .prepare_cached(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks WHERE id = $1 AND domain_id = $2"
        ))
        .await?;
    client
        .query_opt(&statement, &[&id.as_i64(), &domain_id])
        .await?
        .as_ref()
        .map(task_of)
        .transpose()
}

/// `queued` → `processing` when a worker picks up a chunk. Waits while the gateway still holds
/// the task's lock.
pub async fn start_processing(client: &impl GenericClient, id: TaskId) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(
            "UPDATE tasks SET state = 'processing', started_at = coalesce(started_at, now())
              WHERE id = $1 AND state = 'queued'",
        )
        .await?;
    client.execute(&statement, &[&id.as_i64()]).await?;
    Ok(())
}

/// The task's state, read with a share lock that lets other chunks of it proceed in parallel;
/// `None` if the gateway withdrew the task.
pub async fn state_for_chunk(
    client: &impl GenericClient,
    id: TaskId,
) -> Result<Option<TaskState>, StoreError> {
    let statement = client
        .prepare_cached("SELECT state FROM tasks WHERE id = $1 FOR KEY SHARE")
        .await?;
    let Some(row) = client.query_opt(&statement, &[&id.as_i64()]).await? else {
        return Ok(None);
    };
    let state: String = row.get(0);
    state
        .parse()
        .map(Some)
        .map_err(|_| decode_error("state", &state))
}

/// Counts a committed chunk; the last chunk completes the task in the same transaction.
pub async fn record_chunk_progress(
    client: &impl GenericClient,
    id: TaskId,
    succeeded: i64,
    failed: i64,
) -> Result<TaskState, StoreError> {
    let statement = client
        .prepare_cached(
            "UPDATE tasks SET
                 chunks_done = chunks_done + 1,
                 processed = processed + $2 + $3,
                 succeeded = succeeded + $2,
                 failed = failed + $3,
                 last_progress_at = clock_timestamp(),
                 stalled_since = NULL,
                 stall_reason = NULL,
                 started_at = coalesce(started_at, now()),
                 state = CASE WHEN chunks_done + 1 >= chunks_total THEN 'completed' ELSE 'processing' END,
                 completed_at = CASE WHEN chunks_done + 1 >= chunks_total THEN clock_timestamp() END,
                 outcome = CASE WHEN chunks_done + 1 < chunks_total THEN NULL
                                WHEN failed + $3 = 0 THEN 'succeeded'
                                WHEN succeeded + $2 = 0 THEN 'failed'
                                ELSE 'completed_with_errors' END
              WHERE id = $1
              RETURNING state",
        )
        .await?;
    let row = client
        .query_one(&statement, &[&id.as_i64(), &succeeded, &failed])
        .await?;
    let state: String = row.get(0);
    state.parse().map_err(|_| decode_error("state", &state))
}

/// Completes a task that cannot be processed (e.g. its acceptance was interrupted), with a reason.
/// Only tasks still in `created` are affected; returns whether it was.
pub async fn fail_unaccepted_task(
    client: &impl GenericClient,
    id: TaskId,
    reason: &str,
) -> Result<bool, StoreError> {
    let updated = client
        .execute(
            "UPDATE tasks SET state = 'completed', outcome = 'failed', failure_reason = $2,
                    completed_at = now(), last_progress_at = now()
              WHERE id = $1 AND state = 'created'",
            &[&id.as_i64(), &reason],
        )
        .await?;
    Ok(updated == 1)
}

/// Locks the task row for planning an export and returns its state (`None`: withdrawn).
pub async fn lock_task_state(
    client: &impl GenericClient,
    id: TaskId,
) -> Result<Option<TaskState>, StoreError> {
    let Some(row) = client
        .query_opt(
            "SELECT state FROM tasks WHERE id = $1 FOR UPDATE",
            &[&id.as_i64()],
        )
        .await?
    else {
        return Ok(None);
    };
    let state: String = row.get(0);
    state
        .parse()
        .map(Some)
        .map_err(|_| decode_error("state", &state))
}

/// Records an export's plan: how many profiles it has, in how many chunks (plan included), and
/// which indexes each chunk holds.
pub async fn set_plan(
    client: &impl GenericClient,
    id: TaskId,
    total: i64,
    chunks_total: i32,
    manifest: &ChunkManifest,
) -> Result<(), StoreError> {
    let manifest = serde_json::to_value(manifest).map_err(|error| {
        StoreError::Config(format!("cannot encode the chunk manifest: {error}"))
    })?;
    client
        .execute(
            "UPDATE tasks SET total = $2, chunks_total = $3, chunk_manifest = $4 WHERE id = $1",
            &[&id.as_i64(), &total, &chunks_total, &manifest],
        )
        .await?;
    Ok(())
}

/// Which tasks of a domain to list, newest first.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub state: Option<TaskState>,
    pub action: Option<TaskAction>,
    /// Only tasks older than this one (the previous page's last task).
    pub before: Option<TaskId>,
    pub limit: i64,
}

/// A page of the domain's tasks, newest first.
pub async fn list_tasks(
    client: &impl GenericClient,
    domain_id: i64,
    filter: &TaskFilter,
) -> Result<Vec<TaskRecord>, StoreError> {
    let statement = client
        .prepare_cached(&format!(
            "SELECT {TASK_COLUMNS} FROM tasks
              WHERE domain_id = $1
                AND ($2::text IS NULL OR state = $2)
                AND ($3::text IS NULL OR action = $3)
                AND ($4::int8 IS NULL OR id < $4)
              ORDER BY id DESC
              LIMIT $5"
        ))
        .await?;
    let state = filter.state.map(TaskState::as_str);
    let action = filter.action.map(TaskAction::as_str);
    let before = filter.before.map(TaskId::as_i64);
    let rows = client
        .query(
            &statement,
            &[&domain_id, &state, &action, &before, &filter.limit],
        )
        .await?;
    rows.iter().map(task_of).collect()
}

/// Completes a task that cannot be processed as `failed` with a reason (no-op once completed).
pub async fn fail_task(
    client: &impl GenericClient,
    id: TaskId,
    reason: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE tasks SET state = 'completed', outcome = 'failed', failure_reason = $2,
                    completed_at = now(), last_progress_at = now()
              WHERE id = $1 AND state <> 'completed'",
            &[&id.as_i64(), &reason],
        )
        .await?;
    Ok(())
}

/// A task that made no progress for a while, claimed (row-locked) by one stall detector.
#[derive(Debug, Clone)]
pub struct StalledTask {
    pub id: TaskId,
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
            "SELECT id, action, state, chunks_total, chunks_done, chunk_manifest,
                    stalled_since IS NOT NULL AS marked,
                    extract(epoch FROM clock_timestamp() - last_progress_at)::int8 AS idle
               FROM tasks
              WHERE state <> 'completed'
                AND last_progress_at < clock_timestamp() - make_interval(secs => $1::int8 / 1000.0)
              ORDER BY last_progress_at
              LIMIT $2
                FOR UPDATE SKIP LOCKED",
            &[&idle_ms, &limit],
        )
        .await?;
    rows.iter()
        .map(|row| {
            let action: String = row.get("action");
            let state: String = row.get("state");
            let manifest: Option<serde_json::Value> = row.get("chunk_manifest");
            Ok(StalledTask {
                id: TaskId::from(row.get::<_, i64>("id")),
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
    id: TaskId,
    reason: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE tasks SET stalled_since = coalesce(stalled_since, clock_timestamp()), stall_reason = $2
              WHERE id = $1",
            &[&id.as_i64(), &reason],
        )
        .await?;
    Ok(())
}

/// Records why a task ended as it did.
pub async fn set_failure_reason(
    client: &impl GenericClient,
    id: TaskId,
    reason: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE tasks SET failure_reason = $2 WHERE id = $1",
            &[&id.as_i64(), &reason],
        )
        .await?;
    Ok(())
}

/// The domain's task created with an idempotency key, with its request hash and whether the
/// key has expired (older than `ttl_hours`).
pub async fn find_by_idempotency_key(
    client: &impl GenericClient,
    domain_id: i64,
    key: &str,
    ttl_hours: i64,
) -> Result<Option<(TaskRecord, Option<Vec<u8>>, bool)>, StoreError> {
    let statement = client
        .prepare_cached(&format!(
            "SELECT {TASK_COLUMNS}, request_hash,
                    created_at < now() - make_interval(hours => $3::int4) AS expired
               FROM tasks WHERE domain_id = $1 AND idempotency_key = $2"
        ))
        .await?;
    let row = client
        .query_opt(&statement, &[&domain_id, &key, &(ttl_hours as i32)])
        .await?;
    row.map(|row| Ok((task_of(&row)?, row.get("request_hash"), row.get("expired"))))
        .transpose()
}

/// Frees an expired idempotency key for reuse.
pub async fn release_idempotency_key(
    client: &impl GenericClient,
    id: TaskId,
) -> Result<(), StoreError> {
    client
        .execute(
            "UPDATE tasks SET idempotency_key = NULL WHERE id = $1",
            &[&id.as_i64()],
        )
        .await?;
    Ok(())
}

/// Takes a chunk's counts out of the task and reopens it, so that the chunk can be applied again
/// (replaying a dead-lettered chunk). The caller holds the row lock.
pub async fn reopen_for_replay(
    client: &impl GenericClient,
    id: TaskId,
    removed: Option<(i64, i64, i64)>,
) -> Result<(), StoreError> {
    let (records, succeeded, failed) = removed.unwrap_or((0, 0, 0));
    let chunks = i32::from(removed.is_some());
    client
        .execute(
            "UPDATE tasks SET
                 chunks_done = chunks_done - $2,
                 processed = processed - $3,
                 succeeded = succeeded - $4,
                 failed = failed - $5,
                 state = 'processing', outcome = NULL, completed_at = NULL, failure_reason = NULL,
                 last_progress_at = clock_timestamp()
              WHERE id = $1",
            &[&id.as_i64(), &chunks, &records, &succeeded, &failed],
        )
        .await?;
    Ok(())
}

/// Records of the domain's unfinished tasks that are not processed yet (the task being accepted
/// included), which decides the priority of new chunks.
pub async fn domain_backlog(
    client: &impl GenericClient,
    domain_id: i64,
) -> Result<i64, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT coalesce(sum(total - processed), 0)::int8 FROM tasks
              WHERE domain_id = $1 AND state <> 'completed'",
        )
        .await?;
    Ok(client.query_one(&statement, &[&domain_id]).await?.get(0))
}

/// How many unfinished tasks are in each state (for the open-tasks gauge).
pub async fn open_task_counts(
    client: &impl GenericClient,
) -> Result<Vec<(TaskState, i64)>, StoreError> {
    let rows = client
        .query(include_str!("../queries/tasks/open_counts.sql"), &[])
        .await?;
    rows.iter()
        .map(|row| {
            let state: &str = row.get(0);
            let state = state.parse().map_err(|_| decode_error("state", state))?;
            Ok((state, row.get(1)))
        })
        .collect()
}
