//! The `identities` of a record: 1..=30 maps, each with exactly one identity key and up to 30
//! string metadata entries, read straight from the record's text.

use super::fields::reject_nul;
use super::maps::{any_type_seed, duplicate_key, scalars_to_other};
use super::read::{Scalar, Text, WithScalar, is_number_token};
use super::sink::{ErrorSink, FieldPath};
use crate::identity::{Identity, IdentityKind};
use crate::limits::{MAX_IDENTITIES, MAX_IDENTITY_METADATA, MAX_METADATA_CHARS};
use crate::record_error::ErrorCode;
use crate::values::MetadataValue;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;

/// What an `identities` field held.
#[derive(Debug, Clone, PartialEq)]
pub enum IdentitiesField {
    /// `null`.
    Null,
    /// Every identity, in input order, repeats dropped.
    Valid(Vec<Identity>),
    /// Problems were reported.
    Invalid,
}

/// Reads `identities` at `path`.
pub struct IdentitiesSeed<'p, 's> {
    pub path: FieldPath<'p>,
    pub sink: &'s mut ErrorSink,
}

impl IdentitiesSeed<'_, '_> {
    fn other(self, found: Scalar<'_>) -> IdentitiesField {
        if found == Scalar::Null {
            return IdentitiesField::Null;
        }
        self.sink
            .wrong_type(self.path, "an array of identity maps", found.type_name());
        IdentitiesField::Invalid
    }
}

any_type_seed!(IdentitiesSeed<'_, '_>, IdentitiesField);

impl<'de> Visitor<'de> for IdentitiesSeed<'_, '_> {
    type Value = IdentitiesField;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of identity maps")
    }
    scalars_to_other!();
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<IdentitiesField, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(self.other(Scalar::Object))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<IdentitiesField, A::Error> {
        let mut identities: Vec<Identity> = Vec::new();
        let mut ok = true;
        let mut count = 0usize;
        loop {
            if count >= MAX_IDENTITIES {
                if seq.next_element::<IgnoredAny>()?.is_none() {
                    break;
                }
                count += 1;
                continue;
            }
            let seed = IdentitySeed {
                path: FieldPath::Element(&self.path, count),
                position: count,
                sink: &mut *self.sink,
            };
            let Some(identity) = seq.next_element_seed(seed)? else {
                break;
            };
            count += 1;
            let Some(identity) = identity else {
                ok = false;
                continue;
            };
            let repeated = identities.iter().any(|seen| {
                seen.kind() == identity.kind() && seen.normalized() == identity.normalized()
            });
            if repeated {
                continue;
            }
            if identity.kind() == IdentityKind::Uid
                && identities
                    .iter()
                    .any(|seen| seen.kind() == IdentityKind::Uid)
            {
                self.sink.report(
                    identity.path(),
                    ErrorCode::InvalidIdentity,
                    "a profile has at most one uid",
                );
                ok = false;
                continue;
            }
            identities.push(identity);
        }
        if count == 0 {
            self.sink.report(
                self.path,
                ErrorCode::EmptyData,
                format!("`{}` needs at least one identity", self.path),
            );
            return Ok(IdentitiesField::Invalid);
        }
        if count > MAX_IDENTITIES {
            self.sink.report(
                self.path,
                ErrorCode::ExceededCountLimit,
                format!("at most {MAX_IDENTITIES} identities per record, got {count}"),
            );
            ok = false;
        }
        Ok(if ok {
            IdentitiesField::Valid(identities)
        } else {
            IdentitiesField::Invalid
        })
    }
}

/// Reads one identity map at `path` (e.g. `identities[0]`).
pub struct IdentitySeed<'p, 's> {
    pub path: FieldPath<'p>,
    pub position: usize,
    pub sink: &'s mut ErrorSink,
}

impl IdentitySeed<'_, '_> {
    fn other(self, found: Scalar<'_>) -> Option<Identity> {
        self.sink.wrong_type(
            self.path,
            "an object with one identity key",
            found.type_name(),
        );
        None
    }
}

any_type_seed!(IdentitySeed<'_, '_>, Option<Identity>);

