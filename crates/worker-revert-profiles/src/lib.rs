//! `revert_profiles` (EXT): undoes a completed task's changes, one core profile per record —
//! a profile the task created is deleted with its identities and app profiles, a changed one
//! gets back its fields, identities and app profiles as they were before the task. A profile
//! changed by a later task is left alone and fails with `CONFLICT` naming that task.

use serde::{Deserialize, Serialize};
use serde_json::json;
use userhub_domain::CoreProfileId;
use userhub_domain::{ErrorCode, FieldError, TaskAction, TaskId};
use userhub_store::reverts::{AppReverted, RevertResult, Touched, revert_profiles};
use userhub_store::{StoreError, Transaction};
use userhub_tasks::{
    AppProfileRef, ChunkContext, Handled, Outcome, ProfileChangeNote, TaskHandler, Work,
};

/// The handler of `revert_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct RevertProfiles;

/// A revert task's record, as the gateway makes it from the reverted task's marks.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RevertTarget {
    #[serde(rename = "core-profile-id")]
    pub core_profile_id: CoreProfileId,
    /// The reverted task created the profile.
    #[serde(default)]
    pub created: bool,
}

/// What a revert did to one app profile of the reverted profile.
#[derive(Debug, Serialize)]
pub struct AppProfileReverted {
    pub pid: String,
    pub app_id: String,
    /// `deleted` (the task had created it) or `restored`.
    pub reverted: &'static str,
}

/// A reverted profile's results entry.
#[derive(Debug, Serialize)]
pub struct RevertedProfile {
    #[serde(rename = "core-profile-id")]
    pub id: CoreProfileId,
    /// `deleted` (the task had created the profile) or `restored`.
    pub reverted: &'static str,
    /// The core profile's fields whose value changed back, sorted.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub restored_fields: Vec<&'static str>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub app_profiles: Vec<AppProfileReverted>,
}

fn conflict(id: CoreProfileId, reverted: TaskId, later: TaskId) -> FieldError {
    FieldError::new(
        "",
        ErrorCode::Conflict,
        format!(
            "profile {id} was changed by task {later} after task {reverted}; revert task {later} \
             first, then retry this record"
        ),
    )
    .with_details(json!({
        "changed_by_task_id": later,
        "reverted_task_id": reverted,
    }))
}

fn app_lines(apps: &[AppReverted]) -> Vec<AppProfileReverted> {
    apps.iter()
        .map(|app| AppProfileReverted {
            pid: app.pid.clone(),
            app_id: app.app_id.clone(),
            reverted: if app.restored.is_some() {
                "restored"
            } else {
                "deleted"
            },
        })
        .collect()
}

fn app_notes(id: CoreProfileId, apps: &[AppReverted], notes: &mut Vec<ProfileChangeNote>) {
    for app in apps {
        let reference = AppProfileRef {
            pid: app.pid.clone(),
            app_id: app.app_id.clone(),
        };
        match app.restored {
            None => notes.push(ProfileChangeNote::deleted(id, Some(reference))),
            Some(fields) if !fields.is_empty() => {
                notes.push(
                    ProfileChangeNote::app(id, reference, false, fields.names())
                        .with_version(app.version),
                );
            }
            Some(_) => {}
        }
    }
}

/// One record's outcome and the events it causes.
fn settle(
    target: RevertTarget,
    reverted: TaskId,
    result: RevertResult,
    notes: &mut Vec<ProfileChangeNote>,
) -> Outcome<RevertedProfile> {
    let id = target.core_profile_id;
    match result {
        RevertResult::ChangedLater { task_id } => {
            Outcome::Failed(vec![conflict(id, reverted, task_id)])
        }
        RevertResult::Expired => Outcome::Failed(vec![FieldError::new(
            "",
            ErrorCode::RevertExpired,
            format!(
                "the before-images of task {reverted} were deleted after the retention period; \
                 profile {id} was not reverted"
            ),
        )]),
        RevertResult::Missing => Outcome::Failed(vec![FieldError::new(
            "core-profile-id",
            ErrorCode::NotFound,
            format!("profile {id} no longer exists"),
        )]),
        RevertResult::Deleted { apps } => {
            app_notes(id, &apps, notes);
            notes.push(ProfileChangeNote::deleted(id, None));
            Outcome::Succeeded(RevertedProfile {
                id,
                reverted: "deleted",
                restored_fields: Vec::new(),
                app_profiles: app_lines(&apps),
            })
        }
        RevertResult::Restored {
            fields,
            apps,
            version,
        } => {
            if !fields.is_empty() {
                notes
                    .push(ProfileChangeNote::core(id, false, fields.names()).with_version(version));
            }
            app_notes(id, &apps, notes);
            Outcome::Succeeded(RevertedProfile {
                id,
                reverted: "restored",
                restored_fields: fields.names(),
                app_profiles: app_lines(&apps),
            })
        }
    }
}

impl TaskHandler for RevertProfiles {
    type Input = RevertTarget;
    type Output = RevertedProfile;

    fn action(&self) -> TaskAction {
        TaskAction::RevertProfiles
    }

    fn parse(&self, _: &ChunkContext, record: &str) -> Result<RevertTarget, Vec<FieldError>> {
        serde_json::from_str(record).map_err(|error| {
            vec![FieldError::new(
                "",
                ErrorCode::InvalidValue,
                format!("not a revert record: {error}"),
            )]
        })
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [Work<RevertTarget>],
    ) -> Result<Handled<RevertedProfile>, StoreError> {
        let Some(reverted) = chunk.options.reverts else {
            let error = FieldError::new(
                "",
                ErrorCode::ProcessingFailed,
                "this revert task names no task to revert",
            );
            return Ok(Handled {
                outcomes: records
                    .iter()
                    .map(|_| Outcome::Failed(vec![error.clone()]))
                    .collect(),
                changes: Vec::new(),
            });
        };
        let targets: Vec<Touched> = records
            .iter()
            .map(|work| Touched {
                core_profile_id: work.input.core_profile_id,
                created: work.input.created,
            })
            .collect();
        let results = revert_profiles(
            transaction,
            chunk.domain_id,
            reverted,
            chunk.task_id,
            &targets,
        )
        .await?;
        let mut changes = Vec::new();
        let outcomes = records
            .iter()
            .zip(results)
            .map(|(work, result)| settle(work.input, reverted, result, &mut changes))
            .collect();
        Ok(Handled { outcomes, changes })
    }
}
