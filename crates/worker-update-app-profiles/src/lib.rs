//! `update_app_profiles`: the update semantics of core profiles for app profiles, through the
//! profile service: records of one app profile apply in input order, each profile is written
//! once, and only fields that really changed are reported.

use serde::Serialize;
use userhub_domain::profile::app::AppProfilePatch;
use userhub_domain::record::parse_app_profile_patch;
use userhub_domain::{FieldError, TaskAction};
use userhub_profiles::{AppOutcome, Indexed};
use userhub_store::{StoreError, Transaction};
use userhub_tasks::{
    AppProfileRef, ChunkContext, Handled, Outcome, Preview, ProfileChangeNote, ProfileKey,
    TaskHandler, Work,
};

/// The handler of `update_app_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct UpdateAppProfiles;

/// An applied app profile update's results entry.
#[derive(Debug, Serialize)]
pub struct UpdatedAppProfile {
    pub pid: String,
    pub updated_fields: Vec<&'static str>,
}

impl TaskHandler for UpdateAppProfiles {
    type Input = AppProfilePatch;
    type Output = UpdatedAppProfile;

    fn action(&self) -> TaskAction {
        TaskAction::UpdateAppProfiles
    }

    fn preview(&self, output: &UpdatedAppProfile) -> Option<Preview> {
        Some(Preview::Update {
            key: ProfileKey::App(output.pid.clone()),
            fields: output.updated_fields.clone(),
        })
    }

    fn parse(&self, _: &ChunkContext, record: &str) -> Result<AppProfilePatch, Vec<FieldError>> {
        parse_app_profile_patch(record)
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [Work<AppProfilePatch>],
    ) -> Result<Handled<UpdatedAppProfile>, StoreError> {
        let batch: Vec<Indexed<'_, AppProfilePatch>> = records
            .iter()
            .map(|work| Indexed {
                index: work.index,
                record: &work.input,
            })
            .collect();
        let applied = userhub_profiles::app::update(transaction, chunk.domain_id, &batch).await?;
        let outcomes = applied
            .outcomes
            .into_iter()
            .map(|outcome| match outcome {
                AppOutcome::Updated { pid, changed } => Outcome::Succeeded(UpdatedAppProfile {
                    pid,
                    updated_fields: changed.names(),
                }),
                AppOutcome::Created { pid, .. } => Outcome::Succeeded(UpdatedAppProfile {
                    pid,
                    updated_fields: Vec::new(),
                }),
                AppOutcome::Failed(errors) => Outcome::Failed(errors),
            })
            .collect();
        let changes = applied
            .changes
            .into_iter()
            .map(|change| {
                let app = AppProfileRef {
                    pid: change.pid,
                    app_id: change.app_id,
                };
                ProfileChangeNote::app(
                    change.core_profile_id,
                    app,
                    change.created,
                    change.changed.names(),
                )
                .with_version(change.version)
            })
            .collect();
        Ok(Handled { outcomes, changes })
    }
}
