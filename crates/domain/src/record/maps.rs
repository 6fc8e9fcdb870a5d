//! The map- and list-valued fields of a record: `names`, `tags` and `custom_fields`, read key by
//! key straight from the record's text. Repeated keys are `DUPLICATE_KEY`; counts are checked
//! while reading, so a hostile map of 100 000 keys costs one error, not 100 000.

use super::fields::{reject_nul, text};
use super::read::{Scalar, Text, WithScalar, is_number_token};
use super::sink::{ErrorSink, FieldPath, shown_key};
use crate::field::Field;
use crate::limits::{
    MAX_CUSTOM_FIELD_JSON_BYTES, MAX_CUSTOM_FIELD_KEY_CHARS, MAX_CUSTOM_FIELD_VALUE_CHARS,
    MAX_CUSTOM_FIELDS, MAX_STRING_CHARS, MAX_TAG_CHARS, MAX_TAGS,
};
use crate::profile::MapPatch;
use crate::record_error::ErrorCode;
use crate::values::custom::CustomValue;
use crate::values::number::check_number;
use crate::values::structured::check_structured;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde_json::value::RawValue;
use std::collections::HashSet;
use std::fmt;

/// The keys `names` may hold.
pub const NAME_KEYS: [&str; 4] = ["first_name", "last_name", "full_name", "display_name"];

/// Reports a key given twice.
pub fn duplicate_key(path: impl fmt::Display, sink: &mut ErrorSink) {
    let path = path.to_string();
    let message = {
        let shown = path.rsplit('.').next().unwrap_or(&path);
        format!("`{shown}` appears more than once; give each key once")
    };
    sink.report(path, ErrorCode::DuplicateKey, message);
}

/// A field whose value is read by a visitor that accepts every JSON type.
macro_rules! any_type_seed {
    ($seed:ty, $value:ty) => {
        impl<'de> DeserializeSeed<'de> for $seed {
            type Value = $value;
            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<$value, D::Error> {
                d.deserialize_any(self)
            }
        }
    };
}
pub(crate) use any_type_seed;

/// Implements the visitor methods of non-container JSON types by handing the value, as a
/// [`Scalar`], to `$self.other(..)`.
macro_rules! scalars_to_other {
    () => {
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(self.other(Scalar::Null))
        }
        fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
            Ok(self.other(Scalar::Bool(v)))
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
            Ok(self.other(Scalar::Number(v.to_string().into())))
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
            Ok(self.other(Scalar::Number(v.to_string().into())))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
            Ok(self.other(Scalar::Number(v.to_string().into())))
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
            Ok(self.other(Scalar::Text(v.to_owned().into())))
        }
    };
}
pub(crate) use scalars_to_other;

/// `names`: an object of up to four names, each a string or `null` (removes it); `null` clears
/// them all.
pub struct NamesSeed<'s> {
    pub sink: &'s mut ErrorSink,
}

impl NamesSeed<'_> {
    fn other(self, found: Scalar<'_>) -> Option<MapPatch<String>> {
        if found == Scalar::Null {
            return Some(MapPatch::clear());
        }
        self.sink
            .wrong_type("names", "an object of names", found.type_name());
        None
    }
}

any_type_seed!(NamesSeed<'_>, Option<MapPatch<String>>);

impl<'de> Visitor<'de> for NamesSeed<'_> {
    type Value = Option<MapPatch<String>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of names")
    }
    scalars_to_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.other(Scalar::Array))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut patch = MapPatch::default();
        let mut ok = true;
        let mut seen = 0u8;
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            let names = FieldPath::Whole("names");
            let path = FieldPath::Key(&names, &key);
            let Some(slot) = NAME_KEYS.iter().position(|name| *name == key) else {
                if is_number_token(&key) {
                    map.next_value::<IgnoredAny>()?;
                    return Ok(self.other(Scalar::Number("".into())));
                }
                self.sink.report(
                    path,
                    ErrorCode::UnsupportedKey,
                    format!(
                        "`{}` is not a name; names are {}",
                        shown_key(&key),
                        NAME_KEYS.join(", ")
                    ),
                );
                map.next_value::<IgnoredAny>()?;
                ok = false;
                continue;
            };
            if seen & (1 << slot) != 0 {
                duplicate_key(path, self.sink);
                map.next_value::<IgnoredAny>()?;
                ok = false;
                continue;
            }
            seen |= 1 << slot;
            let sink = &mut *self.sink;
            let value = map.next_value_seed(WithScalar(|scalar| {
                text(scalar, path, MAX_STRING_CHARS, sink)
            }))?;
            match value {
                Some(Field::Set(name)) => patch.entries.push((key.into_owned(), Some(name))),
                Some(_) => patch.entries.push((key.into_owned(), None)),
                None => ok = false,
            }
        }
        Ok(ok.then_some(patch))
    }
}

