//! Identity metadata values as they were sent: text, a number with its exact text, or a
//! boolean, so that an export shows `"rank": 3` where the import said `"rank": 3` (not `"3"`).

use serde::de::{Deserializer, Error as _};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

/// One metadata value of an identity.
#[derive(Debug, Clone)]
pub enum MetadataValue {
    Text(String),
    /// A JSON number, its text as sent.
    Number(Box<RawValue>),
    Bool(bool),
}

impl PartialEq for MetadataValue {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (MetadataValue::Text(a), MetadataValue::Text(b)) => a == b,
            (MetadataValue::Number(a), MetadataValue::Number(b)) => a.get() == b.get(),
            (MetadataValue::Bool(a), MetadataValue::Bool(b)) => a == b,
            _ => false,
        }
    }
}

impl MetadataValue {
    /// Text.
    pub fn text(text: impl Into<String>) -> MetadataValue {
        MetadataValue::Text(text.into())
    }

    /// A number from its JSON text (already known to be a JSON number).
    pub fn number(text: &str) -> Option<MetadataValue> {
        RawValue::from_string(text.to_owned())
            .ok()
            .map(MetadataValue::Number)
    }

    /// How long the value is, as the limit on metadata values counts it (characters of its text).
    pub fn chars(&self) -> usize {
        match self {
            MetadataValue::Text(text) => text.chars().count(),
            MetadataValue::Number(raw) => raw.get().chars().count(),
            MetadataValue::Bool(flag) => flag.to_string().len(),
        }
    }
}

impl Serialize for MetadataValue {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            MetadataValue::Text(text) => serializer.serialize_str(text),
            MetadataValue::Number(raw) => raw.serialize(serializer),
            MetadataValue::Bool(flag) => serializer.serialize_bool(*flag),
        }
    }
}

impl<'de> Deserialize<'de> for MetadataValue {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Box::<RawValue>::deserialize(deserializer)?;
        let text = raw.get().trim();
        match text.as_bytes().first() {
            Some(b'"') => serde_json::from_str(text)
                .map(MetadataValue::Text)
                .map_err(D::Error::custom),
            Some(b't') if text == "true" => Ok(MetadataValue::Bool(true)),
            Some(b'f') if text == "false" => Ok(MetadataValue::Bool(false)),
            Some(b'-' | b'0'..=b'9') => MetadataValue::number(text)
                .ok_or_else(|| D::Error::custom("a metadata number that is not JSON")),
            _ => Err(D::Error::custom(
                "a metadata value must be a string, a number or a boolean",
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn values_round_trip_with_their_type_and_notation() {
        let text = r#"{"rank":1E2,"source":"crm","vip":true,"score":-0.50}"#;
        let metadata: BTreeMap<String, MetadataValue> = serde_json::from_str(text).unwrap();
        assert_eq!(metadata["rank"], MetadataValue::number("1E2").unwrap());
        assert_eq!(metadata["vip"], MetadataValue::Bool(true));
        assert_eq!(
            serde_json::to_string(&metadata).unwrap(),
            r#"{"rank":1E2,"score":-0.50,"source":"crm","vip":true}"#
        );
        assert!(serde_json::from_str::<MetadataValue>("null").is_err());
        assert!(serde_json::from_str::<MetadataValue>("[1]").is_err());
    }
}
