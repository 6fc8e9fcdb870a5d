//! Core profile records (`create_core_profiles`, `update_core_profiles`, `upsert_core_profiles`)
//! read in one pass over the record's text: every known key goes straight into its typed field,
//! unknown keys are `UNSUPPORTED_KEY` and a key given twice is `DUPLICATE_KEY`.

use super::fields::{self, integer};
use super::identities::{IdentitiesField, IdentitiesSeed};
use super::maps::{CustomFieldsSeed, NamesSeed, TagsSeed, any_type_seed, scalars_to_other};
use super::object::{scalar_field, walk_object};
use super::read::{Scalar, WithScalar};
use super::sink::ErrorSink;
use crate::field::Field;
use crate::ids::CoreProfileId;
use crate::limits::{AGE_RANGE, EPOCH_MS_RANGE, MAX_STRING_CHARS};
use crate::profile::core::{CORE_PROFILE_ID_KEY, CoreProfileFields};
use crate::record_error::ErrorCode;
use crate::values::number::number_parts;
use crate::values::version::VERSION_KEY;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

/// The keys a core record may carry, and with `core-profile-id` (allowed by some task types).
const KEYS_WITH_ID: [&str; 17] = [
    CORE_PROFILE_ID_KEY,
    "identities",
    "names",
    "tags",
    "custom_fields",
    "full_privacy_enabled",
    "last_country",
    "last_city",
    "age",
    "lifetime_value",
    "user_persona",
    "user_vip_segment",
    "user_support_status",
    "accepted_t_and_c",
    "preferred_language",
    "last_active_date",
    VERSION_KEY,
];
const FIELD_KEYS: [&str; 16] = [
    "identities",
    "names",
    "tags",
    "custom_fields",
    "full_privacy_enabled",
    "last_country",
    "last_city",
    "age",
    "lifetime_value",
    "user_persona",
    "user_vip_segment",
    "user_support_status",
    "accepted_t_and_c",
    "preferred_language",
    "last_active_date",
    VERSION_KEY,
];

/// What a core record held, before the task type's own rules.
#[derive(Debug, Default)]
pub struct CoreRecordParts {
    /// `None`: absent; `Some(None)`: present but invalid (reported).
    pub id: Option<Option<CoreProfileId>>,
    /// `None`: absent.
    pub identities: Option<IdentitiesField>,
    pub fields: CoreProfileFields,
    /// Whether `core-profile-id` was `null`.
    pub id_null: bool,
}

/// Reads a `core-profile-id` value: an integer (or a string holding one), positive, below 2^53.
pub fn core_profile_id(scalar: Scalar<'_>, sink: &mut ErrorSink) -> Option<CoreProfileId> {
    let key = CORE_PROFILE_ID_KEY;
    let text = match &scalar {
        Scalar::Number(text) => text.as_ref(),
        Scalar::Text(text) => text.trim(),
        other => {
            sink.wrong_type(key, "an integer", other.type_name());
            return None;
        }
    };
    let id = number_parts(text)
        .and_then(|parts| parts.to_i64().ok())
        .and_then(CoreProfileId::new);
    if id.is_none() {
        sink.report(
            key,
            ErrorCode::InvalidValue,
            format!("`{key}` must be a positive integer below 2^53"),
        );
    }
    id
}

/// Reads a core record; `allow_id` says whether `core-profile-id` is a known key.
pub struct CoreRecordSeed<'s> {
    pub allow_id: bool,
    pub sink: &'s mut ErrorSink,
}

impl CoreRecordSeed<'_> {
    fn other(self, found: Scalar<'_>) -> Option<CoreRecordParts> {
        self.sink.wrong_type("", "a JSON object", found.type_name());
        None
    }
}