/// `tags`: up to 30 strings of up to 100 characters (a repeated tag is kept once); `null`
/// clears them.
pub struct TagsSeed<'s> {
    pub sink: &'s mut ErrorSink,
}

impl TagsSeed<'_> {
    fn other(self, found: Scalar<'_>) -> Option<Field<Vec<String>>> {
        if found == Scalar::Null {
            return Some(Field::Clear);
        }
        self.sink
            .wrong_type("tags", "an array of strings", found.type_name());
        None
    }
}

any_type_seed!(TagsSeed<'_>, Option<Field<Vec<String>>>);

impl<'de> Visitor<'de> for TagsSeed<'_> {
    type Value = Option<Field<Vec<String>>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an array of tags")
    }
    scalars_to_other!();
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(self.other(Scalar::Object))
    }
    /// Every element is read; the limit counts distinct tags (a repeated tag is dropped first).
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut tags: Vec<String> = Vec::new();
        let mut distinct: HashSet<String> = HashSet::new();
        let mut ok = true;
        let mut count = 0usize;
        loop {
            let tags_path = FieldPath::Whole("tags");
            let path = FieldPath::Element(&tags_path, count);
            let sink = &mut *self.sink;
            let Some(tag) = seq.next_element_seed(WithScalar(|scalar| match scalar {
                Scalar::Null => {
                    sink.wrong_type(path, "a string", "null");
                    None
                }
                other => text(other, path, MAX_TAG_CHARS, sink),
            }))?
            else {
                break;
            };
            count += 1;
            match tag {
                Some(Field::Set(tag)) => {
                    if distinct.insert(tag.clone()) && tags.len() < MAX_TAGS {
                        tags.push(tag);
                    }
                }
                Some(_) => {}
                None => ok = false,
            }
        }
        if distinct.len() > MAX_TAGS {
            self.sink.report(
                "tags",
                ErrorCode::ExceededCountLimit,
                format!("at most {MAX_TAGS} distinct tags, got {}", distinct.len()),
            );
            ok = false;
        }
        Ok(ok.then_some(Field::Set(tags)))
    }
}

/// `custom_fields`: up to 30 keys of up to 255 characters; each value a string (≤ 255), a
/// number, a boolean, `null` (removes the key) or (EXT) an array or object of at most 4 KiB of
/// JSON; `null` for the whole map clears it.
pub struct CustomFieldsSeed<'p, 's> {
    pub path: FieldPath<'p>,
    pub sink: &'s mut ErrorSink,
}

impl CustomFieldsSeed<'_, '_> {
    fn other(self, found: Scalar<'_>) -> Option<MapPatch<CustomValue>> {
        if found == Scalar::Null {
            return Some(MapPatch::clear());
        }
        self.sink
            .wrong_type(self.path, "an object", found.type_name());
        None
    }
}

any_type_seed!(CustomFieldsSeed<'_, '_>, Option<MapPatch<CustomValue>>);

/// Checks one custom value from its raw text; `None` inside `Some` removes the key.
pub fn custom_value(
    raw: &RawValue,
    path: FieldPath<'_>,
    sink: &mut ErrorSink,
) -> Option<Option<CustomValue>> {
    let text = raw.get();
    match text.as_bytes().first() {
        Some(b'n') => Some(None),
        Some(b't') => Some(Some(CustomValue::Bool(true))),
        Some(b'f') => Some(Some(CustomValue::Bool(false))),
        Some(b'"') => {
            let value = if text.contains('\\') {
                serde_json::from_str::<String>(text).ok()?
            } else {
                text[1..text.len() - 1].to_owned()
            };
            if !reject_nul(&value, path, sink) {
                return None;
            }
            if value.chars().count() > MAX_CUSTOM_FIELD_VALUE_CHARS {
                sink.report(
                    path,
                    ErrorCode::ExceededValueLengthLimit,
                    format!(
                        "custom field strings may have at most {MAX_CUSTOM_FIELD_VALUE_CHARS} characters"
                    ),
                );
                return None;
            }
            Some(Some(CustomValue::Text(value)))
        }
        Some(b'{' | b'[') => {
            if text.len() > MAX_CUSTOM_FIELD_JSON_BYTES {
                sink.report(
                    path,
                    ErrorCode::ExceededValueLengthLimit,
                    format!(
                        "structured custom field values may have at most \
                         {MAX_CUSTOM_FIELD_JSON_BYTES} bytes of JSON, this one has {}",
                        text.len()
                    ),
                );
                return None;
            }
            let before = sink.is_empty();
            check_structured(text, path, sink);
            (sink.is_empty() == before).then(|| Some(CustomValue::Structured(raw.to_owned())))
        }
        _ => match check_number(text) {
            Ok(_) => Some(Some(CustomValue::Number(raw.to_owned()))),
            Err(problem) => {
                let shown = crate::record_error::truncate_utf8(text, 80);
                sink.report(
                    path,
                    ErrorCode::InvalidValue,
                    format!("the number {shown} {problem}"),
                );
                None
            }
        },
    }
}

