//! Core profile records: `create_core_profiles` and `update_core_profiles` payloads.

use super::{MapPatch, overlay_maps, parse_custom_fields, parse_names, parse_tags};
use crate::country::country_alpha2;
use crate::field::Field;
use crate::identity::{Identity, parse_identities};
use crate::ids::CoreProfileId;
use crate::language::language_code;
use crate::limits::{AGE_RANGE, MAX_STRING_CHARS};
use crate::object_parser::{
    ErrorSink, ObjectParser, integer_of, reject_nul_characters, wrong_type,
};
use crate::record_error::{ErrorCode, FieldError};
use serde_json::Value;

/// The key of the profile id in update records (note the hyphens).
pub const CORE_PROFILE_ID_KEY: &str = "core-profile-id";

/// The fields of a core profile besides its identities, each possibly absent or cleared.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CoreProfileFields {
    pub names: Option<MapPatch>,
    pub tags: Field<Vec<String>>,
    pub custom_fields: Option<MapPatch>,
    pub full_privacy_enabled: Field<bool>,
    /// ISO 3166 alpha-2.
    pub last_country: Field<String>,
    pub last_city: Field<String>,
    pub age: Field<i64>,
    /// Exact decimal text.
    pub lifetime_value: Field<String>,
    pub user_persona: Field<String>,
    pub user_vip_segment: Field<String>,
    pub user_support_status: Field<String>,
    pub accepted_t_and_c: Field<bool>,
    /// ISO 639-1, lower case.
    pub preferred_language: Field<String>,
    /// Epoch milliseconds.
    pub last_active_date: Field<i64>,
}

impl CoreProfileFields {
    /// The fields after applying `later` on top of `self` (later present fields win, maps merge).
    pub fn overlay(self, later: CoreProfileFields) -> CoreProfileFields {
        CoreProfileFields {
            names: overlay_maps(self.names, later.names),
            tags: self.tags.overlay(later.tags),
            custom_fields: overlay_maps(self.custom_fields, later.custom_fields),
            full_privacy_enabled: self
                .full_privacy_enabled
                .overlay(later.full_privacy_enabled),
            last_country: self.last_country.overlay(later.last_country),
            last_city: self.last_city.overlay(later.last_city),
            age: self.age.overlay(later.age),
            lifetime_value: self.lifetime_value.overlay(later.lifetime_value),
            user_persona: self.user_persona.overlay(later.user_persona),
            user_vip_segment: self.user_vip_segment.overlay(later.user_vip_segment),
            user_support_status: self.user_support_status.overlay(later.user_support_status),
            accepted_t_and_c: self.accepted_t_and_c.overlay(later.accepted_t_and_c),
            preferred_language: self.preferred_language.overlay(later.preferred_language),
            last_active_date: self.last_active_date.overlay(later.last_active_date),
        }
    }

    fn parse(parser: &mut ObjectParser<'_>, sink: &mut ErrorSink) -> CoreProfileFields {
        let country_path = parser.path("last_country");
        let language_path = parser.path("preferred_language");
        let country = parser.string("last_country", MAX_STRING_CHARS, sink);
        let language = parser.string("preferred_language", MAX_STRING_CHARS, sink);
        CoreProfileFields {
            names: parse_names(parser, sink),
            tags: parse_tags(parser, sink),
            custom_fields: parse_custom_fields(parser, sink),
            full_privacy_enabled: parser.boolean("full_privacy_enabled", sink),
            last_country: restrict(country, &country_path, sink, |text| {
                country_alpha2(text)
                    .map(str::to_owned)
                    .ok_or("is not an ISO 3166 country code or English country name")
            }),
            last_city: parser.string("last_city", MAX_STRING_CHARS, sink),
            age: parser.integer("age", AGE_RANGE, sink),
            lifetime_value: parser.decimal("lifetime_value", None, sink),
            user_persona: parser.string("user_persona", MAX_STRING_CHARS, sink),
            user_vip_segment: parser.string("user_vip_segment", MAX_STRING_CHARS, sink),
            user_support_status: parser.string("user_support_status", MAX_STRING_CHARS, sink),
            accepted_t_and_c: parser.boolean("accepted_t_and_c", sink),
            preferred_language: restrict(language, &language_path, sink, |text| {
                language_code(text).ok_or("is not an ISO 639-1 language code")
            }),
            last_active_date: parser.integer("last_active_date", 0..=i64::MAX, sink),
        }
    }
}

