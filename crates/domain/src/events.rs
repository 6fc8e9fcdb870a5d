//! Profile events (EXT): what one task changed in one profile, for downstream workflows. Workers
//! write them to an outbox in the chunk's transaction; a relay publishes them to the
//! `{prefix}.profile-events` topic exchange with routing key `{domain}.{change}` for core
//! profiles and `{domain}.app.{change}` for app profiles — by default as batches (one message
//! per chunk and routing key, [`batch_body`]), else one message per event.

mod published;

pub use published::PublishedEvent;

use crate::TaskId;
use crate::values::Version;
use serde::{Deserialize, Serialize};

/// The `schema` value of every profile event.
pub const PROFILE_EVENT_SCHEMA_V1: &str = "userhub.profile_event.v1";
/// The `schema` value of a message carrying several events of one chunk and routing key.
pub const PROFILE_EVENT_BATCH_SCHEMA_V1: &str = "userhub.profile_event_batch.v1";

/// How profile events travel to the exchange.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventMessages {
    /// One message per chunk and routing key, holding that chunk's events
    /// (`userhub.profile_event_batch.v1`): a broker message per profile costs more than
    /// importing the profile.
    #[default]
    Batch,
    /// One message per event (`userhub.profile_event.v1`), for consumers written for it.
    Single,
}

/// A batch message's body: `{"schema", "batch_id", "count", "events": [...]}` around event
/// bodies already serialised (they are copied, not parsed again). `batch_id` is stable across
/// redeliveries, like the event ids inside.
pub fn batch_body(batch_id: &str, events: &[&str]) -> String {
    let length = events.iter().map(|event| event.len() + 1).sum::<usize>();
    let mut body = String::with_capacity(length + batch_id.len() + 96);
    body.push_str("{\"schema\":\"");
    body.push_str(PROFILE_EVENT_BATCH_SCHEMA_V1);
    body.push_str("\",\"batch_id\":");
    body.push_str(&serde_json::Value::from(batch_id).to_string());
    body.push_str(",\"count\":");
    body.push_str(&events.len().to_string());
    body.push_str(",\"events\":[");
    body.push_str(&events.join(","));
    body.push_str("]}");
    body
}

/// A batch message as consumers read it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileEventBatch {
    pub schema: String,
    pub batch_id: String,
    pub count: usize,
    pub events: Vec<ProfileEvent>,
}

/// Whether the profile was created, changed or deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileChange {
    Created,
    Updated,
    /// EXT: a revert deleted the profile the reverted task had created.
    Deleted,
}

impl ProfileChange {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileChange::Created => "created",
            ProfileChange::Updated => "updated",
            ProfileChange::Deleted => "deleted",
        }
    }
}

/// One event: a profile created or updated by one chunk of a task.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ProfileEvent {
    pub schema: String,
    /// Unique and stable across redeliveries: `{task_id}.{chunk_no}.{n}`; consumers that must
    /// not see an event twice deduplicate on it (publishing is at least once).
    pub event_id: String,
    pub domain: String,
    #[serde(rename = "core-profile-id")]
    pub core_profile_id: crate::CoreProfileId,
    pub action: ProfileChange,
    /// The top-level fields the task set, sorted (e.g. `names`, `tags`, `identities`).
    pub changed_fields: Vec<String>,
    /// For an app profile's event: its pid (the core profile is its owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// For an app profile's event: its app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
    /// EXT: the profile's external version after the change, once one was applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<Version>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<i64>,
    pub task_id: TaskId,
    /// Epoch milliseconds of the chunk's processing.
    pub occurred_at: i64,
}

impl ProfileEvent {
    /// The topic routing key: `{domain}.{created|updated}` for core profiles and
    /// `{domain}.app.{created|updated}` for app profiles, so consumers can bind to `demo.*`,
    /// `*.app.*` or `demo.#`.
    pub fn routing_key(&self) -> String {
        routing_key(&self.domain, self.action, self.pid.is_some())
    }
}

/// The routing key of an event of `domain` (see [`ProfileEvent::routing_key`]).
fn routing_key(domain: &str, action: ProfileChange, app_profile: bool) -> String {
    let action = action.as_str();
    if app_profile {
        format!("{domain}.app.{action}")
    } else {
        format!("{domain}.{action}")
    }
}

/// One chunk's events as the outbox keeps them: what they all share once, then per change only
/// what differs — a third of the bytes of the events spelled out. [`ChunkEvents::events`]
/// spells them out for publishing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChunkEvents {
    pub task_id: TaskId,
    pub chunk_no: u32,
    pub domain: String,
    pub workflow_id: Option<i64>,
    /// Epoch milliseconds of the chunk's processing.
    pub occurred_at: i64,
    /// In the order the handler reported them; the n-th is event `{task_id}.{chunk_no}.{n}`.
    pub changes: Vec<EventChange>,
}

/// What one event says about its profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventChange {
    /// The core profile (the owner, for an app profile).
    pub core_profile_id: crate::CoreProfileId,
    pub action: ProfileChange,
    /// The top-level fields that changed, sorted, joined by commas (field names have none).
    pub changed_fields: String,
    /// For an app profile's change: its pid and app.
    pub app: Option<(String, String)>,
    /// The profile's external version after the change, if it has one.
    pub version: Option<Version>,
}

