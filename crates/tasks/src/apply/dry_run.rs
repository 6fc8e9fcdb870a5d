//! Dry runs (EXT): the handler applies the chunk inside a savepoint that is rolled back, so the
//! records meet the real data (matching, conflicts, `NOT_FOUND`, `ALREADY_EXISTS`) and nothing
//! stays; each succeeded record's results line then says what it would do, with the old and
//! new value of every field an update would change (read before and after the rollback).

use crate::{Outcome, Preview, ProfileKey, TaskHandler};
use serde::Serialize;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap};
use userhub_domain::{CoreProfileId, DomainId};
use userhub_store::exports::{app_profiles, core_profiles};
use userhub_store::{StoreError, Transaction};

const SAVEPOINT: &str = "SAVEPOINT dry_run";
const ROLLBACK: &str = "ROLLBACK TO SAVEPOINT dry_run";

/// What a record of a dry run would do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum Would {
    #[serde(rename = "would_create")]
    Create,
    #[serde(rename = "would_update")]
    Update,
    /// It matched a profile and would leave it as it is.
    #[serde(rename = "would_change_nothing")]
    ChangeNothing,
}

/// A field's value before and after the record (`null`: not set).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldChange {
    pub old: Value,
    pub new: Value,
}

/// A succeeded record's results line in a dry run.
#[derive(Debug, Clone, Serialize)]
pub struct DryRunLine {
    pub dry_run: Would,
    #[serde(rename = "core-profile-id", skip_serializing_if = "Option::is_none")]
    pub core_profile_id: Option<CoreProfileId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// For `would_update`: every field the record would change.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub changes: BTreeMap<&'static str, FieldChange>,
}

/// A results line: the handler's own, or a dry run's.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum ResultLine<T> {
    Applied(T),
    DryRun(DryRunLine),
}

/// Starts the part of a dry run that is rolled back.
pub async fn begin(transaction: &Transaction<'_>) -> Result<(), StoreError> {
    transaction.batch_execute(SAVEPOINT).await?;
    Ok(())
}

/// Profiles as an export shows them, by key, each as its JSON members.
type Snapshot = HashMap<ProfileKey, Map<String, Value>>;

async fn snapshot(
    transaction: &Transaction<'_>,
    domain_id: DomainId,
    keys: &[ProfileKey],
) -> Result<Snapshot, StoreError> {
    let ids: Vec<CoreProfileId> = keys
        .iter()
        .filter_map(|key| match key {
            ProfileKey::Core(id) => Some(*id),
            ProfileKey::App(_) => None,
        })
        .collect();
    let pids: Vec<&str> = keys
        .iter()
        .filter_map(|key| match key {
            ProfileKey::App(pid) => Some(pid.as_str()),
            ProfileKey::Core(_) => None,
        })
        .collect();
    let mut profiles = Snapshot::new();
    for view in core_profiles(transaction, domain_id, &ids).await? {
        profiles.insert(ProfileKey::Core(view.id), members(&view)?);
    }
    for view in app_profiles(transaction, domain_id, &pids).await? {
        profiles.insert(ProfileKey::App(view.pid.clone()), members(&view)?);
    }
    Ok(profiles)
}

fn members(view: &impl Serialize) -> Result<Map<String, Value>, StoreError> {
    match serde_json::to_value(view) {
        Ok(Value::Object(members)) => Ok(members),
        Ok(_) => Err(StoreError::Corrupt(
            "a profile view is not an object".into(),
        )),
        Err(error) => Err(StoreError::Corrupt(error.to_string())),
    }
}

/// Reads what the handler changed, rolls it back, reads what was there, and turns every
/// succeeded record's outcome into what it would do.
pub async fn finish<H: TaskHandler>(
    handler: &H,
    transaction: &Transaction<'_>,
    domain_id: DomainId,
    outcomes: Vec<Outcome<H::Output>>,
) -> Result<Vec<Outcome<ResultLine<H::Output>>>, StoreError> {
    let previews: Vec<Option<Preview>> = outcomes
        .iter()
        .map(|outcome| match outcome {
            Outcome::Succeeded(output) => handler.preview(output),
            Outcome::Failed(_) => None,
        })
        .collect();
    let mut keys: Vec<ProfileKey> = previews
        .iter()
        .filter_map(|preview| match preview {
            Some(Preview::Update { key, .. }) => Some(key.clone()),
            _ => None,
        })
        .collect();
    keys.sort();
    keys.dedup();
    let after = snapshot(transaction, domain_id, &keys).await?;
    transaction.batch_execute(ROLLBACK).await?;
    let before = snapshot(transaction, domain_id, &keys).await?;
    Ok(outcomes
        .into_iter()
        .zip(previews)
        .map(|(outcome, preview)| match (outcome, preview) {
            (Outcome::Failed(errors), _) => Outcome::Failed(errors),
            (Outcome::Succeeded(output), None) => Outcome::Succeeded(ResultLine::Applied(output)),
            (Outcome::Succeeded(_), Some(preview)) => {
                Outcome::Succeeded(ResultLine::DryRun(line(preview, &before, &after)))
            }
        })
        .collect())
}

