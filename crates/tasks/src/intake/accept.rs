//! The durable acceptance of a task. The task row is committed as `created`; then, holding the
//! row's lock (which makes workers wait), the chunks' records are stored beside it, a claim
//! check per chunk is published with confirms, and the task becomes `queued` in the same
//! transaction. If publishing fails the row is deleted and the
//! client gets 503; if the gateway dies half-way, workers find the task still `created` without
//! its lock and report it failed. So `201` is only ever said for a task that will complete.

use super::idempotency::Idempotency;
use super::messages::RenderedTask;
use crate::error::TaskError;
use crate::transport::{ChunkTransport, Outgoing, TransportError, priority_for_backlog};
use std::time::{Duration, Instant};
use userhub_domain::DomainId;
use userhub_domain::manifest::ChunkManifest;
use userhub_domain::{TaskAction, TaskId, TaskKey, TaskOptions, TaskState};
use userhub_store::StoreError;
use userhub_store::TenantPool;
use userhub_store::chunk_bodies::store_bodies;
use userhub_store::tasks::{
    NewTask, delete_task, domain_backlog, insert_task, lock_task, mark_queued,
};

/// The unique index that makes idempotency keys unique per domain.
const IDEMPOTENCY_INDEX: &str = "tasks_by_idempotency_key";

/// Attempts at finding an unused task id (ids collide only within one millisecond).
const ID_ATTEMPTS: usize = 5;

/// What the gateway is about to accept.
#[derive(Debug, Clone)]
pub struct TaskToAccept {
    pub domain_id: DomainId,
    pub action: TaskAction,
    pub input_format: &'static str,
    pub total: i64,
    pub chunks_total: i32,
    /// Which record indexes each chunk holds.
    pub manifest: ChunkManifest,
    pub idempotency: Option<Idempotency>,
    pub options: TaskOptions,
    /// The task whose failed records this one retries.
    pub parent_task_id: Option<TaskId>,
    /// Its chunks are published a batch at a time while it is `created`.
    pub accepted_in_batches: bool,
}

/// A task that is durably accepted.
#[derive(Debug, Clone, Copy)]
pub struct Accepted {
    pub task_id: TaskId,
    pub state: TaskState,
    /// How long each step of accepting took.
    pub timings: AcceptTimings,
}

/// Where the time of accepting a task went, step by step (what `Server-Timing` reports).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct AcceptTimings {
    /// Checking the records' keys and grouping them into chunks.
    pub validate: Duration,
    /// Inserting the task row (`created`) and committing it.
    pub record: Duration,
    /// Rendering the chunk messages and compressing their records.
    pub render: Duration,
    /// Storing the chunks' records beside the task.
    pub store: Duration,
    /// Publishing every chunk and awaiting the broker's confirms.
    pub publish: Duration,
    /// Marking the task `queued` and committing.
    pub queued: Duration,
}

