//! `update_core_profiles`: present fields replace, absent stay, `null` clears, `names` and
//! `custom_fields` merge per key, `tags` replace, identities are added — through the profile
//! service, which applies the records of one profile in input order, writes each profile once
//! and reports only the fields that really changed. Tag colors the task carries (the
//! HelpCrunch-compatible update) are stored with the chunk's changes.

use serde::Serialize;
use userhub_domain::CoreProfileId;
use userhub_domain::profile::core::CoreProfilePatch;
use userhub_domain::record::parse_core_profile_patch;
use userhub_domain::{FieldError, TaskAction};
use userhub_profiles::{CoreOutcome, Indexed};
use userhub_store::tag_colors::set_colors;
use userhub_store::{StoreError, Transaction};
use userhub_tasks::{
    ChunkContext, Handled, Outcome, Preview, ProfileChangeNote, ProfileKey, TaskHandler, Work,
};

/// The handler of `update_core_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct UpdateCoreProfiles;

/// An applied update's results entry.
#[derive(Debug, Serialize)]
pub struct UpdatedProfile {
    #[serde(rename = "core-profile-id")]
    pub id: CoreProfileId,
    /// The fields whose value changed, sorted (empty when the record changed nothing).
    pub updated_fields: Vec<&'static str>,
}

impl TaskHandler for UpdateCoreProfiles {
    type Input = CoreProfilePatch;
    type Output = UpdatedProfile;

    fn action(&self) -> TaskAction {
        TaskAction::UpdateCoreProfiles
    }

    fn preview(&self, output: &UpdatedProfile) -> Option<Preview> {
        Some(Preview::Update {
            key: ProfileKey::Core(output.id),
            fields: output.updated_fields.clone(),
        })
    }

    fn parse(&self, _: &ChunkContext, record: &str) -> Result<CoreProfilePatch, Vec<FieldError>> {
        parse_core_profile_patch(record)
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [Work<CoreProfilePatch>],
    ) -> Result<Handled<UpdatedProfile>, StoreError> {
        let batch: Vec<Indexed<'_, CoreProfilePatch>> = records
            .iter()
            .map(|work| Indexed {
                index: work.index,
                record: &work.input,
            })
            .collect();
        let applied = userhub_profiles::core::update(transaction, chunk.domain_id, &batch).await?;
        let colors: Vec<(String, String)> = chunk
            .options
            .tag_colors
            .iter()
            .map(|given| (given.tag.clone(), given.color.clone()))
            .collect();
        set_colors(transaction, chunk.domain_id, &colors).await?;
        let outcomes = applied
            .outcomes
            .into_iter()
            .map(|outcome| match outcome {
                CoreOutcome::Updated { id, changed } => Outcome::Succeeded(UpdatedProfile {
                    id,
                    updated_fields: changed.names(),
                }),
                CoreOutcome::Created { id } => Outcome::Succeeded(UpdatedProfile {
                    id,
                    updated_fields: Vec::new(),
                }),
                CoreOutcome::Failed(errors) => Outcome::Failed(errors),
            })
            .collect();
        let changes = applied
            .changes
            .iter()
            .map(|change| {
                ProfileChangeNote::core(change.id, change.created, change.changed.names())
                    .with_version(change.version)
            })
            .collect();
        Ok(Handled { outcomes, changes })
    }
}
