//! Synchronous small batches (EXT): after accepting a task, the request waits for it to complete
//! and answers with every record's outcome inline, in input order.

use crate::error::GatewayError;
use serde_json::Value;
use std::time::Duration;
use userhub_domain::{TaskId, TaskState};
use userhub_store::ledger::{OutcomeKind, inflate_outcomes, next_outcomes, open_outcomes};
use userhub_store::tasks::{TaskRecord, find_task};
use userhub_store::{Pool, StoreError};

/// Outcome blobs read per round trip.
const BLOBS_PER_FETCH: i32 = 64;

/// One record's outcome: its results-file entry, or its errors-file entry.
#[derive(Debug, Clone, PartialEq)]
pub enum RecordOutcome {
    Succeeded(Value),
    Failed(Value),
}

/// A completed task with every record's outcome by input index.
#[derive(Debug)]
pub struct Finished {
    pub task: TaskRecord,
    pub outcomes: Vec<Option<RecordOutcome>>,
}

/// Waits (up to `timeout`) for an accepted task and reads its outcomes; `None` on timeout.
pub async fn await_task(
    pool: &Pool,
    domain_id: i64,
    task_id: TaskId,
    timeout: Duration,
) -> Result<Option<Finished>, GatewayError> {
    let Some(task) = wait_completed(pool, domain_id, task_id, timeout).await? else {
        return Ok(None);
    };
    let total = usize::try_from(task.total).unwrap_or_default();
    let outcomes = outcomes(pool, task_id, total).await?;
    Ok(Some(Finished { task, outcomes }))
}

/// Polls the task until it is completed; `None` if `timeout` passed first.
pub async fn wait_completed(
    pool: &Pool,
    domain_id: i64,
    task_id: TaskId,
    timeout: Duration,
) -> Result<Option<TaskRecord>, GatewayError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    loop {
        let task = {
            let client = pool.get().await.map_err(StoreError::from)?;
            find_task(&client, domain_id, task_id).await?
        };
        match task {
            Some(task) if task.state == TaskState::Completed => return Ok(Some(task)),
            Some(_) => {}
            None => {
                return Err(GatewayError::Internal(format!(
                    "task {task_id} vanished while awaited"
                )));
            }
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok(None);
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Every record's outcome of a completed task, by input index (`total` entries; a record
/// without an outcome — impossible for a completed task — is `None`).
pub async fn outcomes(
    pool: &Pool,
    task_id: TaskId,
    total: usize,
) -> Result<Vec<Option<RecordOutcome>>, GatewayError> {
    let mut by_index: Vec<Option<RecordOutcome>> = vec![None; total];
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let transaction = client.transaction().await.map_err(StoreError::from)?;
    for kind in [OutcomeKind::Results, OutcomeKind::Errors] {
        let portal = open_outcomes(&transaction, task_id, kind).await?;
        loop {
            let blobs = next_outcomes(&transaction, &portal, BLOBS_PER_FETCH).await?;
            if blobs.is_empty() {
                break;
            }
            for blob in blobs {
                let text = inflate_outcomes(&blob.data)
                    .map_err(|error| GatewayError::Internal(error.to_string()))?;
                for line in text.lines().filter(|line| !line.is_empty()) {
                    let entry: Value = serde_json::from_str(line)
                        .map_err(|error| GatewayError::Internal(error.to_string()))?;
                    let Some(slot) = entry["index"]
                        .as_u64()
                        .and_then(|index| by_index.get_mut(index as usize))
                    else {
                        continue;
                    };
                    *slot = Some(match kind {
                        OutcomeKind::Results => RecordOutcome::Succeeded(entry),
                        OutcomeKind::Errors => RecordOutcome::Failed(entry),
                    });
                }
            }
        }
    }
    transaction.commit().await.map_err(StoreError::from)?;
    Ok(by_index)
}