/// Narrows a set string field with `check`; on failure reports `INVALID_VALUE` at `path` with
/// the check's reason and drops the field.
pub(crate) fn restrict(
    field: Field<String>,
    path: &str,
    sink: &mut ErrorSink,
    check: impl FnOnce(&str) -> Result<String, &'static str>,
) -> Field<String> {
    match field {
        Field::Set(text) => match check(&text) {
            Ok(value) => Field::Set(value),
            Err(reason) => {
                sink.push(FieldError::new(
                    path,
                    ErrorCode::InvalidValue,
                    format!("`{text}` {reason}"),
                ));
                Field::Absent
            }
        },
        other => other,
    }
}

/// A validated `create_core_profiles` record.
#[derive(Debug, Clone, PartialEq)]
pub struct NewCoreProfile {
    pub identities: Vec<Identity>,
    pub fields: CoreProfileFields,
}

/// A validated `update_core_profiles` record.
#[derive(Debug, Clone, PartialEq)]
pub struct CoreProfileUpdate {
    pub id: CoreProfileId,
    /// Identities to add to the profile.
    pub identities: Vec<Identity>,
    pub fields: CoreProfileFields,
    /// Top-level keys the record set, for the results file.
    pub updated_fields: Vec<String>,
}

/// Parses a `create_core_profiles` record.
pub fn parse_new_core_profile(record: &Value) -> Result<NewCoreProfile, Vec<FieldError>> {
    let Some(object) = record.as_object() else {
        return Err(vec![wrong_type("", "a JSON object")]);
    };
    reject_nul_characters(record)?;
    let mut sink = ErrorSink::default();
    let mut parser = ObjectParser::new(object, "");
    let identities = match parser.raw("identities") {
        None | Some(Value::Null) => {
            sink.push(FieldError::new(
                "identities",
                ErrorCode::MissingRequiredField,
                "`identities` is required: at least one identity",
            ));
            None
        }
        Some(value) => parse_identities(value, "identities", &mut sink),
    };
    let fields = CoreProfileFields::parse(&mut parser, &mut sink);
    parser.finish(&mut sink);
    match identities {
        Some(identities) if sink.is_empty() => Ok(NewCoreProfile { identities, fields }),
        _ => Err(sink.into_errors()),
    }
}

/// Reads a `core-profile-id` (integer or digit string).
pub fn parse_core_profile_id(value: Option<&Value>, sink: &mut ErrorSink) -> Option<CoreProfileId> {
    let Some(value) = value.filter(|value| !value.is_null()) else {
        sink.push(FieldError::new(
            CORE_PROFILE_ID_KEY,
            ErrorCode::MissingRequiredField,
            format!("`{CORE_PROFILE_ID_KEY}` is required"),
        ));
        return None;
    };
    let Some(number) = integer_of(value) else {
        sink.push(wrong_type(CORE_PROFILE_ID_KEY, "an integer"));
        return None;
    };
    let id = CoreProfileId::new(number);
    if id.is_none() {
        sink.push(FieldError::new(
            CORE_PROFILE_ID_KEY,
            ErrorCode::InvalidValue,
            format!("`{CORE_PROFILE_ID_KEY}` must be a positive integer below 2^53"),
        ));
    }
    id
}

