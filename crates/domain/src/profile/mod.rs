//! Typed profile records and the field groups they share (names, tags, custom fields).

pub mod app;
pub mod core;
pub mod selector;

use crate::field::Field;
use crate::limits::{
    MAX_CUSTOM_FIELD_KEY_CHARS, MAX_CUSTOM_FIELD_VALUE_CHARS, MAX_CUSTOM_FIELDS, MAX_STRING_CHARS,
    MAX_TAG_CHARS, MAX_TAGS,
};
use crate::object_parser::{ErrorSink, ObjectParser, parse_string, wrong_type};
use crate::record_error::{ErrorCode, FieldError};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Changes to a map-valued field (`names`, `custom_fields`): optionally clear everything first,
/// then set (`Some`) or remove (`None`) single keys.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct MapPatch {
    /// Start from an empty map (the field was `null`).
    pub replace: bool,
    pub entries: BTreeMap<String, Option<Value>>,
}

impl MapPatch {
    /// Applies `later` after `self`, as two records in input order would.
    pub fn overlay(mut self, later: MapPatch) -> MapPatch {
        if later.replace {
            return later;
        }
        self.entries.extend(later.entries);
        self
    }

    /// The map that results from applying this patch to `existing`.
    pub fn apply(&self, existing: &Map<String, Value>) -> Map<String, Value> {
        let mut result = if self.replace {
            Map::new()
        } else {
            existing.clone()
        };
        for (key, value) in &self.entries {
            match value {
                Some(value) => result.insert(key.clone(), value.clone()),
                None => result.remove(key),
            };
        }
        result
    }
}

/// Overlays two optional map patches (absent patches change nothing).
pub fn overlay_maps(earlier: Option<MapPatch>, later: Option<MapPatch>) -> Option<MapPatch> {
    match (earlier, later) {
        (earlier, None) => earlier,
        (None, later) => later,
        (Some(earlier), Some(later)) => Some(earlier.overlay(later)),
    }
}

/// `names`: first/last/full/display name, each a string or `null` (remove).
pub fn parse_names(parser: &mut ObjectParser<'_>, sink: &mut ErrorSink) -> Option<MapPatch> {
    const NAME_KEYS: [&str; 4] = ["first_name", "last_name", "full_name", "display_name"];
    let path = parser.path("names");
    let value = parser.raw("names")?;
    let object = match value {
        Value::Null => {
            return Some(MapPatch {
                replace: true,
                entries: BTreeMap::new(),
            });
        }
        Value::Object(object) => object,
        _ => {
            sink.push(wrong_type(&path, "an object of names"));
            return None;
        }
    };
    let mut entries = BTreeMap::new();
    let mut names = ObjectParser::new(object, path);
    for key in NAME_KEYS {
        match names.string(key, MAX_STRING_CHARS, sink) {
            Field::Absent => {}
            Field::Clear => {
                entries.insert(key.to_owned(), None);
            }
            Field::Set(text) => {
                entries.insert(key.to_owned(), Some(Value::String(text)));
            }
        }
    }
    names.finish(sink);
    Some(MapPatch {
        replace: false,
        entries,
    })
}

/// `tags`: up to 30 strings of up to 100 characters; duplicates are kept once.
pub fn parse_tags(parser: &mut ObjectParser<'_>, sink: &mut ErrorSink) -> Field<Vec<String>> {
    let path = parser.path("tags");
    let Some(value) = parser.raw("tags") else {
        return Field::Absent;
    };
    let items = match value {
        Value::Null => return Field::Clear,
        Value::Array(items) => items,
        _ => {
            sink.push(wrong_type(&path, "an array of strings"));
            return Field::Absent;
        }
    };
    if items.len() > MAX_TAGS {
        sink.push(FieldError::new(
            &path,
            ErrorCode::ExceededCountLimit,
            format!("at most {MAX_TAGS} tags"),
        ));
        return Field::Absent;
    }
    let mut tags: Vec<String> = Vec::with_capacity(items.len());
    let mut ok = true;
    for (position, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{position}]");
        match item {
            Value::String(_) => match parse_string(item, &item_path, MAX_TAG_CHARS, sink) {
                Some(Field::Set(tag)) if !tags.contains(&tag) => tags.push(tag),
                Some(_) => {}
                None => ok = false,
            },
            _ => {
                sink.push(wrong_type(&item_path, "a string"));
                ok = false;
            }
        }
    }
    if ok { Field::Set(tags) } else { Field::Absent }
}