impl AcceptTimings {
    /// Each step by its `Server-Timing` name.
    pub fn steps(&self) -> [(&'static str, Duration); 6] {
        [
            ("validate", self.validate),
            ("record", self.record),
            ("render", self.render),
            ("store", self.store),
            ("publish", self.publish),
            ("queued", self.queued),
        ]
    }
}

/// Accepts a task whose chunk bodies `build_chunks` renders once the task id is known.
pub async fn accept_task(
    pool: &TenantPool,
    transport: &dyn ChunkTransport,
    task: &TaskToAccept,
    crash_before_queued: bool,
    build_chunks: impl Fn(TaskId) -> Result<RenderedTask, TaskError>,
) -> Result<Accepted, TaskError> {
    // Fail fast while the broker is known to be down: no row, no work, a clear 503.
    if !transport.is_up() {
        return Err(TaskError::Transport(TransportError::Unavailable));
    }
    let mut timings = AcceptTimings::default();
    let mut step = Instant::now();
    let mut lap = |into: &mut Duration| {
        let now = Instant::now();
        *into = now - step;
        step = now;
    };
    let mut client = pool.get().await.map_err(TaskError::from)?;
    let task_id = insert_with_fresh_id(&client, task).await?;
    lap(&mut timings.record);
    let key = TaskKey::new(task.domain_id, task_id);
    let built = build_chunks(task_id);
    lap(&mut timings.render);
    let rendered = match built {
        Ok(rendered) => rendered,
        Err(error) => {
            let _ = delete_task(&*client, key).await;
            return Err(error);
        }
    };
    let transaction = client
        .transaction()
        .await
        .map_err(StoreError::from)
        .map_err(TaskError::from)?;
    lock_task(&transaction, key)
        .await
        .map_err(TaskError::from)?;
    let backlog = domain_backlog(&transaction, task.domain_id)
        .await
        .map_err(TaskError::from)?;
    let priority = priority_for_backlog(backlog);
    if !rendered.stored_records.is_empty() {
        if let Err(error) = store_bodies(&transaction, key, &rendered.stored_records).await {
            let _ = transaction.rollback().await;
            let _ = delete_task(&*client, key).await;
            return Err(TaskError::from(error));
        }
    }
    lap(&mut timings.store);
    let bodies = (0u32..).zip(rendered.messages);
    let published = publish(transport, task.action, key, priority, bodies).await;
    lap(&mut timings.publish);
    match published {
        Ok(()) => {
            if crash_before_queued {
                tracing::error!(%task_id, "injected crash after publishing, before queued");
                std::process::abort();
            }
            let state = mark_queued(&transaction, key)
                .await
                .map_err(TaskError::from)?;
            transaction
                .commit()
                .await
                .map_err(StoreError::from)
                .map_err(TaskError::from)?;
            lap(&mut timings.queued);
            Ok(Accepted {
                task_id,
                state: state.unwrap_or(TaskState::Queued),
                timings,
            })
        }
        Err(error) => {
            // Workers that already received a chunk wait on our lock and then find no task.
            let withdrawn = delete_task(&transaction, key).await;
            if withdrawn.is_ok() {
                let _ = transaction.commit().await;
            }
            Err(TaskError::from(error))
        }
    }
}

/// Inserts the task row (`created`) under an id no task of any domain has.
pub(super) async fn insert_with_fresh_id(
    client: &userhub_store::PooledClient,
    task: &TaskToAccept,
) -> Result<TaskId, TaskError> {
    let mut last_error = None;
    for _ in 0..ID_ATTEMPTS {
        let id = TaskId::generate();
        let row = NewTask {
            id,
            domain_id: task.domain_id,
            action: task.action,
            input_format: task.input_format,
            total: task.total,
            chunks_total: task.chunks_total,
            idempotency_key: task
                .idempotency
                .as_ref()
                .map(|idempotency| idempotency.key.clone()),
            request_hash: task
                .idempotency
                .as_ref()
                .map(|idempotency| idempotency.request_hash.clone()),
            chunk_manifest: Some(task.manifest.clone()),
            options: task.options.clone(),
            parent_task_id: task.parent_task_id,
            accepted_in_batches: task.accepted_in_batches,
        };
        match insert_task(client, &row).await {
            Ok(true) => return Ok(id),
            // Another domain has a task with this id: draw another.
            Ok(false) => {}
            Err(error) if error.constraint() == Some(IDEMPOTENCY_INDEX) => {
                return Err(TaskError::IdempotencyKeyInUse);
            }
            Err(error) if error.is_unique_violation() => last_error = Some(error),
            Err(error) => return Err(error.into()),
        }
    }
    Err(TaskError::from(last_error.unwrap_or_else(|| {
        StoreError::Config("no task id".to_owned())
    })))
}

/// Publishes one message per chunk (its number and body) and awaits every confirm.
pub(super) async fn publish(
    transport: &dyn ChunkTransport,
    action: TaskAction,
    task: TaskKey,
    priority: u8,
    bodies: impl IntoIterator<Item = (u32, Vec<u8>)>,
) -> Result<(), TransportError> {
    let messages: Vec<Outgoing> = bodies
        .into_iter()
        .map(|(chunk_no, body)| Outgoing::chunk(action, task, chunk_no, priority, body))
        .collect();
    transport.publish(&messages).await
}
