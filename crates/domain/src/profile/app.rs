//! App profiles: `create_app_profiles` (EXT) and `update_app_profiles` payloads.

use super::core::{CORE_PROFILE_ID_KEY, parse_core_profile_id, restrict};
use super::{MapPatch, overlay_maps, parse_custom_fields};
use crate::country::country_alpha2;
use crate::field::Field;
use crate::ids::CoreProfileId;
use crate::language::language_code;
use crate::limits::{MAX_APP_ID_CHARS, MAX_STRING_CHARS};
use crate::object_parser::{ErrorSink, ObjectParser, reject_nul_characters, wrong_type};
use crate::record_error::{ErrorCode, FieldError};
use serde_json::Value;

/// The key of an app profile id in records.
pub const PID_KEY: &str = "pid";
/// The key of the app in `create_app_profiles` records.
pub const APP_ID_KEY: &str = "app_id";
/// Longest `pid` accepted in a record.
const MAX_PID_CHARS: usize = 255;
/// Highest `app_rating`.
const MAX_APP_RATING: f64 = 5.0;

/// The fields of an app profile, each possibly absent or cleared.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct AppProfileFields {
    pub custom_fields: Option<MapPatch>,
    pub user_persona: Field<String>,
    pub user_paying_segment: Field<String>,
    pub user_vip_segment: Field<String>,
    pub user_level: Field<i64>,
    pub accepted_t_and_c: Field<bool>,
    pub app_status: Field<String>,
    pub user_support_status: Field<String>,
    /// ISO 3166 alpha-2.
    pub country: Field<String>,
    pub city: Field<String>,
    /// ISO 639-1.
    pub language: Field<String>,
    /// Exact decimal text, 0..5.
    pub app_rating: Field<String>,
    /// Exact decimal text.
    pub lifetime_value: Field<String>,
}

impl AppProfileFields {
    /// The fields after applying `later` on top of `self`.
    pub fn overlay(self, later: AppProfileFields) -> AppProfileFields {
        AppProfileFields {
            custom_fields: overlay_maps(self.custom_fields, later.custom_fields),
            user_persona: self.user_persona.overlay(later.user_persona),
            user_paying_segment: self.user_paying_segment.overlay(later.user_paying_segment),
            user_vip_segment: self.user_vip_segment.overlay(later.user_vip_segment),
            user_level: self.user_level.overlay(later.user_level),
            accepted_t_and_c: self.accepted_t_and_c.overlay(later.accepted_t_and_c),
            app_status: self.app_status.overlay(later.app_status),
            user_support_status: self.user_support_status.overlay(later.user_support_status),
            country: self.country.overlay(later.country),
            city: self.city.overlay(later.city),
            language: self.language.overlay(later.language),
            app_rating: self.app_rating.overlay(later.app_rating),
            lifetime_value: self.lifetime_value.overlay(later.lifetime_value),
        }
    }

    fn parse(parser: &mut ObjectParser<'_>, sink: &mut ErrorSink) -> AppProfileFields {
        let country_path = parser.path("country");
        let language_path = parser.path("language");
        let country = parser.string("country", MAX_STRING_CHARS, sink);
        let language = parser.string("language", MAX_STRING_CHARS, sink);
        AppProfileFields {
            custom_fields: parse_custom_fields(parser, sink),
            user_persona: parser.string("user_persona", MAX_STRING_CHARS, sink),
            user_paying_segment: parser.string("user_paying_segment", MAX_STRING_CHARS, sink),
            user_vip_segment: parser.string("user_vip_segment", MAX_STRING_CHARS, sink),
            user_level: parser.integer(
                "user_level",
                i64::from(i32::MIN)..=i64::from(i32::MAX),
                sink,
            ),
            accepted_t_and_c: parser.boolean("accepted_t_and_c", sink),
            app_status: parser.string("app_status", MAX_STRING_CHARS, sink),
            user_support_status: parser.string("user_support_status", MAX_STRING_CHARS, sink),
            country: restrict(country, &country_path, sink, |text| {
                country_alpha2(text)
                    .map(str::to_owned)
                    .ok_or("is not an ISO 3166 country code or English country name")
            }),
            city: parser.string("city", MAX_STRING_CHARS, sink),
            language: restrict(language, &language_path, sink, |text| {
                language_code(text).ok_or("is not an ISO 639-1 language code")
            }),
            app_rating: parser.decimal("app_rating", Some(MAX_APP_RATING), sink),
            lifetime_value: parser.decimal("lifetime_value", None, sink),
        }
    }
}

/// A validated `create_app_profiles` record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAppProfile {
    pub core_profile_id: CoreProfileId,
    pub app_id: String,
    pub fields: AppProfileFields,
}

/// A validated `update_app_profiles` record.
#[derive(Debug, Clone, PartialEq)]
pub struct AppProfileUpdate {
    pub pid: String,
    pub fields: AppProfileFields,
    /// Top-level keys the record set, for the results file.
    pub updated_fields: Vec<String>,
}

