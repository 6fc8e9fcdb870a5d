//! Cancel: an open task stops. Chunks already committed keep their records' outcomes; every
//! record applied after the request commits fails with `CANCELED`, and the task completes with
//! outcome `canceled` once its last chunk is through (workers, not this request, finish it).

use super::{ControlAction, ControlRefusal};
use crate::error::TaskError;
use crate::intake::Submitter;
use chrono::{DateTime, Utc};
use userhub_domain::{TaskId, TaskKey, TaskState};
use userhub_store::GenericClient;
use userhub_store::tasks::{CancelRequest, request_cancel, task_state};

/// A recorded cancel.
#[derive(Debug, Clone, Copy)]
pub struct CancelRequested {
    /// The task's state now (`queued` or `processing`).
    pub state: TaskState,
    /// When the cancel was first requested (a repeat answers the first time).
    pub requested_at: DateTime<Utc>,
}

/// Asks the open task `task` to stop; the caller has checked it may.
pub async fn cancel(
    client: &impl GenericClient,
    task: TaskKey,
) -> Result<CancelRequested, TaskError> {
    match request_cancel(client, task).await? {
        CancelRequest::Requested {
            state,
            requested_at,
        } => Ok(CancelRequested {
            state,
            requested_at,
        }),
        CancelRequest::NotOpen => Err(match task_state(client, task).await? {
            None => ControlRefusal::TaskNotFound(task.task_id),
            Some(_) => ControlRefusal::TaskCompleted(task.task_id),
        }
        .into()),
    }
}

/// [`cancel`] of the caller's own task, refused to a read-only key.
pub async fn cancel_own(caller: &Submitter, task_id: TaskId) -> Result<CancelRequested, TaskError> {
    if caller.read_only {
        return Err(ControlRefusal::ReadOnlyKey(ControlAction::Cancel).into());
    }
    let client = caller.database.get().await?;
    cancel(&*client, TaskKey::new(caller.domain_id, task_id)).await
}