fn line(preview: Preview, before: &Snapshot, after: &Snapshot) -> DryRunLine {
    let (key, fields) = match preview {
        Preview::Create => {
            return DryRunLine {
                dry_run: Would::Create,
                core_profile_id: None,
                pid: None,
                changes: BTreeMap::new(),
            };
        }
        Preview::Update { key, fields } => (key, fields),
    };
    let value = |profiles: &Snapshot, field: &str| {
        profiles
            .get(&key)
            .and_then(|members| members.get(field))
            .cloned()
            .unwrap_or(Value::Null)
    };
    // A field the handler wrote with the value it already had is no change: `would_update`
    // lists only fields whose exported value differs, so that `would_change_nothing` is said
    // exactly when the export would show the same profile.
    let changes: BTreeMap<&'static str, FieldChange> = fields
        .into_iter()
        .map(|field| {
            let change = FieldChange {
                old: value(before, field),
                new: value(after, field),
            };
            (field, change)
        })
        .filter(|(_, change)| change.old != change.new)
        .collect();
    let (core_profile_id, pid) = match key {
        // A profile an earlier record of the dry run created: its id is a throw-away one.
        ProfileKey::Core(id) if id.is_dry_run() => (None, None),
        ProfileKey::Core(id) => (Some(id), None),
        ProfileKey::App(pid) => (None, Some(pid)),
    };
    DryRunLine {
        dry_run: if changes.is_empty() {
            Would::ChangeNothing
        } else {
            Would::Update
        },
        core_profile_id,
        pid,
        changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snapshot_of(key: ProfileKey, members: Value) -> Snapshot {
        let Value::Object(members) = members else {
            panic!("not an object")
        };
        HashMap::from([(key, members)])
    }

    #[test]
    fn an_update_names_each_changed_field_with_its_old_and_new_value() {
        let key = ProfileKey::Core(CoreProfileId::new(7).expect("a valid id"));
        let before = snapshot_of(key.clone(), json!({"last_city": "Rome", "age": 30}));
        let after = snapshot_of(key.clone(), json!({"last_city": "Oslo", "tags": ["a"]}));
        let line = line(
            Preview::Update {
                key,
                fields: vec!["last_city", "tags", "age"],
            },
            &before,
            &after,
        );
        let text = serde_json::to_value(&line).unwrap();
        assert_eq!(
            text,
            json!({"dry_run": "would_update", "core-profile-id": 7, "changes": {
                "last_city": {"old": "Rome", "new": "Oslo"},
                "tags": {"old": null, "new": ["a"]},
                "age": {"old": 30, "new": null},
            }})
        );
    }

    #[test]
    fn a_field_written_with_the_value_it_had_is_no_change() {
        let key = ProfileKey::Core(CoreProfileId::new(9).expect("a valid id"));
        let same = json!({"last_city": "Rome", "custom_fields": {"seats": 1E2}});
        let before = snapshot_of(key.clone(), same.clone());
        let after = snapshot_of(key.clone(), same);
        let line = line(
            Preview::Update {
                key: key.clone(),
                fields: vec!["last_city", "custom_fields"],
            },
            &before,
            &after,
        );
        assert_eq!(
            serde_json::to_value(&line).unwrap(),
            json!({"dry_run": "would_change_nothing", "core-profile-id": 9})
        );
        let moved = snapshot_of(
            key.clone(),
            json!({"last_city": "Oslo", "custom_fields": {"seats": 1E2}}),
        );
        let partly = line_of(key, &before, &moved);
        assert_eq!(
            serde_json::to_value(&partly).unwrap(),
            json!({"dry_run": "would_update", "core-profile-id": 9,
                   "changes": {"last_city": {"old": "Rome", "new": "Oslo"}}})
        );
    }

    fn line_of(key: ProfileKey, before: &Snapshot, after: &Snapshot) -> DryRunLine {
        line(
            Preview::Update {
                key,
                fields: vec!["last_city", "custom_fields"],
            },
            before,
            after,
        )
    }

    #[test]
    fn creates_show_no_id_and_no_op_updates_say_so() {
        let none = Snapshot::new();
        let created = serde_json::to_value(line(Preview::Create, &none, &none)).unwrap();
        assert_eq!(created, json!({"dry_run": "would_create"}));
        let unchanged = line(
            Preview::Update {
                key: ProfileKey::App("demo_profile_a".into()),
                fields: Vec::new(),
            },
            &none,
            &none,
        );
        assert_eq!(
            serde_json::to_value(unchanged).unwrap(),
            json!({"dry_run": "would_change_nothing", "pid": "demo_profile_a"})
        );
    }
}
