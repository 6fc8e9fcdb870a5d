//! Retry: a child task holding the records of a completed task that failed with a retryable
//! code (every failed record when asked), read back from its errors file; each keeps its index
//! and line, and the two tasks name each other. Retrying the same task again with the same
//! choice answers the same child.

use super::{ControlAction, ControlRefusal, child_key, same_child};
use crate::error::TaskError;
use crate::intake::{Intake, Submission, Submitted, Submitter};
use crate::readback::for_each_line;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use userhub_domain::limits::MAX_ECHOED_INPUT_BYTES;
use userhub_domain::record::raw::{PayloadFormat, RawRecord, RecordContent};
use userhub_domain::{FieldError, TaskId, TaskKey, TaskState};
use userhub_store::ledger::OutcomeKind;
use userhub_store::tasks::{TaskRecord, find_task};

/// A failed record left out of the child, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotRetried {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub reason: String,
}

/// The child task, and the failed records it could not hold.
#[derive(Debug)]
pub struct Retried {
    pub submitted: Submitted,
    pub not_retried: Vec<NotRetried>,
}

/// An errors-file line as far as a retry reads it.
#[derive(Deserialize)]
struct FailedRecord<'a> {
    index: u32,
    line: Option<u32>,
    #[serde(borrow)]
    input: &'a RawValue,
    errors: Vec<FieldError>,
}

/// What a retry takes from the parent.
#[derive(Default)]
struct Picked {
    records: Vec<RawRecord>,
    not_retried: Vec<NotRetried>,
}

/// Creates the child task retrying `task_id`'s failed records: those that failed with a
/// retryable code, or every failed record with `all_failed`. Concurrent identical retries
/// answer the same child.
pub async fn retry(
    intake: &Intake,
    caller: &Submitter,
    task_id: TaskId,
    all_failed: bool,
) -> Result<Retried, TaskError> {
    same_child(task_id, ControlAction::Retry, || {
        retry_once(intake, caller, task_id, all_failed)
    })
    .await
}

async fn retry_once(
    intake: &Intake,
    caller: &Submitter,
    task_id: TaskId,
    all_failed: bool,
) -> Result<Retried, TaskError> {
    if caller.read_only {
        return Err(ControlRefusal::ReadOnlyKey(ControlAction::Retry).into());
    }
    let client = caller.database.get().await?;
    let parent = find_task(&*client, caller.domain_id, task_id)
        .await?
        .ok_or(ControlRefusal::TaskNotFound(task_id))?;
    check_retryable(&parent)?;
    let picked = pick(&client, parent.key(), all_failed).await?;
    drop(client);
    if picked.records.is_empty() {
        return Err(ControlRefusal::NothingToRetry {
            task_id,
            all_failed,
            not_retried: picked.not_retried,
        }
        .into());
    }
    let request = Submission {
        action: parent.action,
        options: parent.options.clone(),
        format: PayloadFormat::JsonArray,
        records: picked.records,
    };
    let key = child_key(task_id, if all_failed { "all" } else { "retryable" });
    let submitted = intake
        .submit_child(caller, request, Some(key), Some(task_id))
        .await?;
    Ok(Retried {
        submitted,
        not_retried: picked.not_retried,
    })
}

fn check_retryable(task: &TaskRecord) -> Result<(), ControlRefusal> {
    if task.state != TaskState::Completed {
        return Err(ControlRefusal::TaskNotCompleted {
            task_id: task.id,
            state: task.state,
            asked: ControlAction::Retry,
        });
    }
    if task.expired_at.is_some() {
        return Err(ControlRefusal::ResultsExpired(task.id));
    }
    Ok(())
}

/// The parent's failed records to retry, in index order.
async fn pick(
    client: &userhub_store::PooledClient,
    task: TaskKey,
    all_failed: bool,
) -> Result<Picked, TaskError> {
    let task_id = task.task_id;
    let mut picked = Picked::default();
    for_each_line(client, task, OutcomeKind::Errors, |line| {
        let failed: FailedRecord<'_> = serde_json::from_str(line.text())
            .map_err(|source| TaskError::StoredOutcomeLine { task_id, source })?;
        let retryable = failed.errors.iter().all(|error| error.code.is_retryable());
        if all_failed || retryable {
            take(&mut picked, failed);
        }
        Ok(())
    })
    .await?;
    picked.records.sort_by_key(|record| record.index);
    Ok(picked)
}

/// Adds a failed record to the child: its JSON as the errors file echoed it, or its text when
/// it was not JSON and was kept whole.
fn take(picked: &mut Picked, failed: FailedRecord<'_>) {
    let content = match serde_json::from_str::<String>(failed.input.get()) {
        Err(_) => Some(RecordContent::Json(failed.input.to_owned())),
        // The echo of a record that is not JSON, or of one over the echo limit, cut there.
        Ok(text) if text.len() + 4 <= MAX_ECHOED_INPUT_BYTES => failed
            .errors
            .into_iter()
            .next()
            .map(|error| RecordContent::Broken { raw: text, error }),
        Ok(_) => None,
    };
    match content {
        Some(content) => picked.records.push(RawRecord {
            index: failed.index,
            line: failed.line,
            content,
        }),
        None => picked.not_retried.push(NotRetried {
            index: failed.index,
            line: failed.line,
            reason: format!(
                "the errors file keeps only the first {MAX_ECHOED_INPUT_BYTES} bytes of this \
                 record"
            ),
        }),
    }
}
