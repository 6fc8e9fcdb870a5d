//! Custom field values and the ordered map of a profile's custom fields. Values are kept as
//! they were sent: strings, numbers with their exact text, booleans and (EXT) arrays or objects
//! as their JSON text, so that an export returns what an import accepted.

use serde::de::{self, Deserializer, MapAccess, Visitor};
use serde::ser::{SerializeMap, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::fmt;

use super::number::check_number;

/// One custom field value.
#[derive(Debug, Clone)]
pub enum CustomValue {
    Text(String),
    /// A JSON number, its text as sent (checked by `values::number::check_number`).
    Number(Box<RawValue>),
    Bool(bool),
    /// An array or object, its JSON text as sent (checked by `values::structured`).
    Structured(Box<RawValue>),
}

impl PartialEq for CustomValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (CustomValue::Text(a), CustomValue::Text(b)) => a == b,
            (CustomValue::Bool(a), CustomValue::Bool(b)) => a == b,
            (CustomValue::Number(a), CustomValue::Number(b))
            | (CustomValue::Structured(a), CustomValue::Structured(b)) => a.get() == b.get(),
            _ => false,
        }
    }
}

impl CustomValue {
    /// The form under which the value is compared when an upsert matches by this custom field:
    /// strings exactly (and never blank), numbers by their plain decimal value, booleans as
    /// `true`/`false`; structured values are not keys.
    pub fn match_key(&self) -> Option<String> {
        match self {
            CustomValue::Text(text) if text.trim().is_empty() => None,
            CustomValue::Text(text) => Some(text.clone()),
            CustomValue::Number(raw) => check_number(raw.get()).ok().map(|n| n.canonical_decimal()),
            CustomValue::Bool(flag) => Some(flag.to_string()),
            CustomValue::Structured(_) => None,
        }
    }

    /// Classifies a value from its raw JSON text (already known to be well-formed).
    pub fn from_raw(raw: &RawValue) -> Option<CustomValue> {
        let text = raw.get();
        match text.as_bytes().first()? {
            b'"' => serde_json::from_str::<String>(text)
                .ok()
                .map(CustomValue::Text),
            b't' => Some(CustomValue::Bool(true)),
            b'f' => Some(CustomValue::Bool(false)),
            b'n' => None,
            b'{' | b'[' => Some(CustomValue::Structured(raw.to_owned())),
            _ => Some(CustomValue::Number(raw.to_owned())),
        }
    }
}

impl Serialize for CustomValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            CustomValue::Text(text) => serializer.serialize_str(text),
            CustomValue::Bool(flag) => serializer.serialize_bool(*flag),
            CustomValue::Number(raw) | CustomValue::Structured(raw) => raw.serialize(serializer),
        }
    }
}

/// A profile's custom fields in the order they were first set.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CustomFields(Vec<(String, CustomValue)>);

impl CustomFields {
    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, key: &str) -> Option<&CustomValue> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// Sets `key` (in place when present, else at the end).
    pub fn set(&mut self, key: &str, value: CustomValue) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    pub fn remove(&mut self, key: &str) {
        self.0.retain(|(k, _)| k != key);
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &CustomValue)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// The JSON object text, as stored.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }

    /// Reads the stored JSON object text back.
    pub fn from_json(text: &str) -> Result<CustomFields, serde_json::Error> {
        serde_json::from_str(text)
    }
}

impl Serialize for CustomFields {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl<'de> Deserialize<'de> for CustomFields {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct FieldsVisitor;
        impl<'de> Visitor<'de> for FieldsVisitor {
            type Value = CustomFields;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object of custom fields")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<CustomFields, A::Error> {
                let mut fields = CustomFields::default();
                while let Some(key) = map.next_key::<String>()? {
                    let raw: Box<RawValue> = map.next_value()?;
                    match CustomValue::from_raw(&raw) {
                        Some(value) => fields.set(&key, value),
                        None => fields.remove(&key),
                    }
                }
                Ok(fields)
            }
            fn visit_unit<E: de::Error>(self) -> Result<CustomFields, E> {
                Ok(CustomFields::default())
            }
        }
        deserializer.deserialize_any(FieldsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_fields_round_trip_exactly_and_in_order() {
        let text =
            r#"{"z":1e308,"a":-0.0,"o":{"x":null,"y":1},"arr":[1,{"k":null}],"s":"é","b":false}"#;
        let fields = CustomFields::from_json(text).unwrap();
        assert_eq!(fields.to_json(), text);
        assert_eq!(fields.iter().next().unwrap().0, "z");
    }

    #[test]
    fn match_keys_compare_numbers_by_value_and_strings_exactly() {
        let number = |text: &str| {
            CustomValue::Number(RawValue::from_string(text.to_owned()).unwrap()).match_key()
        };
        assert_eq!(number("1E2"), Some("100".to_owned()));
        assert_eq!(number("100.0"), Some("100".to_owned()));
        assert_eq!(number("-0"), Some("0".to_owned()));
        assert_eq!(
            CustomValue::Text(" K-1 ".into()).match_key(),
            Some(" K-1 ".to_owned())
        );
        assert_eq!(CustomValue::Text("  ".into()).match_key(), None);
    }

    #[test]
    fn setting_keeps_the_first_position_and_removing_forgets_it() {
        let mut fields = CustomFields::default();
        fields.set("a", CustomValue::Bool(true));
        fields.set("b", CustomValue::Bool(true));
        fields.set("a", CustomValue::Text("x".into()));
        fields.remove("b");
        assert_eq!(fields.to_json(), r#"{"a":"x"}"#);
    }
}