any_type_seed!(CoreRecordSeed<'_>, Option<CoreRecordParts>);

impl<'de> Visitor<'de> for CoreRecordSeed<'_> {
    type Value = Option<CoreRecordParts>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a profile record (a JSON object)")
    }
    scalars_to_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.other(Scalar::Array))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut parts = CoreRecordParts::default();
        let known: &[&str] = if self.allow_id {
            &KEYS_WITH_ID
        } else {
            &FIELD_KEYS
        };
        let object = walk_object(&mut map, known, self.sink, |key, map, sink| {
            let f = &mut parts.fields;
            let text =
                |s, name: &str, sink: &mut ErrorSink| fields::text(s, name, MAX_STRING_CHARS, sink);
            match key {
                CORE_PROFILE_ID_KEY => {
                    let id = map.next_value_seed(WithScalar(|scalar| match scalar {
                        Scalar::Null => None,
                        other => Some(core_profile_id(other, sink)),
                    }))?;
                    match id {
                        None => parts.id_null = true,
                        Some(id) => parts.id = Some(id),
                    }
                }
                "identities" => {
                    let seed = IdentitiesSeed {
                        path: "identities".into(),
                        sink,
                    };
                    parts.identities = Some(map.next_value_seed(seed)?);
                }
                "names" => f.names = map.next_value_seed(NamesSeed { sink })?,
                "tags" => {
                    f.tags = map
                        .next_value_seed(TagsSeed { sink })?
                        .unwrap_or(Field::Absent)
                }
                "custom_fields" => {
                    let seed = CustomFieldsSeed {
                        path: "custom_fields".into(),
                        sink,
                    };
                    f.custom_fields = map.next_value_seed(seed)?;
                }
                "full_privacy_enabled" => {
                    f.full_privacy_enabled =
                        scalar_field(map, |s| fields::boolean(s, "full_privacy_enabled", sink))?
                }
                "last_country" => {
                    f.last_country =
                        scalar_field(map, |s| fields::country(s, "last_country", sink))?
                }
                "last_city" => f.last_city = scalar_field(map, |s| text(s, "last_city", sink))?,
                "age" => f.age = scalar_field(map, |s| integer(s, "age", AGE_RANGE, sink))?,
                "lifetime_value" => {
                    f.lifetime_value =
                        scalar_field(map, |s| fields::decimal(s, "lifetime_value", None, sink))?
                }
                "user_persona" => {
                    f.user_persona = scalar_field(map, |s| text(s, "user_persona", sink))?
                }
                "user_vip_segment" => {
                    f.user_vip_segment = scalar_field(map, |s| text(s, "user_vip_segment", sink))?
                }
                "user_support_status" => {
                    f.user_support_status =
                        scalar_field(map, |s| text(s, "user_support_status", sink))?
                }
                "accepted_t_and_c" => {
                    f.accepted_t_and_c =
                        scalar_field(map, |s| fields::boolean(s, "accepted_t_and_c", sink))?
                }
                "preferred_language" => {
                    f.preferred_language =
                        scalar_field(map, |s| fields::language(s, "preferred_language", sink))?
                }
                "last_active_date" => {
                    f.last_active_date = scalar_field(map, |s| {
                        integer(s, "last_active_date", EPOCH_MS_RANGE, sink)
                    })?
                }
                VERSION_KEY => {
                    f.version = map.next_value_seed(WithScalar(|s| fields::version(s, sink)))?
                }
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
            Ok(())
        })?;
        Ok(object.then_some(parts))
    }
}

/// Reads a core record from its text; `None` when it is not a JSON object (reported).
pub fn read_core_record(
    text: &str,
    allow_id: bool,
    sink: &mut ErrorSink,
) -> Option<CoreRecordParts> {
    let seed = CoreRecordSeed {
        allow_id,
        sink: &mut *sink,
    };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    match seed
        .deserialize(&mut deserializer)
        .and_then(|parts| deserializer.end().map(|()| parts))
    {
        Ok(parts) => parts,
        Err(error) => {
            sink.report(
                "",
                ErrorCode::InvalidJson,
                format!("the record is not valid JSON: {error}"),
            );
            None
        }
    }
}
