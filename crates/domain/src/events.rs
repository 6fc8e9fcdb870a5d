//! Profile events (EXT): what one task changed in one profile, for downstream workflows. Workers
//! write them to an outbox in the chunk's transaction; a relay publishes them to the
//! `{prefix}.profile-events` topic exchange with routing key `{domain}.{change}` for core
//! profiles and `{domain}.app.{change}` for app profiles.

use crate::TaskId;
use serde::{Deserialize, Serialize};

/// The `schema` value of every profile event.
pub const PROFILE_EVENT_SCHEMA_V1: &str = "userhub.profile_event.v1";

/// Whether the profile was created or changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfileChange {
    Created,
    Updated,
}

impl ProfileChange {
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileChange::Created => "created",
            ProfileChange::Updated => "updated",
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
    pub core_profile_id: i64,
    pub action: ProfileChange,
    /// The top-level fields the task set, sorted (e.g. `names`, `tags`, `identities`).
    pub changed_fields: Vec<String>,
    /// For an app profile's event: its pid (the core profile is its owner).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// For an app profile's event: its app.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_id: Option<String>,
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
        match self.pid {
            Some(_) => format!("{}.app.{}", self.domain, self.action.as_str()),
            None => format!("{}.{}", self.domain, self.action.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_serialise_with_the_contract_names() {
        let event = ProfileEvent {
            schema: PROFILE_EVENT_SCHEMA_V1.into(),
            event_id: "1.0.0".into(),
            domain: "demo".into(),
            core_profile_id: 1_000_000_001,
            action: ProfileChange::Updated,
            changed_fields: vec!["names".into()],
            pid: None,
            app_id: None,
            workflow_id: None,
            task_id: TaskId::from_parts(1, 1),
            occurred_at: 5,
        };
        let value = serde_json::to_value(&event).unwrap();
        assert_eq!(value["core-profile-id"], 1_000_000_001);
        assert_eq!(value["action"], "updated");
        assert!(value.get("workflow_id").is_none());
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
