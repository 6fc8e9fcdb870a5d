//! Canonical profile records assembled from a product's fields. Custom field values keep the
//! JSON text the client sent ([`RawMembers`]): `serde_json::Value` re-spells numbers (`1E2`
//! becomes `1e+2`), so a value is taken from the request's text wherever one exists.

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::fmt;

/// An object's members as their JSON text, in the order sent. A key given twice keeps its last
/// value, as `serde_json::Map` does.
#[derive(Debug, Default)]
pub(crate) struct RawMembers(Vec<(String, Box<RawValue>)>);

impl RawMembers {
    /// The text of member `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&RawValue> {
        self.0
            .iter()
            .rev()
            .find(|(name, _)| name == key)
            .map(|(_, value)| value.as_ref())
    }

    /// The members of `raw` when it is an object.
    pub(crate) fn of(raw: &RawValue) -> Option<RawMembers> {
        serde_json::from_str(raw.get()).ok()
    }
}

impl<'de> Deserialize<'de> for RawMembers {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct MembersVisitor;
        impl<'de> Visitor<'de> for MembersVisitor {
            type Value = RawMembers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RawMembers, A::Error> {
                let mut members = Vec::new();
                while let Some(entry) = map.next_entry::<String, Box<RawValue>>()? {
                    members.push(entry);
                }
                Ok(RawMembers(members))
            }
        }
        deserializer.deserialize_map(MembersVisitor)
    }
}

/// Custom field values by name, each kept as JSON text.
#[derive(Debug, Default)]
pub(crate) struct CustomValues(Vec<(String, Box<RawValue>)>);

impl CustomValues {
    /// Sets `key` (in its first position when it was set before) to the text the client sent
    /// when given, else to `value`'s JSON.
    pub(crate) fn insert(&mut self, key: String, value: &Value, sent: Option<&RawValue>) {
        let text = match sent {
            Some(sent) => sent.to_owned(),
            None => match serde_json::value::to_raw_value(value) {
                Ok(text) => text,
                Err(_) => return,
            },
        };
        match self.0.iter_mut().find(|(name, _)| *name == key) {
            Some((_, slot)) => *slot = text,
            None => self.0.push((key, text)),
        }
    }

    /// Sets `key` to `null` unless it is set.
    pub(crate) fn clear_unless_set(&mut self, key: &str) {
        if !self.0.iter().any(|(name, _)| name == key) {
            self.insert(key.to_owned(), &Value::Null, None);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl Serialize for CustomValues {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

/// A canonical profile record being assembled from a product's fields.
#[derive(Debug, Default)]
pub(crate) struct ProfileDraft {
    /// Top-level fields (e.g. `core-profile-id`, `preferred_language`).
    pub fields: Map<String, Value>,
    pub identities: Vec<Value>,
    pub names: Map<String, Value>,
    pub custom: CustomValues,
}

/// A finished record: the fields, then `identities`, `names` and `custom_fields` when not
/// empty; it serialises as the record's JSON text.
#[derive(Debug)]
pub(crate) struct DraftRecord(ProfileDraft);

impl ProfileDraft {
    pub(crate) fn finish(self) -> DraftRecord {
        DraftRecord(self)
    }
}

impl Serialize for DraftRecord {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let draft = &self.0;
        let mut map = serializer.serialize_map(None)?;
        for (key, value) in &draft.fields {
            map.serialize_entry(key, value)?;
        }
        if !draft.identities.is_empty() {
            map.serialize_entry("identities", &draft.identities)?;
        }
        if !draft.names.is_empty() {
            map.serialize_entry("names", &draft.names)?;
        }
        if !draft.custom.is_empty() {
            map.serialize_entry("custom_fields", &draft.custom)?;
        }
        map.end()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn custom_values_keep_the_text_sent_and_records_their_order() {
        let members: RawMembers =
            serde_json::from_str(r#"{"a": 1E2, "b": -0.0, "a": 1.50e+3}"#).unwrap();
        assert_eq!(
            members.get("a").unwrap().get(),
            "1.50e+3",
            "the last one wins"
        );
        let mut draft = ProfileDraft::default();
        draft.fields.insert("core-profile-id".into(), json!(7));
        draft.identities.push(json!({"uid": "u"}));
        draft.custom.insert("b".into(), &json!(0), members.get("b"));
        draft.custom.insert("n".into(), &json!("x"), None);
        draft.custom.insert(
            "b".into(),
            &json!(0),
            Some(&RawValue::from_string("1E2".into()).unwrap()),
        );
        draft.custom.clear_unless_set("b");
        draft.custom.clear_unless_set("gone");
        let text = serde_json::to_string(&draft.finish()).unwrap();
        assert_eq!(
            text,
            r#"{"core-profile-id":7,"identities":[{"uid":"u"}],"custom_fields":{"b":1E2,"n":"x","gone":null}}"#
        );
    }
}