/// `custom_fields`: up to 30 keys; values are strings (≤ 255), numbers, booleans, `null`, or
/// (EXT) arrays and objects of at most `MAX_CUSTOM_FIELD_JSON_BYTES` of JSON.
pub fn parse_custom_fields(
    parser: &mut ObjectParser<'_>,
    sink: &mut ErrorSink,
) -> Option<MapPatch> {
    let path = parser.path("custom_fields");
    let value = parser.raw("custom_fields")?;
    let object = match value {
        Value::Null => {
            return Some(MapPatch {
                replace: true,
                entries: BTreeMap::new(),
            });
        }
        Value::Object(object) => object,
        _ => {
            sink.push(wrong_type(&path, "an object"));
            return None;
        }
    };
    if object.len() > MAX_CUSTOM_FIELDS {
        sink.push(FieldError::new(
            &path,
            ErrorCode::ExceededCountLimit,
            format!(
                "at most {MAX_CUSTOM_FIELDS} custom fields, got {}",
                object.len()
            ),
        ));
        return None;
    }
    let mut entries = BTreeMap::new();
    let mut ok = true;
    for (key, value) in object {
        let entry_path = format!("{path}.{key}");
        if key.is_empty() || key.chars().count() > MAX_CUSTOM_FIELD_KEY_CHARS {
            let (code, message) = if key.is_empty() {
                (
                    ErrorCode::InvalidValue,
                    "custom field keys may not be empty".to_owned(),
                )
            } else {
                (
                    ErrorCode::ExceededKeyLengthLimit,
                    format!(
                        "custom field keys may have at most {MAX_CUSTOM_FIELD_KEY_CHARS} characters"
                    ),
                )
            };
            sink.push(FieldError::new(&entry_path, code, message));
            ok = false;
            continue;
        }
        let entry = match value {
            Value::Null => None,
            Value::Bool(_) | Value::Number(_) => Some(value.clone()),
            Value::String(text) if text.chars().count() <= MAX_CUSTOM_FIELD_VALUE_CHARS => {
                Some(value.clone())
            }
            Value::String(_) => {
                sink.push(FieldError::new(
                    &entry_path,
                    ErrorCode::ExceededValueLengthLimit,
                    format!("custom field values may have at most {MAX_CUSTOM_FIELD_VALUE_CHARS} characters"),
                ));
                ok = false;
                continue;
            }
            // EXT: structured values (e.g. imported array attributes), bounded by their JSON size.
            Value::Array(_) | Value::Object(_)
                if value.to_string().len() <= crate::limits::MAX_CUSTOM_FIELD_JSON_BYTES =>
            {
                Some(value.clone())
            }
            _ => {
                sink.push(FieldError::new(
                    &entry_path,
                    ErrorCode::ExceededValueLengthLimit,
                    format!(
                        "structured custom field values may have at most {} bytes of JSON",
                        crate::limits::MAX_CUSTOM_FIELD_JSON_BYTES
                    ),
                ));
                ok = false;
                continue;
            }
        };
        entries.insert(key.clone(), entry);
    }
    ok.then_some(MapPatch {
        replace: false,
        entries,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patch(replace: bool, entries: &[(&str, Option<Value>)]) -> MapPatch {
        MapPatch {
            replace,
            entries: entries
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.clone()))
                .collect(),
        }
    }

    #[test]
    fn map_patches_merge_per_key_and_null_removes() {
        let existing = json!({"plan": "gold", "seats": 3})
            .as_object()
            .unwrap()
            .clone();
        let change = patch(
            false,
            &[
                ("plan", Some(json!("silver"))),
                ("seats", None),
                ("new", Some(json!(true))),
            ],
        );
        assert_eq!(
            Value::Object(change.apply(&existing)),
            json!({"plan": "silver", "new": true})
        );
    }

    #[test]
    fn a_later_clear_wins_over_earlier_keys_and_later_keys_survive_an_earlier_clear() {
        let set_a = patch(false, &[("a", Some(json!(1)))]);
        let clear = patch(true, &[]);
        let set_b = patch(false, &[("b", Some(json!(2)))]);
        let combined = set_a.overlay(clear).overlay(set_b);
        let existing = json!({"old": 0}).as_object().unwrap().clone();
        assert_eq!(Value::Object(combined.apply(&existing)), json!({"b": 2}));
    }

    #[test]
    fn a_hundred_thousand_custom_fields_give_one_count_error() {
        let huge: Map<String, Value> = (0..100_000).map(|i| (format!("k{i}"), json!(i))).collect();
        let record = json!({"custom_fields": huge});
        let mut sink = ErrorSink::default();
        let mut parser = ObjectParser::new(record.as_object().unwrap(), "");
        assert!(parse_custom_fields(&mut parser, &mut sink).is_none());
        let errors = sink.into_errors();
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].code, ErrorCode::ExceededCountLimit);
    }
}