/// The identity value: a non-empty string (trimmed) or a number, within the kind's limits.
fn identity_value(
    kind: IdentityKind,
    scalar: Scalar<'_>,
    path: FieldPath<'_>,
    sink: &mut ErrorSink,
) -> Option<String> {
    let text = match scalar {
        Scalar::Text(text) => text.trim().to_owned(),
        Scalar::Number(text) => text.into_owned(),
        other => {
            sink.wrong_type(path, "a non-empty string", other.type_name());
            return None;
        }
    };
    if text.is_empty() {
        sink.report(
            path,
            ErrorCode::InvalidIdentity,
            format!("`{path}` is empty"),
        );
        return None;
    }
    if !reject_nul(&text, path, sink) {
        return None;
    }
    if text.chars().count() > kind.max_chars() {
        sink.report(
            path,
            ErrorCode::ExceededValueLengthLimit,
            format!("`{path}` may have at most {} characters", kind.max_chars()),
        );
        return None;
    }
    if let Err(reason) = kind.check_value(&text) {
        sink.report(path, ErrorCode::InvalidValue, format!("`{path}`: {reason}"));
        return None;
    }
    Some(text)
}

/// A metadata value: a string, a number (its text as sent, read from the raw value because
/// `serde_json` hands numbers over re-spelled) or a boolean.
fn metadata_value(
    raw: &RawValue,
    path: FieldPath<'_>,
    sink: &mut ErrorSink,
) -> Option<MetadataValue> {
    const EXPECTED: &str = "a string, a number or a boolean";
    let text = raw.get();
    let value = match text.as_bytes().first() {
        Some(b'"') => {
            let string = serde_json::from_str::<String>(text).ok()?;
            if !reject_nul(&string, path, sink) {
                return None;
            }
            MetadataValue::Text(string)
        }
        Some(b't') => MetadataValue::Bool(true),
        Some(b'f') => MetadataValue::Bool(false),
        Some(b'-' | b'0'..=b'9') => MetadataValue::number(text)?,
        other => {
            let found = match other {
                Some(b'[') => "an array",
                Some(b'{') => "an object",
                _ => "null",
            };
            sink.wrong_type(path, EXPECTED, found);
            return None;
        }
    };
    if value.chars() > MAX_METADATA_CHARS {
        sink.report(
            path,
            ErrorCode::ExceededValueLengthLimit,
            format!("metadata values may have at most {MAX_METADATA_CHARS} characters"),
        );
        return None;
    }
    Some(value)
}

/// An identity key as sent, with its kind and value when the value was valid.
type KeyOfKind<'de> = (Cow<'de, str>, Option<(IdentityKind, String)>);

impl<'de> Visitor<'de> for IdentitySeed<'_, '_> {
    type Value = Option<Identity>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an identity map")
    }
    scalars_to_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Option<Identity>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.other(Scalar::Array))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<Identity>, A::Error> {
        let mut kinds: Vec<KeyOfKind<'de>> = Vec::new();
        let mut metadata: BTreeMap<String, MetadataValue> = BTreeMap::new();
        let mut ok = true;
        let mut metadata_count = 0usize;
        let mut first = true;
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if first && is_number_token(&key) {
                map.next_value::<IgnoredAny>()?;
                return Ok(self.other(Scalar::Number("".into())));
            }
            first = false;
            let path = FieldPath::Key(&self.path, &key);
            let repeated =
                kinds.iter().any(|(seen, _)| *seen == key) || metadata.contains_key(key.as_ref());
            if repeated {
                duplicate_key(path, self.sink);
                map.next_value::<IgnoredAny>()?;
                ok = false;
                continue;
            }
            if let Ok(kind) = key.parse::<IdentityKind>() {
                let sink = &mut *self.sink;
                let value = map.next_value_seed(WithScalar(|scalar| {
                    identity_value(kind, scalar, path, sink)
                }))?;
                kinds.push((key, value.map(|value| (kind, value))));
                continue;
            }
            metadata_count += 1;
            if metadata_count > MAX_IDENTITY_METADATA {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            if key.chars().count() > MAX_METADATA_CHARS {
                self.sink.report(
                    path,
                    ErrorCode::ExceededKeyLengthLimit,
                    format!("metadata keys may have at most {MAX_METADATA_CHARS} characters"),
                );
                map.next_value::<IgnoredAny>()?;
                ok = false;
                continue;
            }
            if !reject_nul(&key, path, self.sink) {
                map.next_value::<IgnoredAny>()?;
                ok = false;
                continue;
            }
            let raw = map.next_value::<&'de RawValue>()?;
            match metadata_value(raw, path, self.sink) {
                Some(value) => {
                    metadata.insert(key.into_owned(), value);
                }
                None => ok = false,
            }
        }
        if metadata_count > MAX_IDENTITY_METADATA {
            self.sink.report(
                self.path,
                ErrorCode::ExceededCountLimit,
                format!("an identity may carry at most {MAX_IDENTITY_METADATA} metadata entries"),
            );
            ok = false;
        }
        let [(_, found)] = kinds.as_slice() else {
            let found: Vec<&str> = kinds.iter().map(|(key, _)| key.as_ref()).collect();
            self.sink.report(
                self.path,
                ErrorCode::InvalidIdentity,
                format!(
                    "an identity map needs exactly one identity key, found [{}]",
                    found.join(", ")
                ),
            );
            return Ok(None);
        };
        match (found, ok) {
            (Some((kind, value)), true) => Ok(Some(Identity::new(
                *kind,
                value.clone(),
                metadata,
                self.position,
            ))),
            _ => Ok(None),
        }
    }
}

