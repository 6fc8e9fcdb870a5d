//! Profile events of a chunk (EXT): one per core or app profile the chunk created or changed,
//! derived from the handler's successful outcomes and written to the outbox in the chunk's
//! transaction.

use crate::{ChunkContext, Outcome, WorkRecord};
use serde::de::IgnoredAny;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{SystemTime, UNIX_EPOCH};
use userhub_domain::TaskAction;
use userhub_domain::events::{PROFILE_EVENT_SCHEMA_V1, ProfileChange, ProfileEvent};
use userhub_store::profile_events::NewEvent;

/// The core profile and app of app profiles, by pid (app updates' results name only the pid).
pub(crate) type AppOwners = HashMap<String, (i64, String)>;

/// Whether tasks of this type change profiles and so publish events.
pub(crate) fn publishes_events(action: TaskAction) -> bool {
    matches!(
        action,
        TaskAction::CreateCoreProfiles
            | TaskAction::UpdateCoreProfiles
            | TaskAction::UpsertCoreProfiles
            | TaskAction::CreateAppProfiles
            | TaskAction::UpdateAppProfiles
    )
}

/// The pids whose owners the events of an app-profile update need.
pub(crate) fn updated_pids<'a>(
    action: TaskAction,
    chunk: &ChunkContext,
    outcomes: &'a [Outcome],
) -> Vec<&'a str> {
    if action != TaskAction::UpdateAppProfiles || chunk.options.skip_triggers {
        return Vec::new();
    }
    outcomes
        .iter()
        .filter_map(|outcome| match outcome {
            Outcome::Succeeded(fields) => fields.get("pid").and_then(Value::as_str),
            _ => None,
        })
        .collect()
}

/// Which profile a record changed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct Subject {
    core_profile_id: i64,
    app: Option<(String, String)>,
}

/// What one record did to its profile, if anything.
fn change_of(
    action: TaskAction,
    record: &WorkRecord,
    fields: &Map<String, Value>,
    owners: &AppOwners,
) -> Option<(Subject, ProfileChange, Vec<String>)> {
    let pid = fields.get("pid").and_then(Value::as_str);
    let subject = match (action, pid) {
        (TaskAction::CreateAppProfiles, Some(pid)) => Subject {
            core_profile_id: fields.get("core-profile-id")?.as_i64()?,
            app: Some((pid.to_owned(), fields.get("app_id")?.as_str()?.to_owned())),
        },
        (TaskAction::UpdateAppProfiles, Some(pid)) => {
            let (core_profile_id, app_id) = owners.get(pid)?;
            Subject {
                core_profile_id: *core_profile_id,
                app: Some((pid.to_owned(), app_id.clone())),
            }
        }
        _ => Subject {
            core_profile_id: fields.get("core-profile-id")?.as_i64()?,
            app: None,
        },
    };
    let created = match action {
        TaskAction::CreateCoreProfiles | TaskAction::CreateAppProfiles => true,
        TaskAction::UpsertCoreProfiles => {
            fields.get("result").and_then(Value::as_str) == Some("created")
        }
        _ => false,
    };
    if created {
        let input: BTreeMap<String, IgnoredAny> =
            serde_json::from_str(record.input.get()).unwrap_or_default();
        return Some((subject, ProfileChange::Created, input.into_keys().collect()));
    }
    let changed: Vec<String> = fields
        .get("updated_fields")?
        .as_array()?
        .iter()
        .filter_map(|field| field.as_str().map(str::to_owned))
        .collect();
    (!changed.is_empty()).then_some((subject, ProfileChange::Updated, changed))
}

