//! Typed profiles: the fields records set, the stored state they change, and the change sets
//! that results and events report. Parsing lives in `crate::record`.

pub mod app;
pub mod core;
pub mod field_set;
pub mod selector;
pub mod view;

pub use field_set::{FieldName, FieldSet};

use crate::values::{CustomFields, CustomValue};
use std::collections::BTreeMap;

/// A profile's names (`first_name`, `last_name`, `full_name`, `display_name`).
pub type Names = BTreeMap<String, String>;

/// Changes to a map-valued field (`names`, `custom_fields`): optionally clear everything first,
/// then set (`Some`) or remove (`None`) single keys, in the record's order.
#[derive(Debug, Clone, PartialEq)]
pub struct MapPatch<V> {
    /// Start from an empty map (the field was `null`).
    pub replace: bool,
    pub entries: Vec<(String, Option<V>)>,
}

impl<V> Default for MapPatch<V> {
    fn default() -> Self {
        MapPatch {
            replace: false,
            entries: Vec::new(),
        }
    }
}

impl<V: Clone> MapPatch<V> {
    /// The patch of a field sent as `null`: remove every key.
    pub fn clear() -> MapPatch<V> {
        MapPatch {
            replace: true,
            entries: Vec::new(),
        }
    }
}

/// The names after applying `patch`.
pub fn patch_names(patch: &MapPatch<String>, names: &Names) -> Names {
    let mut result = if patch.replace {
        Names::new()
    } else {
        names.clone()
    };
    for (key, value) in &patch.entries {
        match value {
            Some(value) => result.insert(key.clone(), value.clone()),
            None => result.remove(key),
        };
    }
    result
}

/// The custom fields after applying `patch` (existing keys keep their place).
pub fn patch_custom_fields(patch: &MapPatch<CustomValue>, fields: &CustomFields) -> CustomFields {
    let mut result = if patch.replace {
        CustomFields::default()
    } else {
        fields.clone()
    };
    for (key, value) in &patch.entries {
        match value {
            Some(value) => result.set(key, value.clone()),
            None => result.remove(key),
        }
    }
    result
}

/// The custom fields after applying `patch`, refused when they would exceed the limit of
/// [`MAX_CUSTOM_FIELDS`](crate::limits::MAX_CUSTOM_FIELDS).
pub fn merge_custom_fields(
    patch: &MapPatch<CustomValue>,
    fields: &CustomFields,
) -> Result<CustomFields, crate::record_error::FieldError> {
    use crate::limits::MAX_CUSTOM_FIELDS;
    let merged = patch_custom_fields(patch, fields);
    if merged.len() > MAX_CUSTOM_FIELDS {
        return Err(crate::record_error::FieldError::new(
            "custom_fields",
            crate::record_error::ErrorCode::ExceededCountLimit,
            format!(
                "a profile may have at most {MAX_CUSTOM_FIELDS} custom fields; this record would \
                 leave it with {}",
                merged.len()
            ),
        ));
    }
    Ok(merged)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_patches_merge_per_key_and_null_removes() {
        let existing = CustomFields::from_json(r#"{"plan":"gold","seats":3}"#).unwrap();
        let patch = MapPatch {
            replace: false,
            entries: vec![
                ("plan".to_owned(), Some(CustomValue::Text("silver".into()))),
                ("seats".to_owned(), None),
                ("new".to_owned(), Some(CustomValue::Bool(true))),
            ],
        };
        assert_eq!(
            patch_custom_fields(&patch, &existing).to_json(),
            r#"{"plan":"silver","new":true}"#
        );
        assert!(patch_custom_fields(&MapPatch::clear(), &existing).is_empty());
    }

    #[test]
    fn name_patches_merge_per_key() {
        let mut names = Names::new();
        names.insert("first_name".into(), "Ada".into());
        let patch = MapPatch {
            replace: false,
            entries: vec![("last_name".to_owned(), Some("Lovelace".to_owned()))],
        };
        assert_eq!(patch_names(&patch, &names).len(), 2);
    }
}