/// Parses one identity map from its text, e.g. an export selector's `identity`.
pub fn parse_identity_map(text: &str, path: &str, sink: &mut ErrorSink) -> Option<Identity> {
    let seed = IdentitySeed {
        path: FieldPath::Whole(path),
        position: 0,
        sink: &mut *sink,
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    match seed.deserialize(&mut deserializer) {
        Ok(identity) => identity,
        Err(error) => {
            sink.report(path, ErrorCode::InvalidJson, error.to_string());
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> (IdentitiesField, Vec<(String, ErrorCode)>) {
        let mut sink = ErrorSink::default();
        let seed = IdentitiesSeed {
            path: "identities".into(),
            sink: &mut sink,
        };
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let field = seed.deserialize(&mut deserializer).unwrap();
        let errors = sink
            .into_errors()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        (field, errors)
    }

    #[test]
    fn identities_are_trimmed_normalised_and_keep_their_metadata() {
        let (field, errors) = parse(
            r#"[{"email":"  Ada@Example.COM ","source":"crm","rank":3},{"phone_number":"+1 (555) 010-99.88"}]"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let IdentitiesField::Valid(identities) = field else {
            panic!()
        };
        assert_eq!(identities[0].value(), "Ada@Example.COM");
        assert_eq!(identities[0].normalized(), "ada@example.com");
        assert_eq!(
            identities[0].metadata()["rank"],
            MetadataValue::number("3").unwrap(),
            "a number stays a number"
        );
        assert_eq!(
            identities[0].metadata()["source"],
            MetadataValue::text("crm")
        );
        assert_eq!(identities[1].normalized(), "+15550109988");
        assert_eq!(identities[1].path(), "identities[1].phone_number");
    }

    #[test]
    fn each_map_needs_exactly_one_identity_key_given_once() {
        let (_, errors) = parse(
            r#"[{"email":"a@b.c","uid":"u1"},{"label":"x"},{"uid":"a","uid":"b"},{"email":"x@y.z","m":1,"m":2}]"#,
        );
        assert_eq!(
            errors,
            vec![
                ("identities[0]".to_owned(), ErrorCode::InvalidIdentity),
                ("identities[1]".to_owned(), ErrorCode::InvalidIdentity),
                ("identities[2].uid".to_owned(), ErrorCode::DuplicateKey),
                ("identities[3].m".to_owned(), ErrorCode::DuplicateKey),
            ]
        );
    }

    #[test]
    fn bad_values_are_reported_with_the_value_path() {
        let (_, errors) = parse(&format!(
            r#"[{{"email":"not-an-email"}},{{"uid":""}},{{"steam_id":"{}"}},{{"uid":"{}"}},{{"phone_number":"call me"}}]"#,
            "x".repeat(301),
            "u".repeat(750)
        ));
        assert_eq!(
            errors,
            vec![
                ("identities[0].email".to_owned(), ErrorCode::InvalidValue),
                ("identities[1].uid".to_owned(), ErrorCode::InvalidIdentity),
                (
                    "identities[2].steam_id".to_owned(),
                    ErrorCode::ExceededValueLengthLimit
                ),
                (
                    "identities[4].phone_number".to_owned(),
                    ErrorCode::InvalidValue
                ),
            ]
        );
    }

    #[test]
    fn counts_are_limited_and_a_record_has_one_uid() {
        assert_eq!(parse("[]").1[0].1, ErrorCode::EmptyData);
        let many: Vec<String> = (0..31)
            .map(|i| format!(r#"{{"steam_id":"s{i}"}}"#))
            .collect();
        assert_eq!(
            parse(&format!("[{}]", many.join(","))).1,
            vec![("identities".to_owned(), ErrorCode::ExceededCountLimit)]
        );
        assert_eq!(
            parse(r#"[{"uid":"a"},{"uid":"b"}]"#).1,
            vec![("identities[1].uid".to_owned(), ErrorCode::InvalidIdentity)]
        );
        let (field, errors) = parse(r#"[{"uid":"a"},{"uid":" a "}]"#);
        assert!(errors.is_empty());
        assert!(matches!(field, IdentitiesField::Valid(ids) if ids.len() == 1));
    }
}
