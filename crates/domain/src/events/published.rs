//! A chunk's events as the relay publishes them — id, routing key and JSON body — written
//! straight from the outbox's compact form: the same bytes as serialising each
//! [`ProfileEvent`](super::ProfileEvent) of [`ChunkEvents::events`], without copying the
//! strings the events share or splitting each field list into strings first.

use super::{ChunkEvents, EventChange, PROFILE_EVENT_SCHEMA_V1, routing_key};
use serde::ser::{Serialize, SerializeStruct, Serializer};

/// One event, ready to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublishedEvent {
    /// `{task_id}.{chunk_no}.{n}`.
    pub event_id: String,
    pub routing_key: String,
    /// The event's JSON (`userhub.profile_event.v1`).
    pub body: String,
}

/// The body of one event, borrowed from its chunk.
struct EventBody<'a> {
    chunk: &'a ChunkEvents,
    change: &'a EventChange,
    event_id: &'a str,
}

/// A change's comma-joined field list as a JSON array of its names.
struct FieldList<'a>(&'a str);

impl Serialize for FieldList<'_> {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_seq(self.0.split(',').filter(|field| !field.is_empty()))
    }
}

/// Serialises `value` under `name` when there is one, as `skip_serializing_if` does.
fn optional<S: SerializeStruct, T: Serialize>(
    out: &mut S,
    name: &'static str,
    value: Option<&T>,
) -> Result<(), S::Error> {
    match value {
        Some(value) => out.serialize_field(name, value),
        None => out.skip_field(name),
    }
}

impl Serialize for EventBody<'_> {
    /// The fields, names and order of `ProfileEvent`'s derived implementation.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let (chunk, change) = (self.chunk, self.change);
        let mut out = serializer.serialize_struct("ProfileEvent", 12)?;
        out.serialize_field("schema", PROFILE_EVENT_SCHEMA_V1)?;
        out.serialize_field("event_id", self.event_id)?;
        out.serialize_field("domain", &chunk.domain)?;
        out.serialize_field("core-profile-id", &change.core_profile_id)?;
        out.serialize_field("action", &change.action)?;
        out.serialize_field("changed_fields", &FieldList(&change.changed_fields))?;
        optional(&mut out, "pid", change.app.as_ref().map(|(pid, _)| pid))?;
        optional(&mut out, "app_id", change.app.as_ref().map(|(_, app)| app))?;
        optional(&mut out, "version", change.version.as_ref())?;
        optional(&mut out, "workflow_id", chunk.workflow_id.as_ref())?;
        out.serialize_field("task_id", &chunk.task_id)?;
        out.serialize_field("occurred_at", &chunk.occurred_at)?;
        out.end()
    }
}

impl ChunkEvents {
    /// The chunk's events in order, as [`ChunkEvents::events`] would serialise them.
    pub fn published(&self) -> impl Iterator<Item = serde_json::Result<PublishedEvent>> + '_ {
        self.changes.iter().enumerate().map(|(n, change)| {
            let event_id = format!("{}.{}.{n}", self.task_id, self.chunk_no);
            let routing_key = routing_key(&self.domain, change.action, change.app.is_some());
            let body = serde_json::to_string(&EventBody {
                chunk: self,
                change,
                event_id: &event_id,
            })?;
            Ok(PublishedEvent {
                event_id,
                routing_key,
                body,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::ProfileChange;
    use super::*;
    use crate::values::Version;
    use crate::{CoreProfileId, TaskId};
    use proptest::prelude::*;

    fn changes() -> impl Strategy<Value = Vec<EventChange>> {
        let change = (
            1i64..=9_007_199_254_740_991,
            prop_oneof![
                Just(ProfileChange::Created),
                Just(ProfileChange::Updated),
                Just(ProfileChange::Deleted)
            ],
            prop::collection::vec("[a-z_]{1,12}", 0..14),
            prop::option::of((".{0,12}", ".{0,12}")),
            prop::option::of(0i64..=i64::MAX),
        );
        prop::collection::vec(change, 0..6).prop_map(|changes| {
            changes
                .into_iter()
                .map(|(id, action, fields, app, version)| EventChange {
                    core_profile_id: CoreProfileId::new(id).unwrap(),
                    action,
                    changed_fields: fields.join(","),
                    app,
                    version: version.and_then(Version::new),
                })
                .collect()
        })
    }

    proptest! {
        #[test]
        fn published_events_are_the_events_serialised(
            changes in changes(),
            domain in ".{0,16}",
            workflow_id in prop::option::of(any::<i64>()),
            occurred_at in any::<i64>(),
            millis in 0u64..1 << 40,
            chunk_no in any::<u32>(),
        ) {
            let chunk = ChunkEvents {
                task_id: TaskId::from_parts(millis, 7),
                chunk_no,
                domain,
                workflow_id,
                occurred_at,
                changes,
            };
            let published: Vec<PublishedEvent> =
                chunk.published().collect::<Result<_, _>>().unwrap();
            let expected: Vec<PublishedEvent> = chunk
                .events()
                .map(|event| PublishedEvent {
                    routing_key: event.routing_key(),
                    body: serde_json::to_string(&event).unwrap(),
                    event_id: event.event_id,
                })
                .collect();
            prop_assert_eq!(published, expected);
        }
    }
}