/// Parses an `update_core_profiles` record.
pub fn parse_core_profile_update(record: &Value) -> Result<CoreProfileUpdate, Vec<FieldError>> {
    let Some(object) = record.as_object() else {
        return Err(vec![wrong_type("", "a JSON object")]);
    };
    reject_nul_characters(record)?;
    let mut sink = ErrorSink::default();
    let mut parser = ObjectParser::new(object, "");
    let id = parse_core_profile_id(parser.raw(CORE_PROFILE_ID_KEY), &mut sink);
    let identities = match parser.raw("identities") {
        None => Some(Vec::new()),
        Some(Value::Null) => {
            sink.push(FieldError::new(
                "identities",
                ErrorCode::InvalidValue,
                "identities cannot be cleared; they are only ever added",
            ));
            None
        }
        Some(value) => parse_identities(value, "identities", &mut sink),
    };
    let fields = CoreProfileFields::parse(&mut parser, &mut sink);
    parser.finish(&mut sink);
    let updated_fields: Vec<String> = object
        .keys()
        .filter(|key| key.as_str() != CORE_PROFILE_ID_KEY)
        .cloned()
        .collect();
    if sink.is_empty() && updated_fields.is_empty() {
        sink.push(FieldError::new(
            "",
            ErrorCode::EmptyData,
            "the record changes no field",
        ));
    }
    match (id, identities) {
        (Some(id), Some(identities)) if sink.is_empty() => Ok(CoreProfileUpdate {
            id,
            identities,
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
    fn the_seed_records_are_valid_and_countries_become_alpha2() {
        let record =
            json!({"identities": [{"uid": "uid-1"}], "last_country": "India", "last_city": "Pune"});
        let parsed = parse_new_core_profile(&record).unwrap();
        assert_eq!(parsed.identities[0].value(), "uid-1");
        assert_eq!(parsed.fields.last_country, Field::Set("IN".into()));
        assert_eq!(parsed.fields.last_city, Field::Set("Pune".into()));
    }

    #[test]
    fn a_full_record_normalises_strings_into_types() {
        let record = json!({
            "identities": [{"email": "a@b.co"}],
            "names": {"first_name": "Ada", "last_name": null},
            "tags": ["vip", "vip", "beta"],
            "custom_fields": {"plan": "gold", "seats": 3, "trial": false},
            "full_privacy_enabled": "false",
            "age": "30",
            "lifetime_value": "1234.50",
            "accepted_t_and_c": true,
            "preferred_language": "EN",
            "last_active_date": "1742792448000"
        });
        let fields = parse_new_core_profile(&record).unwrap().fields;
        assert_eq!(fields.age, Field::Set(30));
        assert_eq!(fields.full_privacy_enabled, Field::Set(false));
        assert_eq!(fields.lifetime_value, Field::Set("1234.50".into()));
        assert_eq!(fields.preferred_language, Field::Set("en".into()));
        assert_eq!(fields.tags, Field::Set(vec!["vip".into(), "beta".into()]));
        assert_eq!(fields.last_active_date, Field::Set(1_742_792_448_000));
        assert_eq!(fields.names.unwrap().entries["last_name"], None);
    }

    #[test]
    fn creates_need_identities_and_reject_unknown_keys() {
        let errors = parse_new_core_profile(&json!({"nickname": "x"})).unwrap_err();
        let found: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            found,
            vec![
                ("identities", ErrorCode::MissingRequiredField),
                ("nickname", ErrorCode::UnsupportedKey)
            ]
        );
        let errors = parse_new_core_profile(&json!([1])).unwrap_err();
        assert_eq!(errors[0].code, ErrorCode::InvalidValueType);
    }

    #[test]
    fn wrong_types_are_reported_for_every_field() {
        let record = json!({
            "identities": [{"uid": "u"}],
            "names": "Ada",
            "tags": "vip",
            "custom_fields": [],
            "full_privacy_enabled": 3,
            "last_country": "Atlantis",
            "age": 200,
            "lifetime_value": "lots",
            "preferred_language": "klingon",
            "last_active_date": -5,
            "user_persona": 7
        });
        let errors = parse_new_core_profile(&record).unwrap_err();
        let fields: Vec<_> = errors.iter().map(|e| e.field.as_str()).collect();
        for expected in [
            "names",
            "tags",
            "custom_fields",
            "full_privacy_enabled",
            "last_country",
            "age",
            "lifetime_value",
            "preferred_language",
            "last_active_date",
            "user_persona",
        ] {
            assert!(
                fields.contains(&expected),
                "no error for {expected}: {fields:?}"
            );
        }
    }

    #[test]
    fn updates_take_string_ids_and_list_the_fields_they_set() {
        let record = json!({"core-profile-id": "42", "last_city": null, "tags": ["a"]});
        let update = parse_core_profile_update(&record).unwrap();
        assert_eq!(update.id.get(), 42);
        assert_eq!(update.fields.last_city, Field::Clear);
        assert_eq!(
            update.updated_fields,
            vec!["last_city".to_owned(), "tags".to_owned()]
        );
        assert!(update.identities.is_empty());
    }

    #[test]
    fn updates_need_an_id_and_a_change() {
        let errors = parse_core_profile_update(&json!({"last_city": "Pune"})).unwrap_err();
        assert_eq!(errors[0].code, ErrorCode::MissingRequiredField);
        let errors = parse_core_profile_update(&json!({"core-profile-id": 7})).unwrap_err();
        assert_eq!(errors[0].code, ErrorCode::EmptyData);
        let errors =
            parse_core_profile_update(&json!({"core-profile-id": "abc", "age": 3})).unwrap_err();
        assert_eq!(errors[0].code, ErrorCode::InvalidValueType);
        let errors = parse_core_profile_update(&json!({"core-profile-id": 1, "identities": null}))
            .unwrap_err();
        assert_eq!(errors[0].field, "identities");
    }

    #[test]
    fn later_updates_overlay_earlier_ones() {
        let first = parse_core_profile_update(
            &json!({"core-profile-id": 1, "age": 20, "last_city": "Pune"}),
        )
        .unwrap();
        let second =
            parse_core_profile_update(&json!({"core-profile-id": 1, "age": 21, "tags": []}))
                .unwrap();
        let combined = first.fields.overlay(second.fields);
        assert_eq!(combined.age, Field::Set(21));
        assert_eq!(combined.last_city, Field::Set("Pune".into()));
        assert_eq!(combined.tags, Field::Set(vec![]));
    }
}
