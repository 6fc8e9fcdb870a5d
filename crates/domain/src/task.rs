//! Task states and outcomes as the API shows them.

use serde::{Deserialize, Serialize};
use std::str::FromStr;

/// Where a task is in its life; clients poll until `completed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskState {
    Created,
    Queued,
    Processing,
    Completed,
}

impl TaskState {
    /// Every state, in the order a task goes through them.
    pub const ALL: [TaskState; 4] = [
        TaskState::Created,
        TaskState::Queued,
        TaskState::Processing,
        TaskState::Completed,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskState::Created => "created",
            TaskState::Queued => "queued",
            TaskState::Processing => "processing",
            TaskState::Completed => "completed",
        }
    }
}

/// The text was not a task state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown task state `{0}`")]
pub struct UnknownState(pub String);

impl FromStr for TaskState {
    type Err = UnknownState;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "created" => Ok(TaskState::Created),
            "queued" => Ok(TaskState::Queued),
            "processing" => Ok(TaskState::Processing),
            "completed" => Ok(TaskState::Completed),
            other => Err(UnknownState(other.to_owned())),
        }
    }
}

/// How a completed task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TaskOutcome {
    /// No record failed.
    Succeeded,
    /// Some records failed, some succeeded.
    CompletedWithErrors,
    /// No record succeeded, or the task could not be processed at all.
    Failed,
    /// EXT: a cancel was requested; records not applied by then failed with `CANCELED`.
    Canceled,
}

impl TaskOutcome {
    /// Every outcome of a completed task.
    pub const ALL: [TaskOutcome; 4] = [
        TaskOutcome::Succeeded,
        TaskOutcome::CompletedWithErrors,
        TaskOutcome::Failed,
        TaskOutcome::Canceled,
    ];

    /// The outcome implied by the final counters.
    pub fn from_counts(succeeded: i64, failed: i64) -> TaskOutcome {
        match (succeeded, failed) {
            (_, 0) => TaskOutcome::Succeeded,
            (0, _) => TaskOutcome::Failed,
            _ => TaskOutcome::CompletedWithErrors,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TaskOutcome::Succeeded => "succeeded",
            TaskOutcome::CompletedWithErrors => "completed_with_errors",
            TaskOutcome::Failed => "failed",
            TaskOutcome::Canceled => "canceled",
        }
    }
}

impl FromStr for TaskOutcome {
    type Err = UnknownState;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text {
            "succeeded" => Ok(TaskOutcome::Succeeded),
            "completed_with_errors" => Ok(TaskOutcome::CompletedWithErrors),
            "failed" => Ok(TaskOutcome::Failed),
            "canceled" => Ok(TaskOutcome::Canceled),
            other => Err(UnknownState(other.to_owned())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcome_follows_the_counters() {
        assert_eq!(TaskOutcome::from_counts(3, 0), TaskOutcome::Succeeded);
        assert_eq!(
            TaskOutcome::from_counts(2, 1),
            TaskOutcome::CompletedWithErrors
        );
        assert_eq!(TaskOutcome::from_counts(0, 3), TaskOutcome::Failed);
        assert_eq!(TaskOutcome::from_counts(0, 0), TaskOutcome::Succeeded);
    }

    #[test]
    fn states_parse_from_their_names() {
        for state in [
            TaskState::Created,
            TaskState::Queued,
            TaskState::Processing,
            TaskState::Completed,
        ] {
            assert_eq!(state.as_str().parse::<TaskState>(), Ok(state));
        }
    }
}
