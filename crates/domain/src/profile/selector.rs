//! Export selectors (EXT): `{"all": true}`, `{"updated_since": <epoch ms>}` and
//! `{"identity": {"email": "..."}}` pick whole sets of profiles instead of listing ids.

use super::app::{PID_KEY, parse_pid};
use super::core::{CORE_PROFILE_ID_KEY, parse_core_profile_id};
use crate::identity::{Identity, IdentityKind};
use crate::ids::CoreProfileId;
use crate::object_parser::{ErrorSink, ObjectParser, integer_of, wrong_type};
use crate::record_error::{ErrorCode, FieldError};
use serde_json::Value;

const SELECTOR_KEYS: [&str; 3] = ["all", "updated_since", "identity"];

/// Which profiles an export selects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportSelector {
    All,
    /// Profiles updated at or after this instant (epoch milliseconds).
    UpdatedSince(i64),
    /// The profile owning this identity.
    Identity {
        kind: IdentityKind,
        normalized: String,
    },
}

/// Whether a record is meant as a selector (it uses a selector key).
pub fn is_selector(record: &Value) -> bool {
    record
        .as_object()
        .is_some_and(|object| SELECTOR_KEYS.iter().any(|key| object.contains_key(*key)))
}

/// Parses a selector record (one that [`is_selector`]).
pub fn parse_selector(record: &Value) -> Result<ExportSelector, Vec<FieldError>> {
    let Some(object) = record.as_object() else {
        return Err(vec![wrong_type("", "a JSON object")]);
    };
    let mut errors = Vec::new();
    if object.len() != 1 {
        let message = "a selector record has exactly one key: `all`, `updated_since` or `identity`";
        errors.push(FieldError::new("", ErrorCode::InvalidValue, message));
        return Err(errors);
    }
    let (key, value) = object.iter().next().ok_or_else(Vec::new)?;
    match key.as_str() {
        "all" if value == &Value::Bool(true) => Ok(ExportSelector::All),
        "all" => Err(vec![FieldError::new(
            "all",
            ErrorCode::InvalidValue,
            "`all` must be true",
        )]),
        "updated_since" => match integer_of(value).filter(|ms| *ms >= 0) {
            Some(ms) => Ok(ExportSelector::UpdatedSince(ms)),
            None => Err(vec![wrong_type(
                "updated_since",
                "epoch milliseconds (an integer ≥ 0)",
            )]),
        },
        "identity" => {
            let mut sink = ErrorSink::default();
            match Identity::parse(value, "identity", &mut sink) {
                Some(identity) => Ok(ExportSelector::Identity {
                    kind: identity.kind(),
                    normalized: identity.normalized().to_owned(),
                }),
                None => Err(sink.into_errors()),
            }
        }
        other => Err(vec![FieldError::new(
            other,
            ErrorCode::UnsupportedKey,
            format!("`{other}` is not a selector key"),
        )]),
    }
}

/// Parses a `get_core_profiles` record: `{"core-profile-id": N}`.
pub fn parse_core_export_record(record: &Value) -> Result<CoreProfileId, Vec<FieldError>> {
    let Some(object) = record.as_object() else {
        return Err(vec![wrong_type("", "a JSON object")]);
    };
    let mut sink = ErrorSink::default();
    let mut parser = ObjectParser::new(object, "");
    let id = parse_core_profile_id(parser.raw(CORE_PROFILE_ID_KEY), &mut sink);
    parser.finish(&mut sink);
    id.filter(|_| sink.is_empty())
        .ok_or_else(|| sink.into_errors())
}

/// Parses a `get_app_profiles` record: `{"pid": "..."}`.
pub fn parse_app_export_record(record: &Value) -> Result<String, Vec<FieldError>> {
    let Some(object) = record.as_object() else {
        return Err(vec![wrong_type("", "a JSON object")]);
    };
    let mut sink = ErrorSink::default();
    let mut parser = ObjectParser::new(object, "");
    let pid = parse_pid(parser.raw(PID_KEY), &mut sink);
    parser.finish(&mut sink);
    pid.filter(|_| sink.is_empty())
        .ok_or_else(|| sink.into_errors())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_three_selectors_parse() {
        assert_eq!(
            parse_selector(&json!({"all": true})),
            Ok(ExportSelector::All)
        );
        assert_eq!(
            parse_selector(&json!({"updated_since": "1742792448000"})),
            Ok(ExportSelector::UpdatedSince(1_742_792_448_000))
        );
        assert_eq!(
            parse_selector(&json!({"identity": {"email": "A@B.io"}})),
            Ok(ExportSelector::Identity {
                kind: IdentityKind::Email,
                normalized: "a@b.io".into()
            })
        );
        assert!(!is_selector(&json!({"core-profile-id": 5})));
        assert!(is_selector(&json!({"all": true})));
    }

    #[test]
    fn export_records_name_exactly_one_profile() {
        assert_eq!(
            parse_core_export_record(&json!({"core-profile-id": "7"})).map(|id| id.get()),
            Ok(7)
        );
        assert!(parse_core_export_record(&json!({"core-profile-id": 7, "x": 1})).is_err());
        assert_eq!(
            parse_app_export_record(&json!({"pid": "demo_profile_1"})),
            Ok("demo_profile_1".into())
        );
        assert!(parse_app_export_record(&json!({})).is_err());
    }

    #[test]
    fn malformed_selectors_are_errors() {
        assert!(parse_selector(&json!({"all": false})).is_err());
        assert!(parse_selector(&json!({"all": true, "updated_since": 5})).is_err());
        assert!(parse_selector(&json!({"updated_since": -1})).is_err());
        assert!(parse_selector(&json!({"identity": {"nickname": "x"}})).is_err());
    }
}
