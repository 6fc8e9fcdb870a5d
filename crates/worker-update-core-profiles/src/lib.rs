//! `update_core_profiles`: present fields replace, absent stay, `null` clears, `names` and
//! `custom_fields` merge per key, `tags` replace, identities are added. Records of one profile
//! are folded in input order and each profile is written once, by one set-based statement.

mod identities;

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use userhub_domain::limits::MAX_CUSTOM_FIELDS;
use userhub_domain::profile::core::{
    CoreProfileFields, CoreProfileUpdate, parse_core_profile_update,
};
use userhub_domain::{ErrorCode, FieldError, IdentityKind, TaskAction};
use userhub_store::core_profiles::{CoreProfileRow, LockedProfile, lock_profiles, update_profiles};
use userhub_store::{StoreError, Transaction};
use userhub_worker_runtime::{ChunkContext, Outcome, TaskHandler, WorkRecord};

/// The handler of `update_core_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct UpdateCoreProfiles;

fn parse(record: &WorkRecord) -> Result<CoreProfileUpdate, Vec<FieldError>> {
    record
        .value()
        .and_then(|value| parse_core_profile_update(&value))
}

/// Checks that need the profile's current state, in input order: the profile exists, it keeps
/// at most one uid, and its custom fields stay within the limit.
fn check_against_profiles(
    updates: &[Result<CoreProfileUpdate, Vec<FieldError>>],
    locked: &HashMap<i64, LockedProfile>,
) -> Vec<Option<Vec<FieldError>>> {
    let mut running: HashMap<i64, (Option<String>, Map<String, Value>)> = HashMap::new();
    updates
        .iter()
        .map(|update| {
            let update = match update {
                Err(errors) => return Some(errors.clone()),
                Ok(update) => update,
            };
            let id = update.id.get();
            let Some(profile) = locked.get(&id) else {
                let message = format!("core profile {id} does not exist");
                return Some(vec![FieldError::new(
                    "core-profile-id",
                    ErrorCode::NotFound,
                    message,
                )]);
            };
            let (uid, custom_fields) = running
                .entry(id)
                .or_insert_with(|| (profile.uid.clone(), profile.custom_fields.clone()));
            let new_uid = update
                .identities
                .iter()
                .find(|identity| identity.kind() == IdentityKind::Uid);
            if let (Some(identity), Some(existing)) = (new_uid, uid.as_ref()) {
                if identity.normalized() != existing {
                    let message = format!(
                        "core profile {id} already has a different uid; a profile has at most one"
                    );
                    return Some(vec![FieldError::new(
                        identity.path(),
                        ErrorCode::InvalidIdentity,
                        message,
                    )]);
                }
            }
            let merged = update
                .fields
                .custom_fields
                .as_ref()
                .map(|patch| patch.apply(custom_fields));
            if merged
                .as_ref()
                .is_some_and(|merged| merged.len() > MAX_CUSTOM_FIELDS)
            {
                let message =
                    format!("a profile may have at most {MAX_CUSTOM_FIELDS} custom fields");
                return Some(vec![FieldError::new(
                    "custom_fields",
                    ErrorCode::ExceededCountLimit,
                    message,
                )]);
            }
            if let Some(merged) = merged {
                *custom_fields = merged;
            }
            if let Some(identity) = new_uid {
                *uid = Some(identity.normalized().to_owned());
            }
            None
        })
        .collect()
}

impl TaskHandler for UpdateCoreProfiles {
    fn action(&self) -> TaskAction {
        TaskAction::UpdateCoreProfiles
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [WorkRecord],
    ) -> Result<Vec<Outcome>, StoreError> {
        let updates: Vec<Result<CoreProfileUpdate, Vec<FieldError>>> =
            records.iter().map(parse).collect();
        let mut ids: Vec<i64> = updates
            .iter()
            .filter_map(|update| update.as_ref().ok())
            .map(|u| u.id.get())
            .collect();
        ids.sort_unstable();
        ids.dedup();
        let locked: HashMap<i64, LockedProfile> = lock_profiles(transaction, chunk.domain_id, &ids)
            .await?
            .into_iter()
            .map(|profile| (profile.id, profile))
            .collect();
        let mut failures = check_against_profiles(&updates, &locked);
        let survivors: Vec<(usize, &CoreProfileUpdate)> = updates
            .iter()
            .enumerate()
            .filter(|(at, _)| failures[*at].is_none())
            .filter_map(|(at, update)| update.as_ref().ok().map(|update| (at, update)))
            .collect();
        let identity_failures =
            identities::add_identities(transaction, chunk.domain_id, &survivors).await?;
        for (at, errors) in identity_failures {
            failures[at] = Some(errors);
        }
        // Fold the surviving records of each profile in input order.
        let mut folded: BTreeMap<i64, CoreProfileFields> = BTreeMap::new();
        for (at, update) in &survivors {
            if failures[*at].is_some() {
                continue;
            }
            let fields = folded.remove(&update.id.get()).unwrap_or_default();
            folded.insert(update.id.get(), fields.overlay(update.fields.clone()));
        }
        let rows: Vec<CoreProfileRow<'_>> = folded
            .iter()
            .map(|(id, fields)| {
                let profile = &locked[id];
                CoreProfileRow {
                    id: *id,
                    fields,
                    names: fields
                        .names
                        .as_ref()
                        .map(|patch| patch.apply(&profile.names)),
                    custom_fields: fields
                        .custom_fields
                        .as_ref()
                        .map(|patch| patch.apply(&profile.custom_fields)),
                }
            })
            .collect();
        update_profiles(transaction, chunk.domain_id, &rows).await?;
        Ok(updates
            .iter()
            .zip(failures)
            .map(|(update, failure)| match (update, failure) {
                (_, Some(errors)) => Outcome::Failed(errors),
                (Err(errors), None) => Outcome::Failed(errors.clone()),
                (Ok(update), None) => {
                    let mut fields = Map::new();
                    fields.insert("core-profile-id".to_owned(), json!(update.id.get()));
                    fields.insert("updated_fields".to_owned(), json!(update.updated_fields));
                    Outcome::Succeeded(fields)
                }
            })
            .collect())
    }
}
