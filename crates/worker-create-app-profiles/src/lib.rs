//! `create_app_profiles` (EXT): one app profile per core profile and app, a chunk at a time
//! through the profile service; an existing pair is `ALREADY_EXISTS` naming the existing pid.

use serde::Serialize;
use userhub_domain::CoreProfileId;
use userhub_domain::profile::app::NewAppProfile;
use userhub_domain::record::parse_new_app_profile;
use userhub_domain::{FieldError, TaskAction};
use userhub_profiles::{AppOutcome, Indexed};
use userhub_store::{StoreError, Transaction};
use userhub_tasks::{
    AppProfileRef, ChunkContext, Handled, Outcome, Preview, ProfileChangeNote, TaskHandler, Work,
};

/// The handler of `create_app_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct CreateAppProfiles;

/// A created app profile's results entry.
#[derive(Debug, Serialize)]
pub struct CreatedAppProfile {
    pub pid: String,
    #[serde(rename = "core-profile-id")]
    pub core_profile_id: CoreProfileId,
    pub app_id: String,
}

impl TaskHandler for CreateAppProfiles {
    type Input = NewAppProfile;
    type Output = CreatedAppProfile;

    fn action(&self) -> TaskAction {
        TaskAction::CreateAppProfiles
    }

    fn preview(&self, _: &CreatedAppProfile) -> Option<Preview> {
        Some(Preview::Create)
    }

    fn parse(&self, _: &ChunkContext, record: &str) -> Result<NewAppProfile, Vec<FieldError>> {
        parse_new_app_profile(record)
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [Work<NewAppProfile>],
    ) -> Result<Handled<CreatedAppProfile>, StoreError> {
        let batch: Vec<Indexed<'_, NewAppProfile>> = records
            .iter()
            .map(|work| Indexed {
                index: work.index,
                record: &work.input,
            })
            .collect();
        let applied =
            userhub_profiles::app::create(transaction, chunk.domain_id, &chunk.domain, &batch)
                .await?;
        let outcomes = applied
            .outcomes
            .into_iter()
            .map(|outcome| match outcome {
                AppOutcome::Created {
                    pid,
                    core_profile_id,
                    app_id,
                } => Outcome::Succeeded(CreatedAppProfile {
                    pid,
                    core_profile_id,
                    app_id,
                }),
                AppOutcome::Updated { .. } => Outcome::Failed(Vec::new()),
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