/// The chunk's events, one per changed profile in the order of first change: several records of
/// one profile merge (created wins, fields unite).
pub(crate) fn chunk_events<'a>(
    action: TaskAction,
    chunk: &ChunkContext,
    handled: impl Iterator<Item = (&'a WorkRecord, &'a Outcome)>,
    owners: &AppOwners,
) -> Vec<NewEvent> {
    if !publishes_events(action) || chunk.options.skip_triggers {
        return Vec::new();
    }
    let mut order: Vec<Subject> = Vec::new();
    let mut changes: HashMap<Subject, (ProfileChange, BTreeSet<String>)> = HashMap::new();
    for (record, outcome) in handled {
        let Outcome::Succeeded(fields) = outcome else {
            continue;
        };
        let Some((subject, change, fields)) = change_of(action, record, fields, owners) else {
            continue;
        };
        let entry = changes.entry(subject.clone()).or_insert_with(|| {
            order.push(subject);
            (change, BTreeSet::new())
        });
        if change == ProfileChange::Created {
            entry.0 = ProfileChange::Created;
        }
        entry.1.extend(fields);
    }
    let occurred_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64);
    order
        .into_iter()
        .enumerate()
        .filter_map(|(n, subject)| {
            let (change, fields) = changes.remove(&subject)?;
            let (pid, app_id) = subject
                .app
                .map_or((None, None), |(pid, app)| (Some(pid), Some(app)));
            let event = ProfileEvent {
                schema: PROFILE_EVENT_SCHEMA_V1.to_owned(),
                event_id: format!("{}.{}.{n}", chunk.task_id, chunk.chunk_no),
                domain: chunk.domain.clone(),
                core_profile_id: subject.core_profile_id,
                action: change,
                changed_fields: fields.into_iter().collect(),
                pid,
                app_id,
                workflow_id: chunk.options.workflow_id,
                task_id: chunk.task_id,
                occurred_at,
            };
            let body = serde_json::to_string(&event).ok()?;
            Some((event.event_id.clone(), event.routing_key(), body))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use serde_json::value::RawValue;
    use userhub_domain::{TaskId, TaskOptions};

    fn record(text: &str) -> WorkRecord {
        WorkRecord {
            index: 0,
            line: None,
            input: RawValue::from_string(text.to_owned()).unwrap(),
        }
    }

    fn fields(value: Value) -> Outcome {
        Outcome::Succeeded(value.as_object().unwrap().clone())
    }

    fn chunk(options: TaskOptions) -> ChunkContext {
        ChunkContext {
            task_id: TaskId::from_parts(9, 1),
            domain_id: 1,
            domain: "demo".into(),
            chunk_no: 3,
            options,
        }
    }

    #[test]
    fn one_event_per_changed_profile_and_none_for_failures_or_no_change() {
        let records = [
            record(r#"{"core-profile-id":7,"names":{"first_name":"A"}}"#),
            record(r#"{"core-profile-id":7,"tags":[]}"#),
            record(r#"{"core-profile-id":8}"#),
            record(r#"{"identities":[{"email":"new@x.io"}],"last_city":"Pune"}"#),
            record(r#"{"core-profile-id":9}"#),
        ];
        let outcomes = [
            fields(json!({"core-profile-id": 7, "result": "updated", "updated_fields": ["names"]})),
            fields(json!({"core-profile-id": 7, "result": "updated", "updated_fields": ["tags"]})),
            fields(json!({"core-profile-id": 8, "result": "updated", "updated_fields": []})),
            fields(json!({"core-profile-id": 10, "result": "created", "identities": []})),
            Outcome::Failed(Vec::new()),
        ];
        let options = TaskOptions {
            workflow_id: Some(77),
            ..TaskOptions::default()
        };
        let events = chunk_events(
            TaskAction::UpsertCoreProfiles,
            &chunk(options),
            records.iter().zip(outcomes.iter()),
            &AppOwners::new(),
        );
        let bodies: Vec<ProfileEvent> = events
            .iter()
            .map(|(_, _, body)| serde_json::from_str(body).unwrap())
            .collect();
        assert_eq!(bodies.len(), 2, "{bodies:?}");
        assert_eq!(bodies[0].core_profile_id, 7);
        assert_eq!(bodies[0].changed_fields, ["names", "tags"]);
        assert_eq!(bodies[0].workflow_id, Some(77));
        assert_eq!(bodies[1].action, ProfileChange::Created);
        assert_eq!(bodies[1].changed_fields, ["identities", "last_city"]);
        assert_eq!(events[1].1, "demo.created");
        assert_ne!(events[0].0, events[1].0, "event ids are unique");
    }

    #[test]
    fn app_profile_events_name_the_pid_its_app_and_owner() {
        let records = [
            record(r#"{"core-profile-id":7,"app_id":"game","user_level":3}"#),
            record(r#"{"pid":"demo_profile_a","user_level":4}"#),
        ];
        let created = [fields(
            json!({"pid": "demo_profile_a", "core-profile-id": 7, "app_id": "game"}),
        )];
        let updated = [fields(
            json!({"pid": "demo_profile_a", "updated_fields": ["user_level"]}),
        )];
        let created = chunk_events(
            TaskAction::CreateAppProfiles,
            &chunk(TaskOptions::default()),
            records[..1].iter().zip(created.iter()),
            &AppOwners::new(),
        );
        assert_eq!(created[0].1, "demo.app.created");
        let owners = AppOwners::from([("demo_profile_a".to_owned(), (7, "game".to_owned()))]);
        assert_eq!(
            updated_pids(
                TaskAction::UpdateAppProfiles,
                &chunk(TaskOptions::default()),
                &updated
            ),
            ["demo_profile_a"]
        );
        let events = chunk_events(
            TaskAction::UpdateAppProfiles,
            &chunk(TaskOptions::default()),
            records[1..].iter().zip(updated.iter()),
            &owners,
        );
        let event: ProfileEvent = serde_json::from_str(&events[0].2).unwrap();
        assert_eq!(event.core_profile_id, 7);
        assert_eq!(event.pid.as_deref(), Some("demo_profile_a"));
        assert_eq!(event.app_id.as_deref(), Some("game"));
        assert_eq!(event.changed_fields, ["user_level"]);
        assert_eq!(events[0].1, "demo.app.updated");
    }

    #[test]
    fn skip_triggers_and_read_only_task_types_publish_nothing() {
        let records = [record(r#"{"core-profile-id":7,"age":3}"#)];
        let outcomes = [fields(
            json!({"core-profile-id": 7, "updated_fields": ["age"]}),
        )];
        let skip = TaskOptions {
            skip_triggers: true,
            ..TaskOptions::default()
        };
        assert!(
            chunk_events(
                TaskAction::UpdateCoreProfiles,
                &chunk(skip),
                records.iter().zip(outcomes.iter()),
                &AppOwners::new()
            )
            .is_empty()
        );
        assert!(
            chunk_events(
                TaskAction::GetCoreProfiles,
                &chunk(TaskOptions::default()),
                records.iter().zip(outcomes.iter()),
                &AppOwners::new()
            )
            .is_empty()
        );
        assert_eq!(
            chunk_events(
                TaskAction::UpdateCoreProfiles,
                &chunk(TaskOptions::default()),
                records.iter().zip(outcomes.iter()),
                &AppOwners::new()
            )
            .len(),
            1
        );
    }
}
