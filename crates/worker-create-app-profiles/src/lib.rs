//! `create_app_profiles` (EXT): one app profile per core profile and app, a chunk at a time
//! with one insert; an existing pair is `ALREADY_EXISTS` naming the existing pid.

use serde_json::{Map, json};
use std::collections::HashSet;
use userhub_domain::ids::new_app_profile_pid;
use userhub_domain::profile::app::{NewAppProfile, parse_new_app_profile};
use userhub_domain::{ErrorCode, FieldError, TaskAction};
use userhub_store::app_profiles::{AppProfileKey, AppProfileRow, existing_pids, insert_new};
use userhub_store::core_profiles::existing_ids;
use userhub_store::{StoreError, Transaction};
use userhub_worker_runtime::{ChunkContext, Outcome, TaskHandler, WorkRecord};

/// The handler of `create_app_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct CreateAppProfiles;

fn parse(record: &WorkRecord) -> Result<NewAppProfile, Vec<FieldError>> {
    record
        .value()
        .and_then(|value| parse_new_app_profile(&value))
}

impl TaskHandler for CreateAppProfiles {
    fn action(&self) -> TaskAction {
        TaskAction::CreateAppProfiles
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [WorkRecord],
    ) -> Result<Vec<Outcome>, StoreError> {
        let parsed: Vec<Result<NewAppProfile, Vec<FieldError>>> =
            records.iter().map(parse).collect();
        let mut core_ids: Vec<i64> = parsed
            .iter()
            .flatten()
            .map(|profile| profile.core_profile_id.get())
            .collect();
        core_ids.sort_unstable();
        core_ids.dedup();
        let existing: HashSet<i64> = existing_ids(transaction, chunk.domain_id, &core_ids)
            .await?
            .into_iter()
            .collect();
        let candidates: Vec<(usize, &NewAppProfile, String)> = parsed
            .iter()
            .enumerate()
            .filter_map(|(at, profile)| profile.as_ref().ok().map(|profile| (at, profile)))
            .filter(|(_, profile)| existing.contains(&profile.core_profile_id.get()))
            .map(|(at, profile)| (at, profile, new_app_profile_pid(&chunk.domain)))
            .collect();
        let keys: Vec<AppProfileKey<'_>> = candidates
            .iter()
            .map(|(_, profile, pid)| AppProfileKey {
                pid,
                core_profile_id: profile.core_profile_id.get(),
                app_id: &profile.app_id,
            })
            .collect();
        let rows: Vec<AppProfileRow<'_>> = candidates
            .iter()
            .map(|(_, profile, pid)| AppProfileRow {
                pid,
                fields: &profile.fields,
                custom_fields: profile
                    .fields
                    .custom_fields
                    .as_ref()
                    .map(|patch| patch.apply(&Map::new())),
            })
            .collect();
        let inserted: HashSet<String> = insert_new(transaction, chunk.domain_id, &keys, &rows)
            .await?
            .into_iter()
            .collect();
        let taken: Vec<(i64, &str)> = candidates
            .iter()
            .filter(|(_, _, pid)| !inserted.contains(pid))
            .map(|(_, profile, _)| (profile.core_profile_id.get(), profile.app_id.as_str()))
            .collect();
        let owners = existing_pids(transaction, chunk.domain_id, &taken).await?;
        let pid_of: std::collections::HashMap<usize, &str> = candidates
            .iter()
            .map(|(at, _, pid)| (*at, pid.as_str()))
            .collect();
        Ok(parsed
            .iter()
            .enumerate()
            .map(|(at, result)| {
                let profile = match result {
                    Err(errors) => return Outcome::Failed(errors.clone()),
                    Ok(profile) => profile,
                };
                let core = profile.core_profile_id.get();
                match pid_of.get(&at) {
                    None => Outcome::Failed(vec![FieldError::new(
                        "core-profile-id",
                        ErrorCode::NotFound,
                        format!("core profile {core} does not exist"),
                    )]),
                    Some(pid) if inserted.contains(*pid) => {
                        let mut fields = Map::new();
                        fields.insert("pid".to_owned(), json!(pid));
                        fields.insert("core-profile-id".to_owned(), json!(core));
                        fields.insert("app_id".to_owned(), json!(profile.app_id));
                        Outcome::Succeeded(fields)
                    }
                    Some(_) => {
                        let existing = owners.get(&(core, profile.app_id.clone()));
                        let error = FieldError::new(
                            "app_id",
                            ErrorCode::AlreadyExists,
                            format!(
                                "core profile {core} already has an app profile for app `{}`",
                                profile.app_id
                            ),
                        );
                        Outcome::Failed(vec![match existing {
                            Some(pid) => error.with_details(json!({ "pid": pid })),
                            None => error,
                        }])
                    }
                }
            })
            .collect())
    }
}
