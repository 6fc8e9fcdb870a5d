//! App profile records (`create_app_profiles`, `update_app_profiles`) read in one pass over the
//! record's text, with the same rules as core records for unknown and repeated keys.

use super::core::core_profile_id;
use super::fields::{self, integer, reject_nul};
use super::maps::{CustomFieldsSeed, any_type_seed, scalars_to_other};
use super::object::{scalar_field, walk_object};
use super::read::{Scalar, WithScalar};
use super::sink::ErrorSink;
use crate::ids::CoreProfileId;
use crate::limits::MAX_STRING_CHARS;
use crate::profile::app::{APP_ID_KEY, AppProfileFields, MAX_APP_RATING, PID_KEY};
use crate::profile::core::CORE_PROFILE_ID_KEY;
use crate::record_error::ErrorCode;
use crate::values::version::VERSION_KEY;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

const CREATE_KEYS: [&str; 16] = [
    CORE_PROFILE_ID_KEY,
    APP_ID_KEY,
    "custom_fields",
    "user_persona",
    "user_paying_segment",
    "user_vip_segment",
    "user_level",
    "accepted_t_and_c",
    "app_status",
    "user_support_status",
    "country",
    "city",
    "language",
    "app_rating",
    "lifetime_value",
    VERSION_KEY,
];
const UPDATE_KEYS: [&str; 15] = [
    PID_KEY,
    "custom_fields",
    "user_persona",
    "user_paying_segment",
    "user_vip_segment",
    "user_level",
    "accepted_t_and_c",
    "app_status",
    "user_support_status",
    "country",
    "city",
    "language",
    "app_rating",
    "lifetime_value",
    VERSION_KEY,
];

/// The keys that identify an app record, besides its fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AppRecordKeys {
    /// `core-profile-id` and `app_id` (creates).
    CoreAndApp,
    /// `pid` (updates).
    Pid,
}

/// What an app record held, before the task type's own rules.
#[derive(Debug, Default)]
pub struct AppRecordParts {
    /// `Some(None)`: present but invalid.
    pub core_profile_id: Option<Option<CoreProfileId>>,
    pub app_id: Option<Option<String>>,
    pub pid: Option<Option<String>>,
    pub fields: AppProfileFields,
}

/// A required, non-empty string identifier (`app_id`, `pid`), trimmed.
pub fn identifier(
    scalar: Scalar<'_>,
    key: &str,
    max_chars: usize,
    sink: &mut ErrorSink,
) -> Option<String> {
    match scalar {
        Scalar::Null => {
            sink.report(
                key,
                ErrorCode::MissingRequiredField,
                format!("`{key}` is required"),
            );
            None
        }
        Scalar::Text(text) => {
            let text = text.trim();
            if text.is_empty() {
                sink.report(
                    key,
                    ErrorCode::InvalidValue,
                    format!("`{key}` may not be empty"),
                );
                return None;
            }
            if !reject_nul(text, key, sink) {
                return None;
            }
            if text.chars().count() > max_chars {
                sink.report(
                    key,
                    ErrorCode::ExceededValueLengthLimit,
                    format!("`{key}` may have at most {max_chars} characters"),
                );
                return None;
            }
            Some(text.to_owned())
        }
        other => {
            sink.wrong_type(key, "a non-empty string", other.type_name());
            None
        }
    }
}

struct AppRecordSeed<'s> {
    keys: AppRecordKeys,
    sink: &'s mut ErrorSink,
}

impl AppRecordSeed<'_> {
    fn other(self, found: Scalar<'_>) -> Option<AppRecordParts> {
        self.sink.wrong_type("", "a JSON object", found.type_name());
        None
    }
}

any_type_seed!(AppRecordSeed<'_>, Option<AppRecordParts>);

impl<'de> Visitor<'de> for AppRecordSeed<'_> {
    type Value = Option<AppRecordParts>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an app profile record (a JSON object)")
    }
    scalars_to_other!();
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.other(Scalar::Array))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut parts = AppRecordParts::default();
        let known: &[&str] = match self.keys {
            AppRecordKeys::CoreAndApp => &CREATE_KEYS,
            AppRecordKeys::Pid => &UPDATE_KEYS,
        };
        let object = walk_object(&mut map, known, self.sink, |key, map, sink| {
            let f = &mut parts.fields;
            let text =
                |s, name: &str, sink: &mut ErrorSink| fields::text(s, name, MAX_STRING_CHARS, sink);
            match key {
                CORE_PROFILE_ID_KEY => {
                    parts.core_profile_id =
                        Some(map.next_value_seed(WithScalar(|scalar| match scalar {
                            Scalar::Null => {
                                sink.report(
                                    CORE_PROFILE_ID_KEY,
                                    ErrorCode::MissingRequiredField,
                                    format!("`{CORE_PROFILE_ID_KEY}` is required"),
                                );
                                None
                            }
                            other => core_profile_id(other, sink),
                        }))?)
                }
                APP_ID_KEY => {
                    parts.app_id = Some(map.next_value_seed(WithScalar(|s| {
                        identifier(s, APP_ID_KEY, crate::limits::MAX_APP_ID_CHARS, sink)
                    }))?)
                }
                PID_KEY => {
                    parts.pid = Some(map.next_value_seed(WithScalar(|s| {
                        identifier(s, PID_KEY, crate::profile::app::MAX_PID_CHARS, sink)
                    }))?)
                }
                "custom_fields" => {
                    let seed = CustomFieldsSeed {
                        path: "custom_fields".into(),
                        sink,
                    };
                    f.custom_fields = map.next_value_seed(seed)?;
                }
                "user_persona" => {
                    f.user_persona = scalar_field(map, |s| text(s, "user_persona", sink))?
                }
                "user_paying_segment" => {
                    f.user_paying_segment =
                        scalar_field(map, |s| text(s, "user_paying_segment", sink))?
                }
                "user_vip_segment" => {
                    f.user_vip_segment = scalar_field(map, |s| text(s, "user_vip_segment", sink))?
                }
                "user_level" => {
                    let range = i64::from(i32::MIN)..=i64::from(i32::MAX);
                    f.user_level = scalar_field(map, |s| integer(s, "user_level", range, sink))?
                }
                "accepted_t_and_c" => {
                    f.accepted_t_and_c =
                        scalar_field(map, |s| fields::boolean(s, "accepted_t_and_c", sink))?
                }
                "app_status" => f.app_status = scalar_field(map, |s| text(s, "app_status", sink))?,
                "user_support_status" => {
                    f.user_support_status =
                        scalar_field(map, |s| text(s, "user_support_status", sink))?
                }
                "country" => {
                    f.country = scalar_field(map, |s| fields::country(s, "country", sink))?
                }
                "city" => f.city = scalar_field(map, |s| text(s, "city", sink))?,
                "language" => {
                    f.language = scalar_field(map, |s| fields::language(s, "language", sink))?
                }
                "app_rating" => {
                    f.app_rating = scalar_field(map, |s| {
                        fields::decimal(s, "app_rating", Some(MAX_APP_RATING), sink)
                    })?
                }
                "lifetime_value" => {
                    f.lifetime_value =
                        scalar_field(map, |s| fields::decimal(s, "lifetime_value", None, sink))?
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

/// Reads an app record from its text; `None` when it is not a JSON object (reported).
pub fn read_app_record(
    text: &str,
    keys: AppRecordKeys,
    sink: &mut ErrorSink,
) -> Option<AppRecordParts> {
    let seed = AppRecordSeed {
        keys,
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
