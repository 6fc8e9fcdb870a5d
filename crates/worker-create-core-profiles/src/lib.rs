//! `create_core_profiles`: new profiles with their identities, a chunk at a time with set-based
//! SQL. An identity that another profile owns fails its record with `IDENTITY_CONFLICT`.

use serde_json::{Map, Value, json};
use std::collections::HashSet;
use userhub_domain::profile::MapPatch;
use userhub_domain::profile::core::{NewCoreProfile, parse_new_core_profile};
use userhub_domain::record_error::identity_conflict as conflict_error;
use userhub_domain::{FieldError, TaskAction};
use userhub_store::core_profiles::{CoreProfileRow, allocate_ids, insert_profiles};
use userhub_store::identities::{IdentityRow, delete_owned, insert_unowned, owners};
use userhub_store::{StoreError, Transaction};
use userhub_worker_runtime::{ChunkContext, Outcome, TaskHandler, WorkRecord};

/// The handler of `create_core_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct CreateCoreProfiles;

fn parse(record: &WorkRecord) -> Result<NewCoreProfile, Vec<FieldError>> {
    record
        .value()
        .and_then(|value| parse_new_core_profile(&value))
}

fn metadata_json(metadata: &std::collections::BTreeMap<String, String>) -> Option<Value> {
    (!metadata.is_empty()).then(|| json!(metadata))
}

fn final_map(patch: &Option<MapPatch>) -> Option<Map<String, Value>> {
    patch.as_ref().map(|patch| patch.apply(&Map::new()))
}

impl TaskHandler for CreateCoreProfiles {
    fn action(&self) -> TaskAction {
        TaskAction::CreateCoreProfiles
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [WorkRecord],
    ) -> Result<Vec<Outcome>, StoreError> {
        let parsed: Vec<Result<NewCoreProfile, Vec<FieldError>>> =
            records.iter().map(parse).collect();
        let valid: Vec<usize> = (0..parsed.len()).filter(|&at| parsed[at].is_ok()).collect();
        let ids = allocate_ids(transaction, valid.len()).await?;
        let mut id_of = vec![0i64; parsed.len()];
        for (&at, &id) in valid.iter().zip(&ids) {
            id_of[at] = id;
        }
        let id_of = &id_of;
        let profiles: Vec<(usize, &NewCoreProfile)> = valid
            .iter()
            .filter_map(|&at| parsed[at].as_ref().ok().map(|profile| (at, profile)))
            .collect();
        let rows: Vec<IdentityRow<'_>> = profiles
            .iter()
            .flat_map(|&(at, profile)| {
                profile.identities.iter().map(move |identity| IdentityRow {
                    kind: identity.kind().as_str(),
                    normalized: identity.normalized(),
                    value: identity.value(),
                    metadata: metadata_json(identity.metadata()),
                    core_profile_id: id_of[at],
                })
            })
            .collect();
        let inserted = insert_unowned(transaction, chunk.domain_id, &rows).await?;
        // Keyed by owner too: two records of the chunk may claim one identity; the first wins.
        let is_inserted = |kind: &str, normalized: &str, owner: i64| {
            inserted.contains(&(kind.to_owned(), normalized.to_owned(), owner))
        };
        let mut failed: HashSet<usize> = HashSet::new();
        let mut missing: Vec<(&str, &str)> = Vec::new();
        for &(at, profile) in &profiles {
            for identity in &profile.identities {
                if !is_inserted(identity.kind().as_str(), identity.normalized(), id_of[at]) {
                    failed.insert(at);
                    missing.push((identity.kind().as_str(), identity.normalized()));
                }
            }
        }
        let owner_of = owners(transaction, chunk.domain_id, &missing).await?;
        let undo: Vec<(&str, &str, i64)> = profiles
            .iter()
            .filter(|(at, _)| failed.contains(at))
            .flat_map(|&(at, profile)| {
                profile
                    .identities
                    .iter()
                    .filter(move |identity| {
                        is_inserted(identity.kind().as_str(), identity.normalized(), id_of[at])
                    })
                    .map(move |identity| {
                        (identity.kind().as_str(), identity.normalized(), id_of[at])
                    })
            })
            .collect();
        delete_owned(transaction, chunk.domain_id, &undo).await?;
        let created: Vec<CoreProfileRow<'_>> = profiles
            .iter()
            .filter(|(at, _)| !failed.contains(at))
            .map(|&(at, profile)| CoreProfileRow {
                id: id_of[at],
                fields: &profile.fields,
                names: final_map(&profile.fields.names),
                custom_fields: final_map(&profile.fields.custom_fields),
            })
            .collect();
        insert_profiles(transaction, chunk.domain_id, &created).await?;
        Ok(parsed
            .iter()
            .enumerate()
            .map(|(at, result)| match result {
                Err(errors) => Outcome::Failed(errors.clone()),
                Ok(profile) if failed.contains(&at) => Outcome::Failed(
                    profile
                        .identities
                        .iter()
                        .filter(|identity| {
                            !is_inserted(identity.kind().as_str(), identity.normalized(), id_of[at])
                        })
                        .map(|identity| {
                            let key = (
                                identity.kind().as_str().to_owned(),
                                identity.normalized().to_owned(),
                            );
                            conflict_error(
                                identity.path(),
                                identity.kind().as_str(),
                                owner_of.get(&key).copied(),
                            )
                        })
                        .collect(),
                ),
                Ok(profile) => {
                    let mut fields = Map::new();
                    fields.insert("core-profile-id".to_owned(), json!(id_of[at]));
                    let identities = profile
                        .identities
                        .iter()
                        .map(|identity| identity.to_json())
                        .collect();
                    fields.insert("identities".to_owned(), Value::Array(identities));
                    Outcome::Succeeded(fields)
                }
            })
            .collect())
    }
}
