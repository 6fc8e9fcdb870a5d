//! The status body: the compatible fields plus our extensions.

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use userhub_domain::{TaskId, TaskState};
use userhub_http_common::schema::{ActionName, OutcomeName, StateName};
use userhub_store::tasks::TaskRecord;
use utoipa::ToSchema;

/// The status of a task.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskStatus {
    /// `created` → `queued` → `processing` → `completed`.
    #[schema(value_type = StateName, example = "completed")]
    pub state: String,
    /// 0..100, monotonic; 100 only once completed.
    #[schema(minimum = 0, maximum = 100)]
    pub progress_percentage: i64,
    /// At least one record failed.
    pub errors: bool,
    /// Results and errors can be downloaded (once completed, until the retention period ends).
    pub results: bool,
    /// EXT: the task's id (below 2^53).
    #[schema(example = 1838652809333901_u64, maximum = 9007199254740991_u64)]
    pub task_id: u64,
    /// EXT: the task type.
    #[schema(value_type = ActionName, example = "create_core_profiles")]
    pub action: String,
    /// EXT: records in the task (for an export by selector, once planned).
    pub total: i64,
    pub processed: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// RFC 3339.
    pub created_at: String,
    pub started_at: Option<String>,
    pub completed_at: Option<String>,
    pub records_per_second: Option<f64>,
    pub eta_seconds: Option<i64>,
    /// EXT, once completed: `succeeded`, `completed_with_errors`, `failed` or `canceled`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<OutcomeName>)]
    pub outcome: Option<String>,
    /// EXT: why a task could not be (fully) processed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure_reason: Option<String>,
    /// EXT: set while the task makes no progress for the stall timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stall_reason: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stalled_since: Option<String>,
    /// EXT: when the retention period deleted the task's results and errors (downloads then
    /// answer `410 RESULTS_EXPIRED`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expired_at: Option<String>,
    /// EXT: when a cancel was requested (`POST .../{task_id}/cancel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancel_requested_at: Option<String>,
    /// EXT: `true` for a dry run (`dry_run=true`): nothing was written; the results say what
    /// each record would do.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dry_run: Option<bool>,
    /// EXT: for a retry (`POST .../{task_id}/retry`), the task whose failed records it holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(maximum = 9007199254740991_u64)]
    pub parent_task_id: Option<u64>,
    /// EXT: the retries of this task's failed records, oldest first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub child_task_ids: Vec<u64>,
}

/// A page of tasks, newest first.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct TaskList {
    pub tasks: Vec<TaskStatus>,
    /// Pass as `cursor` for the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

pub(crate) fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// `progress_percentage`: processed share, 100 only when completed.
pub fn progress_percentage(task: &TaskRecord) -> i64 {
    if task.state == TaskState::Completed {
        return 100;
    }
    if task.total <= 0 {
        return 0;
    }
    (task.processed * 100 / task.total).min(99)
}

/// The status of `task` at time `now`.
pub fn status_body(task: &TaskRecord, now: DateTime<Utc>) -> TaskStatus {
    let end = task.completed_at.unwrap_or(now);
    let elapsed = task
        .started_at
        .map(|start| (end - start).num_milliseconds().max(1) as f64 / 1000.0);
    let records_per_second =
        elapsed.map(|seconds| (task.processed as f64 / seconds * 10.0).round() / 10.0);
    let eta_seconds = match (task.state, records_per_second) {
        (TaskState::Completed, _) => Some(0),
        (_, Some(rate)) if rate > 0.0 => {
            Some(((task.total - task.processed).max(0) as f64 / rate).ceil() as i64)
        }
        _ => None,
    };
    let stalled = task.state != TaskState::Completed && task.stalled_since.is_some();
    TaskStatus {
        state: task.state.as_str().to_owned(),
        progress_percentage: progress_percentage(task),
        errors: task.failed > 0,
        task_id: task.id.get(),
        action: task.action.as_str().to_owned(),
        total: task.total,
        processed: task.processed,
        succeeded: task.succeeded,
        failed: task.failed,
        created_at: timestamp(task.created_at),
        started_at: task.started_at.map(timestamp),
        completed_at: task.completed_at.map(timestamp),
        records_per_second,
        eta_seconds,
        outcome: task.outcome.map(|outcome| outcome.as_str().to_owned()),
        failure_reason: task.failure_reason.clone(),
        stalled: stalled.then_some(true),
        stall_reason: if stalled {
            task.stall_reason.clone()
        } else {
            None
        },
        stalled_since: if stalled {
            task.stalled_since.map(timestamp)
        } else {
            None
        },
        results: task.state == TaskState::Completed && task.expired_at.is_none(),
        expired_at: task.expired_at.map(timestamp),
        cancel_requested_at: task.cancel_requested_at.map(timestamp),
        dry_run: task.options.dry_run.then_some(true),
        parent_task_id: task.parent_task_id.map(TaskId::get),
        child_task_ids: task.child_task_ids.iter().map(|id| id.get()).collect(),
    }
}
