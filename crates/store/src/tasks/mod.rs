//! The task row: what the gateway creates, how it is read (by id, by page, by idempotency
//! key) and the domain's backlog. Its state machine is the `lifecycle` module.

mod lifecycle;

pub use lifecycle::*;

use crate::error::StoreError;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use userhub_domain::DomainId;
use userhub_domain::manifest::ChunkManifest;
use userhub_domain::{TaskAction, TaskId, TaskKey, TaskOptions, TaskOutcome, TaskState};

/// What the gateway knows when it creates a task.
#[derive(Debug, Clone)]
pub struct NewTask {
    pub id: TaskId,
    pub domain_id: DomainId,
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
    /// The task whose failed records this one retries.
    pub parent_task_id: Option<TaskId>,
    /// Its chunks are published a batch at a time while it is `created` (a task from an
    /// upload), and workers apply them before it is `queued`.
    pub accepted_in_batches: bool,
}

/// A task as stored.
#[derive(Debug, Clone)]
pub struct TaskRecord {
    pub id: TaskId,
    pub domain_id: DomainId,
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
    /// EXT: when a cancel was requested.
    pub cancel_requested_at: Option<DateTime<Utc>>,
    /// EXT: the task whose failed records this one retries.
    pub parent_task_id: Option<TaskId>,
    /// EXT: the tasks retrying this one's failed records, oldest first.
    pub child_task_ids: Vec<TaskId>,
}

impl TaskRecord {
    /// The task as the database keys it.
    pub fn key(&self) -> TaskKey {
        TaskKey::new(self.domain_id, self.id)
    }
}

pub(super) fn decode_error(what: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("unexpected {what} `{value}` in the tasks table"))
}

pub(crate) fn task_of(row: &tokio_postgres::Row) -> Result<TaskRecord, StoreError> {
    let action: String = row.get("action");
    let state: String = row.get("state");
    let outcome: Option<String> = row.get("outcome");
    Ok(TaskRecord {
        id: TaskId::from(row.get::<_, i64>("id")),
        domain_id: DomainId::from(row.get::<_, i64>("domain_id")),
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
        cancel_requested_at: row.get("cancel_requested_at"),
        parent_task_id: row
            .get::<_, Option<i64>>("parent_task_id")
            .map(TaskId::from),
        child_task_ids: row
            .get::<_, Vec<i64>>("child_task_ids")
            .into_iter()
            .map(TaskId::from)
            .collect(),
    })
}

/// A task of `domain_id`; tasks of other domains are invisible.
pub async fn find_task(
    client: &impl GenericClient,
    domain_id: DomainId,
    id: TaskId,
) -> Result<Option<TaskRecord>, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../../queries/tasks/find.sql"))
        .await?;
    client
        .query_opt(&statement, &[&id.as_i64(), &domain_id.as_i64()])
        .await?
        .as_ref()
        .map(task_of)
        .transpose()
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
    domain_id: DomainId,
    filter: &TaskFilter,
) -> Result<Vec<TaskRecord>, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../../queries/tasks/list.sql"))
        .await?;
    let state = filter.state.map(TaskState::as_str);
    let action = filter.action.map(TaskAction::as_str);
    let before = filter.before.map(TaskId::as_i64);
    let rows = client
        .query(
            &statement,
            &[&domain_id.as_i64(), &state, &action, &before, &filter.limit],
        )
        .await?;
    rows.iter().map(task_of).collect()
}

/// The domain's task created with an idempotency key, with its request hash and whether the
/// key has expired (older than `ttl_hours`).
pub async fn find_by_idempotency_key(
    client: &impl GenericClient,
    domain_id: DomainId,
    key: &str,
    ttl_hours: i64,
) -> Result<Option<(TaskRecord, Option<Vec<u8>>, bool)>, StoreError> {
    let statement = client
        .prepare_cached(include_str!(
            "../../queries/tasks/find_by_idempotency_key.sql"
        ))
        .await?;
    let row = client
        .query_opt(
            &statement,
            &[&domain_id.as_i64(), &key, &(ttl_hours as i32)],
        )
        .await?;
    row.map(|row| Ok((task_of(&row)?, row.get("request_hash"), row.get("expired"))))
        .transpose()
}

/// Frees an expired idempotency key for reuse.
pub async fn release_idempotency_key(
    client: &impl GenericClient,
    task: TaskKey,
) -> Result<(), StoreError> {
    client
        .execute(
            include_str!("../../queries/tasks/release_idempotency_key.sql"),
            &[&task.domain_id.as_i64(), &task.task_id.as_i64()],
        )
        .await?;
    Ok(())
}

/// Records of the domain's unfinished tasks that are not processed yet (the task being accepted
/// included), which decides the priority of new chunks.
pub async fn domain_backlog(
    client: &impl GenericClient,
    domain_id: DomainId,
) -> Result<i64, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../../queries/tasks/domain_backlog.sql"))
        .await?;
    Ok(client
        .query_one(&statement, &[&domain_id.as_i64()])
        .await?
        .get(0))
}

/// How many unfinished tasks are in each state (for the open-tasks gauge).
pub async fn open_task_counts(
    client: &impl GenericClient,
) -> Result<Vec<(TaskState, i64)>, StoreError> {
    let rows = client
        .query(include_str!("../../queries/tasks/open_counts.sql"), &[])
        .await?;
    rows.iter()
        .map(|row| {
            let state: &str = row.get(0);
            let state = state.parse().map_err(|_| decode_error("state", state))?;
            Ok((state, row.get(1)))
        })
        .collect()
}

/// The domains that have a task with id `task_id` (for operators, who name a task by its id
/// alone): one, except for ids that two domains drew in the same millisecond.
pub async fn domains_of_task(
    client: &impl GenericClient,
    task_id: TaskId,
) -> Result<Vec<DomainId>, StoreError> {
    let rows = client
        .query(
            include_str!("../../queries/tasks/domains_of.sql"),
            &[&task_id.as_i64()],
        )
        .await?;
    Ok(rows.iter().map(|row| DomainId::new(row.get(0))).collect())
}

/// A task's state; `None` if there is no such task.
pub async fn task_state(
    client: &impl GenericClient,
    task: TaskKey,
) -> Result<Option<TaskState>, StoreError> {
    let row = client
        .query_opt(
            include_str!("../../queries/tasks/state.sql"),
            &[&task.domain_id.as_i64(), &task.task_id.as_i64()],
        )
        .await?;
    row.map(|row| {
        let state: &str = row.get(0);
        state.parse().map_err(|_| decode_error("state", state))
    })
    .transpose()
}
