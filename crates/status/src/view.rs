//! The status body: the compatible fields plus our extensions.

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};
use userhub_domain::TaskState;
use userhub_store::tasks::TaskRecord;

fn timestamp(at: Option<DateTime<Utc>>) -> Value {
    at.map_or(Value::Null, |at| {
        Value::String(at.to_rfc3339_opts(SecondsFormat::Millis, true))
    })
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

/// The JSON body of `GET .../bulk_actions/{task_id}` at time `now`.
pub fn status_body(task: &TaskRecord, now: DateTime<Utc>) -> Value {
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
    let mut body = json!({
        "state": task.state.as_str(),
        "progress_percentage": progress_percentage(task),
        "errors": task.failed > 0,
        "results": task.state == TaskState::Completed,
        "task_id": task.id,
        "action": task.action,
        "total": task.total,
        "processed": task.processed,
        "succeeded": task.succeeded,
        "failed": task.failed,
        "created_at": timestamp(Some(task.created_at)),
        "started_at": timestamp(task.started_at),
        "completed_at": timestamp(task.completed_at),
        "records_per_second": records_per_second,
        "eta_seconds": eta_seconds,
    });
    if let Some(outcome) = task.outcome {
        body["outcome"] = json!(outcome.as_str());
    }
    if let Some(reason) = &task.failure_reason {
        body["failure_reason"] = json!(reason);
    }
    if task.state != TaskState::Completed && task.stalled_since.is_some() {
        body["stalled"] = json!(true);
        body["stall_reason"] = json!(task.stall_reason);
        body["stalled_since"] = timestamp(task.stalled_since);
    }
    body
}
