//! Creating and updating app profiles (one per core profile and app), a chunk at a time, with
//! the same in-order rules as core profiles: a later record of the chunk sees what earlier ones
//! did, a pair created twice is `DUPLICATE_IN_PAYLOAD`, and an update that changes nothing
//! reports no field and keeps `updated_at`. The owning core profiles are locked for sharing
//! first, so a revert of them waits for the chunk (and sees its changes) or the chunk for it.

use crate::core::Indexed;
use std::collections::{HashMap, HashSet};
use userhub_domain::CoreProfileId;
use userhub_domain::DomainId;
use userhub_domain::ids::new_app_profile_pid;
use userhub_domain::profile::FieldSet;
use userhub_domain::profile::app::{AppField, AppProfilePatch, AppProfileState, NewAppProfile};
use userhub_domain::values::Version;
use userhub_domain::{ErrorCode, FieldError};
use userhub_store::app_profiles::{
    NewAppProfileRow, existing_pids, insert_new, lock_and_load, owners_of, update_changed,
};
use userhub_store::core_profiles::share_lock_ids;
use userhub_store::{GenericClient, StoreError};

/// What one app profile record did.
#[derive(Debug, Clone, PartialEq)]
pub enum AppOutcome {
    Created {
        pid: String,
        core_profile_id: CoreProfileId,
        app_id: String,
    },
    Updated {
        pid: String,
        changed: FieldSet<AppField>,
    },
    Failed(Vec<FieldError>),
}

/// One app profile the chunk created or changed (for profile events).
#[derive(Debug, Clone, PartialEq)]
pub struct AppChange {
    pub pid: String,
    pub core_profile_id: CoreProfileId,
    pub app_id: String,
    pub created: bool,
    pub changed: FieldSet<AppField>,
    /// Its external version after the chunk, if it has one.
    pub version: Option<Version>,
}

/// Every record's outcome in input order, and every app profile that changed.
#[derive(Debug, Default)]
pub struct AppApplied {
    pub outcomes: Vec<AppOutcome>,
    pub changes: Vec<AppChange>,
}

fn already_exists(core: CoreProfileId, app_id: &str, pid: Option<&String>) -> FieldError {
    let error = FieldError::new(
        "app_id",
        ErrorCode::AlreadyExists,
        format!("core profile {core} already has an app profile for app `{app_id}`"),
    );
    match pid {
        Some(pid) => error.with_details(serde_json::json!({ "pid": pid })),
        None => error,
    }
}

/// A record's new app profile: its position, pid, state and the fields it sets.
type Planned = (usize, String, AppProfileState, FieldSet<AppField>);

