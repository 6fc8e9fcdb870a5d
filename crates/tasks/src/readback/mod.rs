//! Readback: a task's stored outcome lines — merged into input order for the results and
//! errors files ([`OutcomeMerger`]), blob by blob for the synchronous answer of small batches
//! (EXT: after accepting a task the request waits for it to complete and answers with every
//! record's outcome inline, in input order) and for retries of failed records.

mod merge;

pub use merge::OutcomeMerger;

use crate::error::TaskError;
use serde_json::value::RawValue;
use std::time::Duration;
use userhub_domain::DomainId;
use userhub_domain::outcome_line;
use userhub_domain::outcome_line::{ErrorMembers, OutcomeLine, ResultMembers};
use userhub_domain::{TaskId, TaskKey, TaskState};
use userhub_store::GenericClient;
use userhub_store::TenantPool;
use userhub_store::ledger::{OutcomeKind, OutcomePosition, outcome_page};
use userhub_store::tasks::{TaskRecord, find_task};

/// One record's outcome: its results-file line, or its errors-file line.
#[derive(Debug, Clone)]
pub enum RecordOutcome {
    Succeeded(OutcomeEntry<ResultMembers>),
    Failed(OutcomeEntry<ErrorMembers>),
}

/// A line of the results or errors file: as written, and the members answers show by name.
#[derive(Debug, Clone)]
pub struct OutcomeEntry<M> {
    pub line: Box<RawValue>,
    pub members: M,
}

impl<M: serde::de::DeserializeOwned> OutcomeEntry<M> {
    fn read(line: &OutcomeLine<'_>) -> Result<OutcomeEntry<M>, serde_json::Error> {
        Ok(OutcomeEntry {
            line: RawValue::from_string(line.text().to_owned())?,
            members: line.members()?,
        })
    }
}

/// A completed task with every record's outcome by input index.
#[derive(Debug)]
pub struct Finished {
    pub task: TaskRecord,
    pub outcomes: Vec<Option<RecordOutcome>>,
}

/// How waiting for a task ended.
#[derive(Debug)]
pub enum Awaited {
    Finished(Finished),
    /// Still running when the time was up; its state now.
    Running(TaskState),
    /// Completed, but with more records than an answer may hold inline (an export whose
    /// selector picked more than the limit).
    TooLarge,
}

/// Waits (up to `timeout`) for an accepted task and reads its outcomes, if the task has at most
/// `max_records` records.
pub async fn await_task(
    pool: &TenantPool,
    domain_id: DomainId,
    task_id: TaskId,
    timeout: Duration,
    max_records: usize,
) -> Result<Awaited, TaskError> {
    let task = match wait_completed(pool, domain_id, task_id, timeout).await? {
        Ok(task) => task,
        Err(state) => return Ok(Awaited::Running(state)),
    };
    let total = usize::try_from(task.total).unwrap_or_default();
    if total > max_records {
        return Ok(Awaited::TooLarge);
    }
    let outcomes = outcomes(pool, TaskKey::new(domain_id, task_id), total).await?;
    Ok(Awaited::Finished(Finished { task, outcomes }))
}

/// How many profiles an export selector picks (to refuse waiting for a large export early).
pub async fn selection_size(
    pool: &TenantPool,
    domain_id: DomainId,
    action: userhub_domain::TaskAction,
    selector: &userhub_domain::profile::selector::ExportSelector,
) -> Result<i64, TaskError> {
    use userhub_store::exports::{ExportKind, count_selection};
    let kind = if action == userhub_domain::TaskAction::GetAppProfiles {
        ExportKind::AppProfiles
    } else {
        ExportKind::CoreProfiles
    };
    let client = pool.get().await?;
    Ok(count_selection(&*client, domain_id, kind, selector).await?)
}

/// Polls the task until it is completed; its last state if `timeout` passed first.
pub async fn wait_completed(
    pool: &TenantPool,
    domain_id: DomainId,
    task_id: TaskId,
    timeout: Duration,
) -> Result<Result<TaskRecord, TaskState>, TaskError> {
    let deadline = tokio::time::Instant::now() + timeout;
    let mut pause = Duration::from_millis(10);
    loop {
        let task = {
            let client = pool.get().await?;
            find_task(&*client, domain_id, task_id).await?
        };
        let state = match task {
            Some(task) if task.state == TaskState::Completed => return Ok(Ok(task)),
            Some(task) => task.state,
            None => {
                return Err(TaskError::TaskVanished(task_id));
            }
        };
        if tokio::time::Instant::now() >= deadline {
            return Ok(Err(state));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Every record's outcome of a completed task, by input index (`total` entries; a record
/// without an outcome — impossible for a completed task — is `None`).
pub async fn outcomes(
    pool: &TenantPool,
    task: TaskKey,
    total: usize,
) -> Result<Vec<Option<RecordOutcome>>, TaskError> {
    let mut by_index: Vec<Option<RecordOutcome>> = vec![None; total];
    let client = pool.get().await?;
    for kind in [OutcomeKind::Results, OutcomeKind::Errors] {
        for_each_line(&*client, task, kind, |line| {
            let Some(slot) = usize::try_from(line.index())
                .ok()
                .and_then(|index| by_index.get_mut(index))
            else {
                return Ok(());
            };
            let outcome = match kind {
                OutcomeKind::Results => OutcomeEntry::read(line).map(RecordOutcome::Succeeded),
                OutcomeKind::Errors => OutcomeEntry::read(line).map(RecordOutcome::Failed),
            };
            *slot = Some(outcome.map_err(|source| TaskError::StoredOutcomeLine {
                task_id: task.task_id,
                source,
            })?);
            Ok(())
        })
        .await?;
    }
    Ok(by_index)
}

/// Blobs read per round trip.
const BLOBS_PER_FETCH: i64 = 32;

/// Calls `visit` with every `kind` line of the task, in the order the blobs are stored.
pub async fn for_each_line(
    client: &impl GenericClient,
    task: TaskKey,
    kind: OutcomeKind,
    mut visit: impl FnMut(&OutcomeLine<'_>) -> Result<(), TaskError>,
) -> Result<(), TaskError> {
    let task_id = task.task_id;
    let mut after = OutcomePosition::START;
    loop {
        let blobs = outcome_page(client, task, kind, after, BLOBS_PER_FETCH).await?;
        let Some(last) = blobs.last() else {
            return Ok(());
        };
        after = last.position;
        for blob in blobs {
            let text = blob
                .text()
                .map_err(|source| TaskError::StoredOutcomes { task_id, source })?;
            for line in outcome_line::lines(&text).filter_map(OutcomeLine::parse) {
                visit(&line)?;
            }
        }
    }
}
