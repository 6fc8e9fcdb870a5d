//! `create_core_profiles`: new profiles with their identities, a chunk at a time through the
//! profile service. An identity that another profile owns fails its record with
//! `IDENTITY_CONFLICT`; one that an earlier record of the task adds, with
//! `DUPLICATE_IN_PAYLOAD`.

use serde::Serialize;
use userhub_domain::CoreProfileId;
use userhub_domain::profile::core::NewCoreProfile;
use userhub_domain::record::parse_new_core_profile;
use userhub_domain::{FieldError, Identity, TaskAction};
use userhub_profiles::{CoreOutcome, Indexed};
use userhub_store::core_profiles::IdSequence;
use userhub_store::{StoreError, Transaction};
use userhub_tasks::{
    ChunkContext, Handled, Outcome, Preview, ProfileChangeNote, TaskHandler, Work,
};

/// The handler of `create_core_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct CreateCoreProfiles;

/// A created profile's results entry.
#[derive(Debug, Serialize)]
pub struct CreatedProfile {
    #[serde(rename = "core-profile-id")]
    pub id: CoreProfileId,
    pub identities: Vec<Identity>,
}

impl TaskHandler for CreateCoreProfiles {
    type Input = NewCoreProfile;
    type Output = CreatedProfile;

    fn action(&self) -> TaskAction {
        TaskAction::CreateCoreProfiles
    }

    fn preview(&self, _: &CreatedProfile) -> Option<Preview> {
        Some(Preview::Create)
    }

    fn parse(&self, _: &ChunkContext, record: &str) -> Result<NewCoreProfile, Vec<FieldError>> {
        parse_new_core_profile(record)
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [Work<NewCoreProfile>],
    ) -> Result<Handled<CreatedProfile>, StoreError> {
        let batch: Vec<Indexed<'_, NewCoreProfile>> = records
            .iter()
            .map(|work| Indexed {
                index: work.index,
                record: &work.input,
            })
            .collect();
        let applied = userhub_profiles::core::create(
            transaction,
            chunk.domain_id,
            &batch,
            IdSequence::of(chunk.options.dry_run),
        )
        .await?;
        let outcomes = applied
            .outcomes
            .into_iter()
            .zip(records)
            .map(|(outcome, work)| match outcome {
                CoreOutcome::Created { id } | CoreOutcome::Updated { id, .. } => {
                    Outcome::Succeeded(CreatedProfile {
                        id,
                        identities: work.input.identities.clone(),
                    })
                }
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
