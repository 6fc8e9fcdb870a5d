//! Examples of every record kind: what is accepted, how it is normalised, and what each problem
//! is reported as.

use super::*;
use crate::field::Field;
use crate::identity::IdentityKind;
use crate::values::{CustomValue, Decimal};

fn fields_of(errors: &[FieldError]) -> Vec<(&str, ErrorCode)> {
    errors.iter().map(|e| (e.field.as_str(), e.code)).collect()
}

#[test]
fn the_seed_records_are_valid_and_countries_become_alpha2() {
    let parsed = parse_new_core_profile(
        r#"{"identities": [{"uid": "uid-1"}], "last_country": "India", "last_city": "Pune"}"#,
    )
    .unwrap();
    assert_eq!(parsed.identities[0].value(), "uid-1");
    assert_eq!(parsed.fields.last_country, Field::Set("IN".into()));
    assert_eq!(parsed.fields.last_city, Field::Set("Pune".into()));
}

#[test]
fn a_full_record_normalises_strings_into_types() {
    let record = r#"{
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
    }"#;
    let fields = parse_new_core_profile(record).unwrap().fields;
    assert_eq!(fields.age, Field::Set(30));
    assert_eq!(fields.full_privacy_enabled, Field::Set(false));
    assert_eq!(
        fields.lifetime_value,
        Field::Set(Decimal::parse("1234.50").unwrap())
    );
    assert_eq!(fields.preferred_language, Field::Set("en".into()));
    assert_eq!(fields.tags, Field::Set(vec!["vip".into(), "beta".into()]));
    assert_eq!(fields.last_active_date, Field::Set(1_742_792_448_000));
    let names = fields.names.unwrap();
    assert_eq!(names.entries[1], ("last_name".to_owned(), None));
    let custom = fields.custom_fields.unwrap();
    assert_eq!(custom.entries[2].1, Some(CustomValue::Bool(false)));
}

