//! The few facts the gateway reads from a record to group it into a chunk — its identities,
//! profile id, app profile id or app — skipping every other field without building it.
//! Records that share any of these keys touch the same profile (or claim the same identity)
//! and are applied together, in input order, by one worker.

use super::core::core_profile_id;
use super::identities::{IdentitiesField, IdentitiesSeed};
use super::read::{RawMembers, Scalar, Text, is_number_token};
use super::sink::ErrorSink;
use crate::identity::IdentityKind;
use crate::profile::app::{APP_ID_KEY, PID_KEY};
use crate::profile::core::CORE_PROFILE_ID_KEY;
use crate::values::CustomValue;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, Visitor};
use std::fmt;

/// What a record says about the profile it touches.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordKeys {
    /// `(kind, normalised value)` of each valid identity.
    pub identities: Vec<(IdentityKind, String)>,
    pub core_profile_id: Option<i64>,
    pub pid: Option<String>,
    pub app_id: Option<String>,
    /// The match key of the custom field named by the caller, if any.
    pub custom_match: Option<String>,
}

struct KeysVisitor<'n> {
    custom_field: Option<&'n str>,
}

impl<'de> Visitor<'de> for KeysVisitor<'_> {
    type Value = RecordKeys;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a record")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RecordKeys, A::Error> {
        let mut keys = RecordKeys::default();
        let mut scratch = ErrorSink::default();
        let mut first = true;
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if first && is_number_token(&key) {
                map.next_value::<IgnoredAny>()?;
                return Ok(RecordKeys::default());
            }
            first = false;
            match key.as_ref() {
                "identities" => {
                    let seed = IdentitiesSeed {
                        path: "identities".into(),
                        sink: &mut scratch,
                    };
                    if let IdentitiesField::Valid(identities) = map.next_value_seed(seed)? {
                        keys.identities = identities
                            .into_iter()
                            .map(|identity| (identity.kind(), identity.normalized().to_owned()))
                            .collect();
                    }
                }
                CORE_PROFILE_ID_KEY => {
                    let scalar = map.next_value::<Scalar<'de>>()?;
                    keys.core_profile_id = core_profile_id(scalar, &mut scratch).map(|id| id.get());
                }
                PID_KEY | APP_ID_KEY => {
                    let text = match map.next_value::<Scalar<'de>>()? {
                        Scalar::Text(text) => Some(text.trim().to_owned()),
                        _ => None,
                    }
                    .filter(|text| !text.is_empty());
                    if key == PID_KEY {
                        keys.pid = text;
                    } else {
                        keys.app_id = text;
                    }
                }
                "custom_fields" if self.custom_field.is_some() => {
                    let RawMembers(fields) = map.next_value::<RawMembers<'de>>()?;
                    keys.custom_match = fields
                        .unwrap_or_default()
                        .iter()
                        .find(|(name, _)| Some(name.as_ref()) == self.custom_field)
                        .and_then(|(_, raw)| CustomValue::from_raw(raw))
                        .and_then(|value| value.match_key());
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(keys)
    }
    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RecordKeys, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(RecordKeys::default())
    }
    fn visit_unit<E: de::Error>(self) -> Result<RecordKeys, E> {
        Ok(RecordKeys::default())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<RecordKeys, E> {
        Ok(RecordKeys::default())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<RecordKeys, E> {
        Ok(RecordKeys::default())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<RecordKeys, E> {
        Ok(RecordKeys::default())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<RecordKeys, E> {
        Ok(RecordKeys::default())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<RecordKeys, E> {
        Ok(RecordKeys::default())
    }
}

struct KeysSeed<'n>(Option<&'n str>);

impl<'de> DeserializeSeed<'de> for KeysSeed<'_> {
    type Value = RecordKeys;
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<RecordKeys, D::Error> {
        deserializer.deserialize_any(KeysVisitor {
            custom_field: self.0,
        })
    }
}

/// The keys of a record; a record that cannot be read has none (the worker reports it).
/// `custom_field` names the custom field whose value is an upsert's match key.
pub fn record_keys(text: &str, custom_field: Option<&str>) -> RecordKeys {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    KeysSeed(custom_field)
        .deserialize(&mut deserializer)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_and_everything_else_skipped() {
        let keys = record_keys(
            r#"{"names":{"first_name":"x"},"identities":[{"email":"A@x.io"},{"uid":"u"}],"core-profile-id":"7","custom_fields":{"crm":1E2}}"#,
            Some("crm"),
        );
        assert_eq!(
            keys.identities,
            vec![
                (IdentityKind::Email, "a@x.io".to_owned()),
                (IdentityKind::Uid, "u".to_owned())
            ]
        );
        assert_eq!(keys.core_profile_id, Some(7));
        assert_eq!(keys.custom_match.as_deref(), Some("100"));
        assert_eq!(record_keys("[1]", None), RecordKeys::default());
        assert_eq!(
            record_keys(r#"{"pid":" p1 ","app_id":"g"}"#, None)
                .pid
                .as_deref(),
            Some("p1")
        );
    }
}
