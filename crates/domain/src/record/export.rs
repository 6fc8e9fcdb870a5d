//! `get_core_profiles` / `get_app_profiles` records: one id each, or (EXT) a selector of whole
//! sets of profiles.

use super::app::identifier;
use super::core::core_profile_id;
use super::fields::integer;
use super::identities::parse_identity_map;
use super::maps::duplicate_key;
use super::read::{RawMembers, Scalar};
use super::sink::{ErrorSink, shown_key};
use crate::field::Field;
use crate::ids::CoreProfileId;
use crate::limits::EPOCH_MS_RANGE;
use crate::profile::app::{MAX_PID_CHARS, PID_KEY};
use crate::profile::core::CORE_PROFILE_ID_KEY;
use crate::profile::selector::{ExportSelector, SELECTOR_KEYS};
use crate::record_error::{ErrorCode, FieldError};
use serde::de;
use serde_json::value::RawValue;

/// What one export record asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExportRequest {
    CoreProfile(CoreProfileId),
    AppProfile(String),
    Selector(ExportSelector),
}

/// Which profiles an export task reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportTarget {
    CoreProfiles,
    AppProfiles,
}

/// The members of an object as raw values, in order (`None` if the text is not an object).
fn members(text: &str) -> Result<Option<Vec<(String, &RawValue)>>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let RawMembers(members) = de::Deserialize::deserialize(&mut deserializer)?;
    deserializer.end()?;
    Ok(members.map(|members| {
        members
            .into_iter()
            .map(|(key, raw)| (key.into_owned(), raw))
            .collect()
    }))
}

fn scalar_of(raw: &RawValue) -> Scalar<'_> {
    serde_json::from_str::<Scalar<'_>>(raw.get()).unwrap_or(Scalar::Null)
}

/// Whether a record is meant as a selector (it uses a selector key).
pub fn is_selector(text: &str) -> bool {
    matches!(members(text), Ok(Some(members)) if members.iter().any(|(key, _)| SELECTOR_KEYS.contains(&key.as_str())))
}

fn parse_selector_member(
    key: &str,
    raw: &RawValue,
    sink: &mut ErrorSink,
) -> Option<ExportSelector> {
    match key {
        "all" => match scalar_of(raw) {
            Scalar::Bool(true) => Some(ExportSelector::All),
            Scalar::Text(text) if text.trim().eq_ignore_ascii_case("true") => {
                Some(ExportSelector::All)
            }
            _ => {
                sink.report("all", ErrorCode::InvalidValue, "`all` must be true");
                None
            }
        },
        "updated_since" => match integer(scalar_of(raw), "updated_since", EPOCH_MS_RANGE, sink)? {
            Field::Set(ms) => Some(ExportSelector::UpdatedSince(ms)),
            _ => {
                sink.report(
                    "updated_since",
                    ErrorCode::MissingRequiredField,
                    "`updated_since` needs epoch milliseconds",
                );
                None
            }
        },
        _ => parse_identity_map(raw.get(), "identity", sink).map(|identity| {
            ExportSelector::Identity {
                kind: identity.kind(),
                normalized: identity.normalized().to_owned(),
            }
        }),
    }
}