#[test]
fn creates_need_identities_and_reject_unknown_keys() {
    let errors = parse_new_core_profile(r#"{"nickname": "x"}"#).unwrap_err();
    assert_eq!(
        fields_of(&errors),
        vec![
            ("nickname", ErrorCode::UnsupportedKey),
            ("identities", ErrorCode::MissingRequiredField),
        ]
    );
    let errors = parse_new_core_profile("[1]").unwrap_err();
    assert_eq!(errors[0].code, ErrorCode::InvalidValueType);
    assert_eq!(
        errors[0].message,
        "the record must be a JSON object, not an array"
    );
    let errors =
        parse_new_core_profile(r#"{"identities":[{"uid":"u"}],"core-profile-id":1}"#).unwrap_err();
    assert_eq!(errors[0].code, ErrorCode::UnsupportedKey);
}

#[test]
fn wrong_types_are_reported_for_every_field() {
    let record = r#"{
        "identities": [{"uid": "u"}],
        "names": "Ada",
        "tags": "vip",
        "custom_fields": [],
        "full_privacy_enabled": 3,
        "last_country": "Atlantis",
        "age": 200,
        "lifetime_value": "lots",
        "preferred_language": "klingon",
        "last_active_date": "soon",
        "user_persona": 7
    }"#;
    let errors = parse_new_core_profile(record).unwrap_err();
    let fields: Vec<&str> = errors.iter().map(|e| e.field.as_str()).collect();
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
fn a_key_given_twice_is_a_record_error_at_every_level() {
    for (record, path) in [
        (
            r#"{"identities":[{"uid":"a"}],"last_city":"A","last_city":"B"}"#,
            "last_city",
        ),
        (
            r#"{"identities":[{"uid":"a","uid":"b"}]}"#,
            "identities[0].uid",
        ),
        (
            r#"{"identities":[{"uid":"a"}],"names":{"first_name":"A","first_name":"B"}}"#,
            "names.first_name",
        ),
        (
            r#"{"identities":[{"uid":"a"}],"custom_fields":{"k":1,"k":1}}"#,
            "custom_fields.k",
        ),
        (
            r#"{"identities":[{"uid":"a"}],"custom_fields":{"o":{"x":1,"x":2}}}"#,
            "custom_fields.o.x",
        ),
    ] {
        let errors = parse_new_core_profile(record).unwrap_err();
        assert_eq!(
            fields_of(&errors),
            vec![(path, ErrorCode::DuplicateKey)],
            "{record}"
        );
    }
}

#[test]
fn updates_take_string_ids_and_need_a_change() {
    let update =
        parse_core_profile_patch(r#"{"core-profile-id": "42", "last_city": null, "tags": ["a"]}"#)
            .unwrap();
    assert_eq!(update.id.get(), 42);
    assert_eq!(update.fields.last_city, Field::Clear);
    assert_eq!(update.fields.named().names(), vec!["last_city", "tags"]);
    assert!(update.identities.is_empty());
    let missing = parse_core_profile_patch(r#"{"last_city": "Pune"}"#).unwrap_err();
    assert_eq!(missing[0].code, ErrorCode::MissingRequiredField);
    let empty = parse_core_profile_patch(r#"{"core-profile-id": 7}"#).unwrap_err();
    assert_eq!(empty[0].code, ErrorCode::EmptyData);
    let bad = parse_core_profile_patch(r#"{"core-profile-id": "abc", "age": 3}"#).unwrap_err();
    assert_eq!(bad[0].code, ErrorCode::InvalidValue);
    let cleared =
        parse_core_profile_patch(r#"{"core-profile-id": 1, "identities": null}"#).unwrap_err();
    assert_eq!(cleared[0].field, "identities");
}

#[test]
fn numbers_that_cannot_be_kept_fail_their_record_before_any_sql() {
    for record in [
        r#"{"identities":[{"uid":"p"}],"custom_fields":{"n":1e-99999}}"#,
        r#"{"identities":[{"uid":"p"}],"custom_fields":{"o":{"n":1e-100000}}}"#,
        r#"{"identities":[{"uid":"p"}],"custom_fields":{"n":1e100000}}"#,
    ] {
        let errors = parse_new_core_profile(record).unwrap_err();
        assert_eq!(errors[0].code, ErrorCode::InvalidValue, "{record}");
        assert!(errors[0].field.starts_with("custom_fields."), "{record}");
    }
    let kept = parse_new_core_profile(
        r#"{"identities":[{"uid":"p"}],"custom_fields":{"big":1e308,"neg":-0.0}}"#,
    )
    .unwrap();
    let custom = kept.fields.custom_fields.unwrap();
    assert_eq!(
        serde_json::to_string(custom.entries[0].1.as_ref().unwrap()).unwrap(),
        "1e308"
    );
    assert_eq!(
        serde_json::to_string(custom.entries[1].1.as_ref().unwrap()).unwrap(),
        "-0.0"
    );
}

#[test]
fn dates_before_1970_are_fine() {
    let parsed =
        parse_new_core_profile(r#"{"identities":[{"uid":"p"}],"last_active_date":-86400000}"#)
            .unwrap();
    assert_eq!(parsed.fields.last_active_date, Field::Set(-86_400_000));
}

#[test]
fn upserts_take_an_id_only_when_matching_by_it() {
    let by_email = MatchBy::Identity(IdentityKind::Email);
    let errors = parse_core_profile_upsert(
        r#"{"core-profile-id": 5, "identities":[{"email":"a@b.c"}]}"#,
        &by_email,
    )
    .unwrap_err();
    assert_eq!(errors[0].code, ErrorCode::UnsupportedKey);
    let by_id = parse_core_profile_upsert(
        r#"{"core-profile-id": 5, "age": 3}"#,
        &MatchBy::CoreProfileId,
    )
    .unwrap();
    assert_eq!(by_id.id.map(|id| id.get()), Some(5));
}

#[test]
fn a_full_app_profile_parses_and_normalises() {
    let profile = parse_new_app_profile(
        r#"{"core-profile-id": "12", "app_id": " game-1 ", "custom_fields": {"level_name": "cave"},
            "user_level": "7", "app_rating": "4.5", "country": "France", "language": "FR",
            "accepted_t_and_c": "false", "lifetime_value": 3}"#,
    )
    .unwrap();
    assert_eq!(profile.core_profile_id.get(), 12);
    assert_eq!(profile.app_id, "game-1");
    assert_eq!(profile.fields.user_level, Field::Set(7));
    assert_eq!(
        profile.fields.app_rating,
        Field::Set(Decimal::parse("4.5").unwrap())
    );
    assert_eq!(profile.fields.country, Field::Set("FR".into()));
    assert_eq!(profile.fields.language, Field::Set("fr".into()));
}

#[test]
fn app_profile_records_report_their_problems() {
    let errors = parse_new_app_profile(r#"{"app_rating": 6, "last_city": "x"}"#).unwrap_err();
    assert_eq!(
        fields_of(&errors),
        vec![
            ("app_rating", ErrorCode::InvalidValue),
            ("last_city", ErrorCode::UnsupportedKey),
            ("core-profile-id", ErrorCode::MissingRequiredField),
            ("app_id", ErrorCode::MissingRequiredField),
        ]
    );
    let empty_app = parse_new_app_profile(r#"{"core-profile-id": 1, "app_id": ""}"#).unwrap_err();
    assert_eq!(
        fields_of(&empty_app),
        vec![("app_id", ErrorCode::InvalidValue)]
    );
    let errors = parse_app_profile_patch(r#"{"pid": "p"}"#).unwrap_err();
    assert_eq!(errors[0].code, ErrorCode::EmptyData);
    let errors = parse_app_profile_patch(r#"{"pid": 5, "city": "x"}"#).unwrap_err();
    assert_eq!(errors[0].code, ErrorCode::InvalidValueType);
    let update =
        parse_app_profile_patch(r#"{"pid": "p1", "city": null, "user_level": 3}"#).unwrap();
    assert_eq!(update.fields.city, Field::Clear);
    assert_eq!(update.fields.named().names(), vec!["city", "user_level"]);
}

#[test]
fn records_too_deep_to_read_are_invalid_json() {
    let deep = format!(
        r#"{{"identities":[{{"uid":"u"}}],"custom_fields":{{"o":{}1{}}}}}"#,
        "[".repeat(200),
        "]".repeat(200)
    );
    let errors = parse_new_core_profile(&deep).unwrap_err();
    assert!(
        errors.iter().any(|e| e.code == ErrorCode::InvalidJson),
        "{errors:?}"
    );
}

#[test]
fn the_tag_limit_counts_distinct_tags() {
    let tags = |list: Vec<String>| {
        let record = serde_json::json!({"core-profile-id": "42", "tags": list}).to_string();
        parse_core_profile_patch(&record)
    };
    // Forty tags that are thirty distinct ones fit; the repeats are dropped.
    let repeated: Vec<String> = (0..40).map(|n| format!("t{}", n % 30)).collect();
    let accepted = tags(repeated).unwrap();
    let Field::Set(kept) = &accepted.fields.tags else {
        panic!("tags expected")
    };
    assert_eq!(kept.len(), 30);
    assert_eq!(kept[29], "t29");
    // Thirty-one distinct tags do not, and the message counts distinct ones.
    let errors = tags((0..31).map(|n| format!("t{n}")).collect()).unwrap_err();
    assert_eq!(
        fields_of(&errors),
        [("tags", ErrorCode::ExceededCountLimit)]
    );
    assert!(
        errors[0].message.contains("got 31"),
        "{}",
        errors[0].message
    );
}

#[test]
fn every_writing_record_kind_takes_a_version_and_refuses_anything_else() {
    use crate::values::Version;
    let by_email = MatchBy::Identity(IdentityKind::Email);
    let create = parse_new_core_profile(r#"{"identities":[{"uid":"u"}],"version":7}"#).unwrap();
    assert_eq!(create.fields.version, Version::new(7));
    let update = parse_core_profile_patch(r#"{"core-profile-id":5,"version":"12"}"#).unwrap();
    assert_eq!(
        update.fields.version,
        Version::new(12),
        "a version alone is a change"
    );
    let upsert = parse_core_profile_upsert(
        r#"{"identities":[{"email":"a@b.co"}],"version":9223372036854775807}"#,
        &by_email,
    )
    .unwrap();
    assert_eq!(upsert.fields.version, Version::new(i64::MAX));
    let app = parse_new_app_profile(r#"{"core-profile-id":5,"app_id":"g","version":0}"#).unwrap();
    assert_eq!(app.fields.version, Version::new(0));
    let app_patch = parse_app_profile_patch(r#"{"pid":"p","version":3}"#).unwrap();
    assert_eq!(app_patch.fields.version, Version::new(3));
    for bad in [
        "-1",
        "1.5",
        "null",
        "true",
        "\"\"",
        "\"-1\"",
        "\" 7\"",
        "[1]",
        "{}",
        "9223372036854775808",
    ] {
        let errors =
            parse_core_profile_patch(&format!(r#"{{"core-profile-id":5,"version":{bad}}}"#))
                .unwrap_err();
        assert_eq!(
            fields_of(&errors),
            vec![("version", ErrorCode::InvalidValue)],
            "{bad}"
        );
        let errors = parse_app_profile_patch(&format!(r#"{{"pid":"p","age":1,"version":{bad}}}"#))
            .unwrap_err();
        assert!(
            fields_of(&errors).contains(&("version", ErrorCode::InvalidValue)),
            "{bad}: {errors:?}"
        );
    }
}