impl ChunkEvents {
    /// The chunk's events in order.
    pub fn events(&self) -> impl Iterator<Item = ProfileEvent> + '_ {
        self.changes
            .iter()
            .enumerate()
            .map(|(n, change)| ProfileEvent {
                schema: PROFILE_EVENT_SCHEMA_V1.to_owned(),
                event_id: format!("{}.{}.{n}", self.task_id, self.chunk_no),
                domain: self.domain.clone(),
                core_profile_id: change.core_profile_id,
                action: change.action,
                changed_fields: change
                    .changed_fields
                    .split(',')
                    .filter(|field| !field.is_empty())
                    .map(str::to_owned)
                    .collect(),
                pid: change.app.as_ref().map(|(pid, _)| pid.clone()),
                app_id: change.app.as_ref().map(|(_, app_id)| app_id.clone()),
                version: change.version,
                workflow_id: self.workflow_id,
                task_id: self.task_id,
                occurred_at: self.occurred_at,
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_batch_body_holds_its_events_unchanged() {
        let event = |n: i64| ProfileEvent {
            schema: PROFILE_EVENT_SCHEMA_V1.into(),
            event_id: format!("5.2.{n}"),
            domain: "demo".into(),
            core_profile_id: crate::CoreProfileId::new(1_000_000_000 + n).unwrap(),
            action: ProfileChange::Created,
            changed_fields: vec!["identities".into()],
            pid: None,
            app_id: None,
            version: Version::new(n),
            workflow_id: Some(3),
            task_id: TaskId::from_parts(9, 1),
            occurred_at: 1,
        };
        let events = [event(0), event(1)];
        let bodies: Vec<String> = events
            .iter()
            .map(|event| serde_json::to_string(event).unwrap())
            .collect();
        let texts: Vec<&str> = bodies.iter().map(String::as_str).collect();
        let batch: ProfileEventBatch =
            serde_json::from_str(&batch_body("5.2.0..5.2.1", &texts)).unwrap();
        assert_eq!(batch.schema, PROFILE_EVENT_BATCH_SCHEMA_V1);
        assert_eq!(batch.batch_id, "5.2.0..5.2.1");
        assert_eq!(batch.count, 2);
        assert_eq!(batch.events, events);
    }

    #[test]
    fn a_chunk_s_events_are_numbered_in_order_and_share_its_fields() {
        let chunk = ChunkEvents {
            task_id: TaskId::from_parts(9, 1),
            chunk_no: 3,
            domain: "demo".into(),
            workflow_id: Some(77),
            occurred_at: 12,
            changes: vec![
                EventChange {
                    core_profile_id: crate::CoreProfileId::new(7).unwrap(),
                    action: ProfileChange::Updated,
                    changed_fields: "names,tags".into(),
                    app: None,
                    version: Version::new(12),
                },
                EventChange {
                    core_profile_id: crate::CoreProfileId::new(8).unwrap(),
                    action: ProfileChange::Created,
                    changed_fields: String::new(),
                    app: Some(("demo_profile_a".into(), "game".into())),
                    version: None,
                },
            ],
        };
        let events: Vec<ProfileEvent> = chunk.events().collect();
        let task = TaskId::from_parts(9, 1);
        assert_eq!(events[0].event_id, format!("{task}.3.0"));
        assert_eq!(events[1].event_id, format!("{task}.3.1"));
        assert_eq!(events[0].changed_fields, ["names", "tags"]);
        assert!(events[1].changed_fields.is_empty());
        assert_eq!(events[1].routing_key(), "demo.app.created");
        assert_eq!(events[1].pid.as_deref(), Some("demo_profile_a"));
        assert_eq!(events[0].version, Version::new(12));
        assert_eq!(events[1].version, None);
        assert!(events.iter().all(|event| event.workflow_id == Some(77)
            && event.occurred_at == 12
            && event.task_id == task));
    }

    #[test]
    fn events_serialise_with_the_contract_names() {
        let event = ProfileEvent {
            schema: PROFILE_EVENT_SCHEMA_V1.into(),
            event_id: "1.0.0".into(),
            domain: "demo".into(),
            core_profile_id: crate::CoreProfileId::new(1_000_000_001).unwrap(),
            action: ProfileChange::Updated,
            changed_fields: vec!["names".into()],
            pid: None,
            app_id: None,
            version: Version::new(4),
            workflow_id: None,
            task_id: TaskId::from_parts(1, 1),
            occurred_at: 5,
        };
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value["core-profile-id"], 1_000_000_001);
        assert_eq!(value["action"], "updated");
        assert!(value.get("workflow_id").is_none());
        assert_eq!(value["version"], 4);
        assert_eq!(event.routing_key(), "demo.updated");
        let back: ProfileEvent = serde_json::from_value(value).unwrap();
        assert_eq!(back, event);
        let app = ProfileEvent {
            pid: Some("demo_profile_1".into()),
            app_id: Some("game".into()),
            ..event
        };
        assert_eq!(app.routing_key(), "demo.app.updated");
    }
}
