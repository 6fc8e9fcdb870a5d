//! `update_app_profiles`: the update semantics of core profiles for app profiles; records of one
//! app profile are folded in input order and each profile is written once, by one statement.

use serde_json::{Map, Value, json};
use std::collections::{BTreeMap, HashMap};
use userhub_domain::limits::MAX_CUSTOM_FIELDS;
use userhub_domain::profile::app::{AppProfileFields, AppProfileUpdate, parse_app_profile_update};
use userhub_domain::{ErrorCode, FieldError, TaskAction};
use userhub_store::app_profiles::{AppProfileRow, lock_profiles, update_profiles};
use userhub_store::{StoreError, Transaction};
use userhub_worker_runtime::{ChunkContext, Outcome, TaskHandler, WorkRecord};

/// The handler of `update_app_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct UpdateAppProfiles;

fn parse(record: &WorkRecord) -> Result<AppProfileUpdate, Vec<FieldError>> {
    record
        .value()
        .and_then(|value| parse_app_profile_update(&value))
}

/// Checks against the stored profiles, in input order: the profile exists and its custom
/// fields stay within the limit.
fn check(
    updates: &[Result<AppProfileUpdate, Vec<FieldError>>],
    locked: &HashMap<String, Map<String, Value>>,
) -> Vec<Option<Vec<FieldError>>> {
    let mut running: HashMap<&str, Map<String, Value>> = HashMap::new();
    updates
        .iter()
        .map(|update| {
            let update = match update {
                Err(errors) => return Some(errors.clone()),
                Ok(update) => update,
            };
            let Some(stored) = locked.get(&update.pid) else {
                let message = format!("app profile `{}` does not exist", update.pid);
                return Some(vec![FieldError::new("pid", ErrorCode::NotFound, message)]);
            };
            let custom_fields = running
                .entry(update.pid.as_str())
                .or_insert_with(|| stored.clone());
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
            None
        })
        .collect()
}

impl TaskHandler for UpdateAppProfiles {
    fn action(&self) -> TaskAction {
        TaskAction::UpdateAppProfiles
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [WorkRecord],
    ) -> Result<Vec<Outcome>, StoreError> {
        let updates: Vec<Result<AppProfileUpdate, Vec<FieldError>>> =
            records.iter().map(parse).collect();
        let mut pids: Vec<&str> = updates
            .iter()
            .flatten()
            .map(|update| update.pid.as_str())
            .collect();
        pids.sort_unstable();
        pids.dedup();
        let locked = lock_profiles(transaction, chunk.domain_id, &pids).await?;
        let failures = check(&updates, &locked);
        let mut folded: BTreeMap<&str, AppProfileFields> = BTreeMap::new();
        for (update, failure) in updates.iter().zip(&failures) {
            if let (Ok(update), None) = (update, failure) {
                let fields = folded.remove(update.pid.as_str()).unwrap_or_default();
                folded.insert(update.pid.as_str(), fields.overlay(update.fields.clone()));
            }
        }
        let rows: Vec<AppProfileRow<'_>> = folded
            .iter()
            .map(|(pid, fields)| AppProfileRow {
                pid,
                fields,
                custom_fields: fields
                    .custom_fields
                    .as_ref()
                    .map(|patch| patch.apply(&locked[*pid])),
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
                    fields.insert("pid".to_owned(), json!(update.pid));
                    fields.insert("updated_fields".to_owned(), json!(update.updated_fields));
                    Outcome::Succeeded(fields)
                }
            })
            .collect())
    }
}
