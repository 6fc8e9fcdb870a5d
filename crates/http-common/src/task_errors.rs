//! The task protocol's refusals and failures as HTTP answers: the one mapping of
//! `userhub_tasks::TaskError` every native front end (gateway, status) uses.

use crate::ApiError;
use axum::http::StatusCode;
use serde_json::json;
use userhub_tasks::TaskError;
use userhub_tasks::control::ControlRefusal;

impl From<TaskError> for ApiError {
    fn from(error: TaskError) -> Self {
        let message = error.to_string();
        match error {
            TaskError::ReadOnlyKey(_) => ApiError::forbidden(message),
            TaskError::Refused(refusal) => refused(refusal),
            TaskError::SelectorNotAlone => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PAYLOAD", message)
            }
            TaskError::IdempotencyKeyReused => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "IDEMPOTENCY_KEY_REUSED",
                message,
            ),
            TaskError::IdempotencyKeyInUse => {
                ApiError::new(StatusCode::CONFLICT, "IDEMPOTENCY_KEY_IN_USE", message)
                    .with_header("retry-after", 1)
            }
            TaskError::Store(error) => ApiError::from(error),
            TaskError::Transport(error) => {
                ApiError::unavailable("message broker").with_cause(&error)
            }
            TaskError::ChunkEncoding(_)
            | TaskError::StoredOutcomes { .. }
            | TaskError::StoredOutcomeLine { .. }
            | TaskError::TaskVanished(_)
            | TaskError::SourceChanged => ApiError::internal(&message),
        }
    }
}

/// A control request the task or the caller does not allow.
fn refused(refusal: ControlRefusal) -> ApiError {
    let message = refusal.to_string();
    let conflict = |code| ApiError::new(StatusCode::CONFLICT, code, message.clone());
    match refusal {
        ControlRefusal::ReadOnlyKey(_) => ApiError::forbidden(message),
        ControlRefusal::TaskNotFound(task_id) => ApiError::task_not_found(task_id),
        ControlRefusal::TaskCompleted(task_id) => ApiError::task_completed(task_id),
        ControlRefusal::TaskNotCompleted { .. } => conflict("TASK_NOT_COMPLETED"),
        ControlRefusal::ResultsExpired(_) => {
            ApiError::new(StatusCode::GONE, "RESULTS_EXPIRED", message)
        }
        ControlRefusal::NothingToRetry { not_retried, .. } => {
            conflict("NOTHING_TO_RETRY").with_details(json!({ "not_retried": not_retried }))
        }
        ControlRefusal::NotRevertible { .. } => conflict("NOT_REVERTIBLE"),
        ControlRefusal::RevertExpired(_) => {
            ApiError::new(StatusCode::GONE, "REVERT_EXPIRED", message)
        }
        ControlRefusal::AlreadyReverted { revert, .. } => {
            conflict("ALREADY_REVERTED").with_details(json!({ "revert_task_id": revert }))
        }
        ControlRefusal::NothingToRevert(_) => conflict("NOTHING_TO_REVERT"),
        ControlRefusal::ChildInProgress { .. } => conflict("CHILD_TASK_IN_PROGRESS"),
    }
}
