//! `upsert_core_profiles` (EXT): each record is matched by the task's `match_by` — an identity,
//! `core-profile-id` or a custom field — and updated when a profile has that key (the update
//! semantics of `update_core_profiles`) or created when none has (those of
//! `create_core_profiles`). Results say `"result": "created"` or `"updated"`.
//!
//! The profile service applies a chunk's records in input order, so records that reach one
//! profile — by the same key or by different ones — apply in order, and a key created by one
//! record is found by the next. The chunks of an upsert task are applied one after another
//! (the runtime's ordered mode), so this holds across chunks too.

use serde::Serialize;
use userhub_domain::CoreProfileId;
use userhub_domain::profile::core::CoreProfileUpsert;
use userhub_domain::record::parse_core_profile_upsert;
use userhub_domain::{ErrorCode, FieldError, Identity, TaskAction};
use userhub_profiles::{CoreOutcome, Indexed};
use userhub_store::core_profiles::IdSequence;
use userhub_store::{StoreError, Transaction};
use userhub_tasks::{
    ChunkContext, Handled, Outcome, Preview, ProfileChangeNote, ProfileKey, TaskHandler, Work,
};

/// The handler of `upsert_core_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct UpsertCoreProfiles;

/// An upsert record with its match key.
#[derive(Debug)]
pub struct KeyedUpsert {
    pub record: CoreProfileUpsert,
    pub key: String,
}

/// Whether a record created its profile or updated one.
#[derive(Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum UpsertResult {
    Created,
    Updated,
}

/// An upsert's results entry.
#[derive(Debug, Serialize)]
pub struct UpsertedProfile {
    pub result: UpsertResult,
    #[serde(rename = "core-profile-id")]
    pub id: CoreProfileId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub identities: Option<Vec<Identity>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub updated_fields: Option<Vec<&'static str>>,
}

impl TaskHandler for UpsertCoreProfiles {
    type Input = KeyedUpsert;
    type Output = UpsertedProfile;

    fn action(&self) -> TaskAction {
        TaskAction::UpsertCoreProfiles
    }

    fn preview(&self, output: &UpsertedProfile) -> Option<Preview> {
        Some(match output.result {
            UpsertResult::Created => Preview::Create,
            UpsertResult::Updated => Preview::Update {
                key: ProfileKey::Core(output.id),
                fields: output.updated_fields.clone().unwrap_or_default(),
            },
        })
    }

    fn applies_in_order(&self) -> bool {
        true
    }

    fn parse(&self, chunk: &ChunkContext, text: &str) -> Result<KeyedUpsert, Vec<FieldError>> {
        let Some(match_by) = &chunk.options.match_by else {
            return Err(vec![FieldError::new(
                "",
                ErrorCode::ProcessingFailed,
                "the task has no `match_by`",
            )]);
        };
        let record = parse_core_profile_upsert(text, match_by)?;
        let key = record.match_key(match_by).map_err(|error| vec![error])?;
        Ok(KeyedUpsert { record, key })
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [Work<KeyedUpsert>],
    ) -> Result<Handled<UpsertedProfile>, StoreError> {
        let Some(match_by) = &chunk.options.match_by else {
            return Err(StoreError::Config(
                "an upsert task without match_by".to_owned(),
            ));
        };
        let batch: Vec<Indexed<'_, CoreProfileUpsert>> = records
            .iter()
            .map(|work| Indexed {
                index: work.index,
                record: &work.input.record,
            })
            .collect();
        let keys: Vec<String> = records.iter().map(|work| work.input.key.clone()).collect();
        let ids = IdSequence::of(chunk.options.dry_run);
        let applied = userhub_profiles::core::upsert(
            transaction,
            chunk.domain_id,
            match_by,
            &batch,
            &keys,
            ids,
        )
        .await?;
        let outcomes = applied
            .outcomes
            .into_iter()
            .zip(records)
            .map(|(outcome, work)| match outcome {
                CoreOutcome::Created { id } => Outcome::Succeeded(UpsertedProfile {
                    result: UpsertResult::Created,
                    id,
                    identities: Some(work.input.record.identities.clone()),
                    updated_fields: None,
                }),
                CoreOutcome::Updated { id, changed } => Outcome::Succeeded(UpsertedProfile {
                    result: UpsertResult::Updated,
                    id,
                    identities: None,
                    updated_fields: Some(changed.names()),
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