/// Parses an export record of `target`: `{"core-profile-id": N}` / `{"pid": "..."}`, or a
/// selector (a record whose only key is `all`, `updated_since` or `identity`).
pub fn parse_export_record(
    text: &str,
    target: ExportTarget,
) -> Result<ExportRequest, Vec<FieldError>> {
    let mut sink = ErrorSink::default();
    let members = match members(text) {
        Ok(Some(members)) => members,
        Ok(None) => {
            sink.wrong_type("", "a JSON object", "another JSON value");
            return Err(sink.into_errors());
        }
        Err(error) => {
            sink.report(
                "",
                ErrorCode::InvalidJson,
                format!("the record is not valid JSON: {error}"),
            );
            return Err(sink.into_errors());
        }
    };
    let id_key = match target {
        ExportTarget::CoreProfiles => CORE_PROFILE_ID_KEY,
        ExportTarget::AppProfiles => PID_KEY,
    };
    let mut found: Option<ExportRequest> = None;
    let selector_keys = members
        .iter()
        .filter(|(key, _)| SELECTOR_KEYS.contains(&key.as_str()))
        .count();
    if selector_keys > 0 && members.len() != 1 {
        sink.report(
            "",
            ErrorCode::InvalidValue,
            "a selector record has exactly one key: `all`, `updated_since` or `identity`",
        );
        return Err(sink.into_errors());
    }
    let mut seen: Vec<&str> = Vec::new();
    for (key, raw) in &members {
        if seen.contains(&key.as_str()) {
            duplicate_key(key, &mut sink);
            continue;
        }
        seen.push(key);
        if SELECTOR_KEYS.contains(&key.as_str()) {
            found = parse_selector_member(key, raw, &mut sink).map(ExportRequest::Selector);
        } else if key == id_key {
            found = match target {
                ExportTarget::CoreProfiles => match scalar_of(raw) {
                    Scalar::Null => None,
                    other => core_profile_id(other, &mut sink).map(ExportRequest::CoreProfile),
                },
                ExportTarget::AppProfiles => {
                    identifier(scalar_of(raw), PID_KEY, MAX_PID_CHARS, &mut sink)
                        .map(ExportRequest::AppProfile)
                }
            };
        } else {
            let shown = shown_key(key);
            sink.report(
                &shown,
                ErrorCode::UnsupportedKey,
                format!("`{shown}` is not a supported key"),
            );
        }
    }
    match found {
        Some(request) if sink.is_empty() => Ok(request),
        _ => {
            if sink.is_empty() {
                sink.report(
                    id_key,
                    ErrorCode::MissingRequiredField,
                    format!("`{id_key}` is required"),
                );
            }
            Err(sink.into_errors())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::IdentityKind;

    fn core(text: &str) -> Result<ExportRequest, Vec<FieldError>> {
        parse_export_record(text, ExportTarget::CoreProfiles)
    }

    #[test]
    fn the_three_selectors_parse() {
        assert_eq!(
            core(r#"{"all": true}"#),
            Ok(ExportRequest::Selector(ExportSelector::All))
        );
        assert_eq!(
            core(r#"{"all": "true"}"#),
            Ok(ExportRequest::Selector(ExportSelector::All))
        );
        assert_eq!(
            core(r#"{"updated_since": "1742792448000"}"#),
            Ok(ExportRequest::Selector(ExportSelector::UpdatedSince(
                1_742_792_448_000
            )))
        );
        assert_eq!(
            core(r#"{"identity": {"email": "A@B.io"}}"#),
            Ok(ExportRequest::Selector(ExportSelector::Identity {
                kind: IdentityKind::Email,
                normalized: "a@b.io".into()
            }))
        );
        assert!(!is_selector(r#"{"core-profile-id": 5}"#));
        assert!(is_selector(r#"{"all": true}"#));
    }

    #[test]
    fn export_records_name_exactly_one_profile() {
        assert_eq!(
            core(r#"{"core-profile-id": "7"}"#),
            Ok(ExportRequest::CoreProfile(CoreProfileId::new(7).unwrap()))
        );
        assert!(core(r#"{"core-profile-id": 7, "x": 1}"#).is_err());
        assert_eq!(
            core(r#"{"core-profile-id": 7, "core-profile-id": 7}"#).unwrap_err()[0].code,
            ErrorCode::DuplicateKey
        );
        assert_eq!(
            parse_export_record(r#"{"pid": "demo_profile_1"}"#, ExportTarget::AppProfiles),
            Ok(ExportRequest::AppProfile("demo_profile_1".into()))
        );
        assert_eq!(
            core("{}").unwrap_err()[0].code,
            ErrorCode::MissingRequiredField
        );
        assert_eq!(
            core("[1]").unwrap_err()[0].code,
            ErrorCode::InvalidValueType
        );
    }

    #[test]
    fn malformed_selectors_are_errors() {
        assert!(core(r#"{"all": false}"#).is_err());
        assert!(core(r#"{"all": true, "updated_since": 5}"#).is_err());
        assert!(core(r#"{"identity": {"nickname": "x"}}"#).is_err());
    }
}
