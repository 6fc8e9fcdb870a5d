//! Task control (EXT): cancel an open task, retry a completed task's failed records in a child
//! task, revert what a completed task changed in a child task. Each checks what the caller may
//! do and what state the task is in, and answers with a typed refusal ([`ControlRefusal`]) the
//! front ends render.

mod cancel;
mod retry;
mod revert;

pub use cancel::{CancelRequested, cancel, cancel_own};
pub use retry::{NotRetried, Retried, retry};
pub use revert::revert;

use crate::error::TaskError;
use std::time::{Duration, Instant};
use userhub_domain::{TaskId, TaskState};

/// How long a retry or revert waits for a concurrent one of the same task to finish creating
/// their common child task.
const CHILD_WAIT: Duration = Duration::from_secs(30);
/// How often it looks again meanwhile.
const CHILD_POLL: Duration = Duration::from_millis(50);

/// What a caller asked of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlAction {
    Cancel,
    Retry,
    Revert,
}

impl ControlAction {
    pub fn verb(self) -> &'static str {
        match self {
            ControlAction::Cancel => "cancel",
            ControlAction::Retry => "retry",
            ControlAction::Revert => "revert",
        }
    }
}

/// Why a control request was refused: the task, the caller or the request does not allow it.
#[derive(Debug, thiserror::Error)]
pub enum ControlRefusal {
    #[error("this API key is read-only and cannot {} tasks", .0.verb())]
    ReadOnlyKey(ControlAction),
    #[error("there is no task {0} in this domain")]
    TaskNotFound(TaskId),
    #[error("task {0} has already completed; there is nothing to cancel")]
    TaskCompleted(TaskId),
    #[error("task {task_id} is {}; {}", state.as_str(), not_completed_hint(*asked))]
    TaskNotCompleted {
        task_id: TaskId,
        state: TaskState,
        asked: ControlAction,
    },
    #[error("the outcomes of task {0} were deleted after the retention period")]
    ResultsExpired(TaskId),
    #[error("no record of task {task_id} {} and can be sent again", if *all_failed { "failed" } else { "failed with a retryable code" })]
    NothingToRetry {
        task_id: TaskId,
        all_failed: bool,
        not_retried: Vec<NotRetried>,
    },
    #[error("task {task_id} is {what}; only create, update and upsert tasks can be reverted")]
    NotRevertible { task_id: TaskId, what: String },
    #[error(
        "the before-images of task {0} were deleted after the retention period; it can no \
         longer be reverted"
    )]
    RevertExpired(TaskId),
    #[error(
        "task {task_id} was reverted by task {revert}; to retry the profiles that revert could \
         not undo, retry task {revert}"
    )]
    AlreadyReverted { task_id: TaskId, revert: TaskId },
    #[error("task {0} created and changed no profile")]
    NothingToRevert(TaskId),
    #[error(
        "another {} of task {task_id} is still creating its child task; ask again in a moment",
        .asked.verb()
    )]
    ChildInProgress {
        task_id: TaskId,
        asked: ControlAction,
    },
}

fn not_completed_hint(asked: ControlAction) -> &'static str {
    match asked {
        ControlAction::Revert => "revert it once it has completed (or cancel it first)",
        _ => "retry its failed records once it has completed",
    }
}

/// Runs `attempt` again while a concurrent identical request is still accepting the child task
/// (its key is in use), so that both answer the same child; refuses with
/// [`ControlRefusal::ChildInProgress`] if that takes longer than [`CHILD_WAIT`].
async fn same_child<T, F, Fut>(
    task_id: TaskId,
    asked: ControlAction,
    mut attempt: F,
) -> Result<T, TaskError>
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<T, TaskError>>,
{
    let deadline = Instant::now() + CHILD_WAIT;
    loop {
        match attempt().await {
            Err(TaskError::IdempotencyKeyInUse) if Instant::now() < deadline => {
                tokio::time::sleep(CHILD_POLL).await;
            }
            Err(TaskError::IdempotencyKeyInUse) => {
                return Err(ControlRefusal::ChildInProgress { task_id, asked }.into());
            }
            other => return other,
        }
    }
}

/// The key that makes a second identical retry or revert answer the first one's child task.
fn child_key(parent: TaskId, choice: &str) -> String {
    format!(
        "{}{parent}:{choice}",
        crate::intake::idempotency::RETRY_KEY_PREFIX
    )
}