impl<'de> Visitor<'de> for CustomFieldsSeed<'_, '_> {
    type Value = Option<MapPatch<CustomValue>>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object of custom fields")
    }
    scalars_to_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.other(Scalar::Array))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut patch: MapPatch<CustomValue> = MapPatch::default();
        let mut ok = true;
        let mut count = 0usize;
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if count == 0 && is_number_token(&key) {
                map.next_value::<IgnoredAny>()?;
                return Ok(self.other(Scalar::Number("".into())));
            }
            count += 1;
            if count > MAX_CUSTOM_FIELDS {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let path = FieldPath::Key(&self.path, &key);
            if key.is_empty() {
                self.sink.report(
                    path,
                    ErrorCode::InvalidValue,
                    "custom field keys may not be empty",
                );
                ok = false;
            } else if key.chars().count() > MAX_CUSTOM_FIELD_KEY_CHARS {
                self.sink.report(
                    path,
                    ErrorCode::ExceededKeyLengthLimit,
                    format!(
                        "custom field keys may have at most {MAX_CUSTOM_FIELD_KEY_CHARS} characters"
                    ),
                );
                ok = false;
            } else if !reject_nul(&key, path, self.sink) {
                ok = false;
            } else if patch.entries.iter().any(|(seen, _)| *seen == key) {
                duplicate_key(path, self.sink);
                ok = false;
            } else {
                let raw = map.next_value::<&'de RawValue>()?;
                match custom_value(raw, path, self.sink) {
                    Some(value) => patch.entries.push((key.into_owned(), value)),
                    None => ok = false,
                }
                continue;
            }
            map.next_value::<IgnoredAny>()?;
        }
        if count > MAX_CUSTOM_FIELDS {
            self.sink.report(
                self.path,
                ErrorCode::ExceededCountLimit,
                format!("at most {MAX_CUSTOM_FIELDS} custom fields, got {count}"),
            );
            ok = false;
        }
        Ok(ok.then_some(patch))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn custom(text: &str) -> (Option<MapPatch<CustomValue>>, Vec<(String, ErrorCode)>) {
        let mut sink = ErrorSink::default();
        let seed = CustomFieldsSeed {
            path: "custom_fields".into(),
            sink: &mut sink,
        };
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let patch = seed.deserialize(&mut deserializer).unwrap();
        let errors = sink
            .into_errors()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        (patch, errors)
    }

    #[test]
    fn custom_values_keep_their_text() {
        let (patch, errors) = custom(
            r#"{"n":1e308,"z":-0.0,"o":{"x":null,"y":[1,{"k":null}]},"gone":null,"s":"a\"b"}"#,
        );
        assert!(errors.is_empty(), "{errors:?}");
        let patch = patch.unwrap();
        let shown: Vec<String> = patch
            .entries
            .iter()
            .map(|(key, value)| match value {
                Some(value) => format!("{key}={}", serde_json::to_string(value).unwrap()),
                None => format!("{key}=removed"),
            })
            .collect();
        assert_eq!(
            shown,
            vec![
                "n=1e308",
                "z=-0.0",
                r#"o={"x":null,"y":[1,{"k":null}]}"#,
                "gone=removed",
                r#"s="a\"b""#
            ]
        );
    }

    #[test]
    fn bad_custom_values_are_reported_with_their_key() {
        let (patch, errors) = custom(r#"{"n":1e-99999,"o":{"n":1e-100000},"k":1,"k":2,"":1}"#);
        assert!(patch.is_none());
        assert_eq!(
            errors,
            vec![
                ("custom_fields.n".to_owned(), ErrorCode::InvalidValue),
                ("custom_fields.o.n".to_owned(), ErrorCode::InvalidValue),
                ("custom_fields.k".to_owned(), ErrorCode::DuplicateKey),
                ("custom_fields.".to_owned(), ErrorCode::InvalidValue),
            ]
        );
    }

    #[test]
    fn a_hundred_thousand_custom_fields_give_one_count_error() {
        let body: Vec<String> = (0..100_000).map(|i| format!("\"k{i}\":{i}")).collect();
        let (patch, errors) = custom(&format!("{{{}}}", body.join(",")));
        assert!(patch.is_none());
        assert_eq!(
            errors,
            vec![("custom_fields".to_owned(), ErrorCode::ExceededCountLimit)]
        );
    }
}