/// Each record's outcome before anything is written — refused (unknown owner, existing pair,
/// pair an earlier record creates, invalid field) or to be created — and the profiles to insert.
fn plan_creates(
    records: &[Indexed<'_, NewAppProfile>],
    cores: &HashSet<CoreProfileId>,
    stored: &HashMap<(CoreProfileId, String), String>,
    domain: &str,
) -> (Vec<AppOutcome>, Vec<Planned>) {
    let mut claimed: HashMap<(CoreProfileId, &str), u32> = HashMap::new();
    let mut outcomes: Vec<AppOutcome> = Vec::with_capacity(records.len());
    let mut states: Vec<Planned> = Vec::new();
    for (at, r) in records.iter().enumerate() {
        let core = r.record.core_profile_id;
        let app = r.record.app_id.as_str();
        if !cores.contains(&core) {
            outcomes.push(AppOutcome::Failed(vec![FieldError::new(
                "core-profile-id",
                ErrorCode::NotFound,
                format!("core profile {core} does not exist"),
            )]));
            continue;
        }
        if let Some(pid) = stored.get(&(core, app.to_owned())) {
            outcomes.push(AppOutcome::Failed(vec![already_exists(
                core,
                app,
                Some(pid),
            )]));
            continue;
        }
        if let Some(index) = claimed.get(&(core, app)) {
            outcomes.push(AppOutcome::Failed(vec![
                FieldError::new(
                    "app_id",
                    ErrorCode::DuplicateInPayload,
                    format!("record {index} of this payload already creates this app profile"),
                )
                .with_details(serde_json::json!({ "index": index })),
            ]));
            continue;
        }
        let mut state = AppProfileState::default();
        let changed = match state.apply(&r.record.fields) {
            Ok(changed) => changed,
            Err(error) => {
                outcomes.push(AppOutcome::Failed(vec![error]));
                continue;
            }
        };
        claimed.insert((core, app), r.index);
        let pid = new_app_profile_pid(domain);
        outcomes.push(AppOutcome::Created {
            pid: pid.clone(),
            core_profile_id: core,
            app_id: app.to_owned(),
        });
        states.push((at, pid, state, changed));
    }
    (outcomes, states)
}

/// Creates one app profile per record (`create_app_profiles`).
pub async fn create(
    client: &impl GenericClient,
    domain_id: DomainId,
    domain: &str,
    records: &[Indexed<'_, NewAppProfile>],
) -> Result<AppApplied, StoreError> {
    let mut core_ids: Vec<CoreProfileId> =
        records.iter().map(|r| r.record.core_profile_id).collect();
    core_ids.sort_unstable();
    core_ids.dedup();
    // The owners first, for sharing, as a revert locks them (core before app rows everywhere).
    let cores: HashSet<CoreProfileId> = share_lock_ids(client, domain_id, &core_ids)
        .await?
        .into_iter()
        .collect();
    let pairs: Vec<(CoreProfileId, &str)> = records
        .iter()
        .map(|r| (r.record.core_profile_id, r.record.app_id.as_str()))
        .collect();
    let stored = existing_pids(client, domain_id, &pairs).await?;
    let (mut outcomes, states) = plan_creates(records, &cores, &stored, domain);
    let rows: Vec<NewAppProfileRow<'_>> = states
        .iter()
        .map(|(at, pid, state, _)| NewAppProfileRow {
            pid,
            core_profile_id: records[*at].record.core_profile_id,
            app_id: &records[*at].record.app_id,
            state,
        })
        .collect();
    let inserted: HashSet<String> = insert_new(client, domain_id, &rows)
        .await?
        .into_iter()
        .collect();
    // A concurrent chunk created some pairs first: those records already exist.
    let raced: Vec<(CoreProfileId, &str)> = rows
        .iter()
        .filter(|row| !inserted.contains(row.pid))
        .map(|row| (row.core_profile_id, row.app_id))
        .collect();
    let winners = existing_pids(client, domain_id, &raced).await?;
    let mut changes = Vec::new();
    for (at, pid, state, changed) in &states {
        let r = &records[*at];
        let core = r.record.core_profile_id;
        if inserted.contains(pid) {
            changes.push(AppChange {
                pid: pid.clone(),
                core_profile_id: core,
                app_id: r.record.app_id.clone(),
                created: true,
                changed: *changed,
                version: state.version,
            });
        } else {
            let winner = winners.get(&(core, r.record.app_id.clone()));
            outcomes[*at] =
                AppOutcome::Failed(vec![already_exists(core, &r.record.app_id, winner)]);
        }
    }
    Ok(AppApplied { outcomes, changes })
}

/// Applies each record to its app profile (`update_app_profiles`).
pub async fn update(
    client: &impl GenericClient,
    domain_id: DomainId,
    records: &[Indexed<'_, AppProfilePatch>],
) -> Result<AppApplied, StoreError> {
    let mut pids: Vec<&str> = records.iter().map(|r| r.record.pid.as_str()).collect();
    pids.sort_unstable();
    pids.dedup();
    // The owners first, for sharing, as a revert locks them (core before app rows everywhere).
    let mut owners: Vec<CoreProfileId> = owners_of(client, domain_id, &pids)
        .await?
        .into_values()
        .map(|(core, _)| core)
        .collect();
    owners.sort_unstable();
    owners.dedup();
    share_lock_ids(client, domain_id, &owners).await?;
    let mut loaded: HashMap<String, (CoreProfileId, String, AppProfileState, FieldSet<AppField>)> =
        lock_and_load(client, domain_id, &pids)
            .await?
            .into_iter()
            .map(|profile| {
                (
                    profile.pid,
                    (
                        profile.core_profile_id,
                        profile.app_id,
                        profile.state,
                        FieldSet::default(),
                    ),
                )
            })
            .collect();
    let mut order: Vec<String> = Vec::new();
    let outcomes: Vec<AppOutcome> = records
        .iter()
        .map(|r| {
            let pid = &r.record.pid;
            let Some((_, _, state, total)) = loaded.get_mut(pid) else {
                return AppOutcome::Failed(vec![FieldError::new(
                    "pid",
                    ErrorCode::NotFound,
                    format!("app profile `{pid}` does not exist"),
                )]);
            };
            let mut next = state.clone();
            match next.apply(&r.record.fields) {
                Err(error) => AppOutcome::Failed(vec![error]),
                Ok(changed) => {
                    *state = next;
                    if !changed.is_empty() && total.is_empty() {
                        order.push(pid.clone());
                    }
                    *total = total.union(changed);
                    AppOutcome::Updated {
                        pid: pid.clone(),
                        changed,
                    }
                }
            }
        })
        .collect();
    let writes: Vec<(&str, &AppProfileState, FieldSet<AppField>)> = order
        .iter()
        .filter_map(|pid| {
            let (_, _, state, changed) = loaded.get(pid)?;
            Some((pid.as_str(), state, *changed))
        })
        .collect();
    update_changed(client, domain_id, &writes).await?;
    let changes = order
        .iter()
        .filter_map(|pid| {
            let (core, app, state, changed) = loaded.remove(pid)?;
            Some(AppChange {
                pid: pid.clone(),
                core_profile_id: core,
                app_id: app,
                created: false,
                changed,
                version: state.version,
            })
        })
        .collect();
    Ok(AppApplied { outcomes, changes })
}