/// Reads a required, non-empty string field of at most `max_chars` characters (trimmed).
fn parse_required_text(
    key: &'static str,
    value: Option<&Value>,
    max_chars: usize,
    sink: &mut ErrorSink,
) -> Option<String> {
    let Some(value) = value.filter(|value| !value.is_null()) else {
        let message = format!("`{key}` is required");
        sink.push(FieldError::new(
            key,
            ErrorCode::MissingRequiredField,
            message,
        ));
        return None;
    };
    let Some(text) = value
        .as_str()
        .map(str::trim)
        .filter(|text| !text.is_empty())
    else {
        sink.push(wrong_type(key, "a non-empty string"));
        return None;
    };
    if text.chars().count() > max_chars {
        let message = format!("`{key}` may have at most {max_chars} characters");
        sink.push(FieldError::new(
            key,
            ErrorCode::ExceededValueLengthLimit,
            message,
        ));
        return None;
    }
    Some(text.to_owned())
}

fn parse_app_id(value: Option<&Value>, sink: &mut ErrorSink) -> Option<String> {
    parse_required_text(APP_ID_KEY, value, MAX_APP_ID_CHARS, sink)
}

/// Reads a `pid` (a non-empty string).
pub fn parse_pid(value: Option<&Value>, sink: &mut ErrorSink) -> Option<String> {
    parse_required_text(PID_KEY, value, MAX_PID_CHARS, sink)
}

/// Parses a `create_app_profiles` record.
pub fn parse_new_app_profile(record: &Value) -> Result<NewAppProfile, Vec<FieldError>> {
    let Some(object) = record.as_object() else {
        return Err(vec![wrong_type("", "a JSON object")]);
    };
    reject_nul_characters(record)?;
    let mut sink = ErrorSink::default();
    let mut parser = ObjectParser::new(object, "");
    let core_profile_id = parse_core_profile_id(parser.raw(CORE_PROFILE_ID_KEY), &mut sink);
    let app_id = parse_app_id(parser.raw(APP_ID_KEY), &mut sink);
    let fields = AppProfileFields::parse(&mut parser, &mut sink);
    parser.finish(&mut sink);
    match (core_profile_id, app_id) {
        (Some(core_profile_id), Some(app_id)) if sink.is_empty() => Ok(NewAppProfile {
            core_profile_id,
            app_id,
            fields,
        }),
        _ => Err(sink.into_errors()),
    }
}

/// Parses an `update_app_profiles` record.
pub fn parse_app_profile_update(record: &Value) -> Result<AppProfileUpdate, Vec<FieldError>> {
    let Some(object) = record.as_object() else {
        return Err(vec![wrong_type("", "a JSON object")]);
    };
    reject_nul_characters(record)?;
    let mut sink = ErrorSink::default();
    let mut parser = ObjectParser::new(object, "");
    let pid = parse_pid(parser.raw(PID_KEY), &mut sink);
    let fields = AppProfileFields::parse(&mut parser, &mut sink);
    parser.finish(&mut sink);
    let updated_fields: Vec<String> = object
        .keys()
        .filter(|key| key.as_str() != PID_KEY)
        .cloned()
        .collect();
    if sink.is_empty() && updated_fields.is_empty() {
        sink.push(FieldError::new(
            "",
            ErrorCode::EmptyData,
            "the record changes no field",
        ));
    }
    match pid {
        Some(pid) if sink.is_empty() => Ok(AppProfileUpdate {
            pid,
            fields,
            updated_fields,
        }),
        _ => Err(sink.into_errors()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_app_profile_parses_and_normalises() {
        let record = json!({
            "core-profile-id": "12", "app_id": " game-1 ",
            "custom_fields": {"level_name": "cave"}, "user_level": "7", "app_rating": "4.5",
            "country": "France", "language": "FR", "accepted_t_and_c": "false", "lifetime_value": 3
        });
        let profile = parse_new_app_profile(&record).unwrap();
        assert_eq!(profile.core_profile_id.get(), 12);
        assert_eq!(profile.app_id, "game-1");
        assert_eq!(profile.fields.user_level, Field::Set(7));
        assert_eq!(profile.fields.app_rating, Field::Set("4.5".into()));
        assert_eq!(profile.fields.country, Field::Set("FR".into()));
        assert_eq!(profile.fields.language, Field::Set("fr".into()));
    }

    #[test]
    fn app_profile_records_report_their_problems() {
        let errors =
            parse_new_app_profile(&json!({"app_rating": 6, "last_city": "x"})).unwrap_err();
        let found: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            found,
            vec![
                ("core-profile-id", ErrorCode::MissingRequiredField),
                ("app_id", ErrorCode::MissingRequiredField),
                ("app_rating", ErrorCode::InvalidValue),
                ("last_city", ErrorCode::UnsupportedKey),
            ]
        );
        let errors = parse_app_profile_update(&json!({"pid": "p"})).unwrap_err();
        assert_eq!(errors[0].code, ErrorCode::EmptyData);
        let errors = parse_app_profile_update(&json!({"pid": 5, "city": "x"})).unwrap_err();
        assert_eq!(errors[0].code, ErrorCode::InvalidValueType);
    }

    #[test]
    fn updates_list_their_fields_and_allow_clearing() {
        let update =
            parse_app_profile_update(&json!({"pid": "p1", "city": null, "user_level": 3})).unwrap();
        assert_eq!(update.fields.city, Field::Clear);
        assert_eq!(
            update.updated_fields,
            vec!["city".to_owned(), "user_level".to_owned()]
        );
    }
}
