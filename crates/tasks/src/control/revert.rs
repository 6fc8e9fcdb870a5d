//! Revert: a `revert_profiles` child task undoing what a completed create, update or upsert
//! task changed — one record per core profile it touched, from the before-images its chunks
//! kept. The two tasks name each other; a task is reverted once.

use super::{ControlAction, ControlRefusal, child_key, same_child};
use crate::error::TaskError;
use crate::intake::{Intake, Submission, Submitted, Submitter};
use serde_json::value::RawValue;
use userhub_domain::record::raw::{PayloadFormat, RawRecord, RecordContent};
use userhub_domain::{TaskAction, TaskId, TaskOptions, TaskState};
use userhub_store::reverts::{Touched, images_expired, revert_task_of, touched_profiles};
use userhub_store::tasks::{TaskRecord, find_task};

/// Creates the task reverting `task_id` (a concurrent second revert waits for the first and
/// is then refused as `AlreadyReverted`).
pub async fn revert(
    intake: &Intake,
    caller: &Submitter,
    task_id: TaskId,
) -> Result<Submitted, TaskError> {
    same_child(task_id, ControlAction::Revert, || {
        revert_once(intake, caller, task_id)
    })
    .await
}

async fn revert_once(
    intake: &Intake,
    caller: &Submitter,
    task_id: TaskId,
) -> Result<Submitted, TaskError> {
    if caller.read_only {
        return Err(ControlRefusal::ReadOnlyKey(ControlAction::Revert).into());
    }
    let domain_id = caller.domain_id;
    let client = caller.database.get().await?;
    let parent = find_task(&*client, domain_id, task_id)
        .await?
        .ok_or(ControlRefusal::TaskNotFound(task_id))?;
    check_revertible(&parent)?;
    if images_expired(&*client, domain_id, task_id).await? {
        return Err(ControlRefusal::RevertExpired(task_id).into());
    }
    if let Some(revert) = revert_task_of(&*client, domain_id, task_id).await? {
        return Err(ControlRefusal::AlreadyReverted { task_id, revert }.into());
    }
    let touched = touched_profiles(&*client, domain_id, task_id).await?;
    drop(client);
    if touched.is_empty() {
        return Err(ControlRefusal::NothingToRevert(task_id).into());
    }
    let request = Submission {
        action: TaskAction::RevertProfiles,
        options: TaskOptions {
            reverts: Some(task_id),
            ..TaskOptions::default()
        },
        format: PayloadFormat::JsonArray,
        records: touched.into_iter().enumerate().map(record).collect(),
    };
    let key = child_key(task_id, "revert");
    intake
        .submit_child(caller, request, Some(key), Some(task_id))
        .await
}

/// Why `task` cannot be reverted, if it cannot.
fn check_revertible(task: &TaskRecord) -> Result<(), ControlRefusal> {
    if !task.action.is_revertible() || task.options.dry_run {
        let what = if task.options.dry_run {
            "a dry run, which changed nothing".to_owned()
        } else {
            format!("a {} task", task.action)
        };
        return Err(ControlRefusal::NotRevertible {
            task_id: task.id,
            what,
        });
    }
    if task.state != TaskState::Completed {
        return Err(ControlRefusal::TaskNotCompleted {
            task_id: task.id,
            state: task.state,
            asked: ControlAction::Revert,
        });
    }
    Ok(())
}

/// A revert task's record for one profile.
fn record((index, touched): (usize, Touched)) -> RawRecord {
    let text = format!(
        "{{\"core-profile-id\":{},\"created\":{}}}",
        touched.core_profile_id, touched.created
    );
    let json = RawValue::from_string(text).expect("a revert record is JSON");
    RawRecord {
        index: index as u32,
        line: None,
        content: RecordContent::Json(json),
    }
}
