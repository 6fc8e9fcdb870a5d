//! Profile events of a chunk (EXT): one per core or app profile the chunk created or changed,
//! built from the changes the handler reported and written to the outbox in the chunk's
//! transaction, in the compact form the relay spells out.

use crate::{ChunkContext, ProfileChangeNote};
use std::time::{SystemTime, UNIX_EPOCH};
use userhub_domain::events::{ChunkEvents, EventChange};

/// The chunk's events, in the order the handler reported the changes; none when the task
/// skips triggers.
pub(crate) fn chunk_events(chunk: &ChunkContext, changes: &[ProfileChangeNote]) -> ChunkEvents {
    let occurred_at = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_millis() as i64);
    let changes = if chunk.options.skip_triggers {
        Vec::new()
    } else {
        changes
            .iter()
            .map(|change| EventChange {
                core_profile_id: change.core_profile_id,
                action: change.change,
                changed_fields: change.changed_fields.join(","),
                app: change
                    .app
                    .as_ref()
                    .map(|app| (app.pid.clone(), app.app_id.clone())),
                version: change.version,
            })
            .collect()
    };
    ChunkEvents {
        task_id: chunk.task_id,
        chunk_no: chunk.chunk_no,
        domain: chunk.domain.clone(),
        workflow_id: chunk.options.workflow_id,
        occurred_at,
        changes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppProfileRef;
    use userhub_domain::events::{ProfileChange, ProfileEvent};
    use userhub_domain::{CoreProfileId, TaskId, TaskOptions};

    fn chunk(options: TaskOptions) -> ChunkContext {
        ChunkContext {
            task_id: TaskId::from_parts(9, 1),
            domain_id: userhub_domain::DomainId::new(1),
            domain: "demo".into(),
            chunk_no: 3,
            options,
            replica: None,
        }
    }

    fn id(n: i64) -> CoreProfileId {
        CoreProfileId::new(n).expect("a valid id")
    }

    fn note(n: i64, created: bool, fields: &[&'static str]) -> ProfileChangeNote {
        ProfileChangeNote::core(id(n), created, fields.to_vec())
    }

    #[test]
    fn one_event_per_reported_change_with_the_task_s_workflow() {
        let options = TaskOptions {
            workflow_id: Some(77),
            ..TaskOptions::default()
        };
        let events = chunk_events(
            &chunk(options),
            &[
                note(7, false, &["names", "tags"]),
                note(10, true, &["identities", "last_city"]),
            ],
        );
        let bodies: Vec<ProfileEvent> = events.events().collect();
        assert_eq!(bodies.len(), 2);
        assert_eq!(bodies[0].core_profile_id, id(7));
        assert_eq!(bodies[0].changed_fields, ["names", "tags"]);
        assert_eq!(bodies[0].workflow_id, Some(77));
        assert_eq!(bodies[1].action, ProfileChange::Created);
        assert_eq!(bodies[1].routing_key(), "demo.created");
        assert_ne!(
            bodies[0].event_id, bodies[1].event_id,
            "event ids are unique"
        );
    }

    #[test]
    fn app_profile_events_name_the_pid_its_app_and_owner() {
        let change = ProfileChangeNote {
            core_profile_id: id(7),
            app: Some(AppProfileRef {
                pid: "demo_profile_a".into(),
                app_id: "game".into(),
            }),
            change: ProfileChange::Updated,
            changed_fields: vec!["user_level", "version"],
            version: userhub_domain::values::Version::new(8),
        };
        let events = chunk_events(&chunk(TaskOptions::default()), &[change]);
        let event = events.events().next().unwrap();
        assert_eq!(event.core_profile_id, id(7));
        assert_eq!(event.pid.as_deref(), Some("demo_profile_a"));
        assert_eq!(event.app_id.as_deref(), Some("game"));
        assert_eq!(event.routing_key(), "demo.app.updated");
        assert_eq!(event.version, userhub_domain::values::Version::new(8));
    }

    #[test]
    fn skip_triggers_publishes_nothing() {
        let skip = TaskOptions {
            skip_triggers: true,
            ..TaskOptions::default()
        };
        let events = chunk_events(&chunk(skip), &[note(7, false, &["age"])]);
        assert!(events.changes.is_empty());
    }

    #[test]
    fn a_deleted_profile_is_routed_as_deleted() {
        let app = AppProfileRef {
            pid: "demo_profile_a".into(),
            app_id: "game".into(),
        };
        let notes = [
            ProfileChangeNote::deleted(id(7), None),
            ProfileChangeNote::deleted(id(7), Some(app)),
        ];
        let events = chunk_events(&chunk(TaskOptions::default()), &notes);
        let keys: Vec<String> = events.events().map(|event| event.routing_key()).collect();
        assert_eq!(keys, ["demo.deleted", "demo.app.deleted"]);
    }
}
