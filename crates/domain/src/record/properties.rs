//! Property tests: generated records of every shape are read into values that serialise back
//! to what was sent, and one wrong field fails its record with that field's path.

use super::*;
use crate::ids::CoreProfileId;
use crate::profile::core::CoreProfileState;
use crate::profile::view::CoreProfileView;
use crate::testing::{GeneratedProfile, create_record};
use proptest::prelude::*;
use serde_json::Value;

fn exported(profile: &GeneratedProfile) -> (Value, CoreProfileState) {
    let parsed = parse_new_core_profile(&profile.text)
        .unwrap_or_else(|errors| panic!("{errors:?} for {}", profile.text));
    let mut state = CoreProfileState::default();
    state.apply(&parsed.fields).unwrap();
    let view = CoreProfileView::new(
        CoreProfileId::new(1).unwrap(),
        state.clone(),
        parsed.identities,
        Vec::new(),
        0,
        0,
    );
    (serde_json::to_value(&view).unwrap(), state)
}

/// Wrong fields, each with the path its error must name.
fn mutation() -> impl Strategy<Value = (&'static str, &'static str)> {
    prop::sample::select(vec![
        (r#""age":500"#, "age"),
        (r#""age":"old""#, "age"),
        (r#""last_city":"a\u0000b""#, "last_city"),
        (r#""tags":"vip""#, "tags"),
        (r#""custom_fields":{"n":1e-99999}"#, "custom_fields.n"),
        (
            r#""custom_fields":{"o":{"deep":[1e400]}}"#,
            "custom_fields.o.deep[0]",
        ),
        (r#""lifetime_value":"-1""#, "lifetime_value"),
        (r#""preferred_language":"klingon""#, "preferred_language"),
        (r#""nickname":"x""#, "nickname"),
        (r#""last_active_date":1e30"#, "last_active_date"),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn accepted_records_export_what_was_sent(profile in create_record(7)) {
        let (view, state) = exported(&profile);
        for (key, value) in &profile.fields {
            prop_assert_eq!(&view[key], value, "field {} of {}", key, profile.text);
        }
        match &profile.custom_fields_text {
            Some(text) => prop_assert_eq!(&state.custom_fields.to_json(), text),
            None => prop_assert!(view.get("custom_fields").is_none()),
        }
        let identities = view["identities"].as_array().unwrap();
        prop_assert_eq!(identities.len(), profile.identities.len());
        for (kind, value) in &profile.identities {
            prop_assert!(
                identities.iter().any(|shown| shown[kind.as_str()] == value.as_str()),
                "{} {} missing from {:?}", kind.as_str(), value, identities
            );
        }
    }

    #[test]
    fn one_wrong_field_fails_its_record_naming_the_field(
        profile in create_record(3),
        (wrong, path) in mutation(),
    ) {
        // The wrong field replaces any field of that name the record has (keys are unique).
        let key = wrong.split(':').next().unwrap_or_default();
        let mut object: serde_json::Map<String, Value> =
            serde_json::from_str(&profile.text).unwrap();
        object.remove(key.trim_matches('"'));
        let kept = serde_json::to_string(&object).unwrap();
        let text = format!("{},{wrong}}}", &kept[..kept.len() - 1]);
        let errors = parse_new_core_profile(&text).unwrap_err();
        prop_assert!(
            errors.iter().any(|error| error.field == path),
            "no error at {} in {:?} for {}", path, errors, text
        );
    }

    #[test]
    fn no_text_makes_a_parser_fail_without_a_reason(text in "\\PC{0,200}") {
        for result in [
            parse_new_core_profile(&text).err(),
            parse_core_profile_patch(&text).err(),
            parse_new_app_profile(&text).err(),
        ]
        .into_iter()
        .flatten()
        {
            prop_assert!(!result.is_empty());
            prop_assert!(result.len() <= sink::MAX_ERRORS_PER_RECORD);
        }
    }
}
