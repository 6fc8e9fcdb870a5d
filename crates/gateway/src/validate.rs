//! Record validation at the gateway: every record is parsed into its typed form so that the
//! errors file can report bad records, duplicates inside the payload are found, and each record
//! gets the key that decides its chunk.

use crate::payload::{RawRecord, RecordContent};
use std::collections::HashMap;
use userhub_domain::profile::core::{parse_core_profile_update, parse_new_core_profile};
use userhub_domain::{ErrorCode, FieldError, Identity, IdentityKind, TaskAction};

/// What the gateway learnt about one record.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Problems found; empty when the record goes to a worker for processing.
    pub errors: Vec<FieldError>,
    /// Records with the same key touch the same profile and must share a chunk.
    pub key: Option<i64>,
}

/// An identity claimed by a record: by a new profile (`None`) or by an existing one.
type Claims = HashMap<(IdentityKind, String), (u32, Option<i64>)>;

fn claim(
    claims: &mut Claims,
    index: u32,
    owner: Option<i64>,
    identities: &[Identity],
) -> Vec<FieldError> {
    let mut errors = Vec::new();
    for identity in identities {
        let key = (identity.kind(), identity.normalized().to_owned());
        match claims.get(&key) {
            Some((_, earlier_owner)) if owner.is_some() && *earlier_owner == owner => {}
            Some((earlier_index, _)) => errors.push(
                FieldError::new(
                    identity.path(),
                    ErrorCode::DuplicateInPayload,
                    format!("record {earlier_index} of this payload already claims this identity"),
                )
                .with_details(serde_json::json!({ "index": earlier_index })),
            ),
            None => {}
        }
    }
    if errors.is_empty() {
        for identity in identities {
            claims.insert(
                (identity.kind(), identity.normalized().to_owned()),
                (index, owner),
            );
        }
    }
    errors
}

/// Validates every record of a payload for `action`, in input order.
pub fn validate_records(action: TaskAction, records: &[RawRecord]) -> Vec<Verdict> {
    let mut claims = Claims::new();
    records
        .iter()
        .map(|record| {
            let json = match &record.content {
                RecordContent::Broken { error, .. } => {
                    return Verdict {
                        errors: vec![error.clone()],
                        key: None,
                    };
                }
                RecordContent::Json(json) => json,
            };
            let value: serde_json::Value = match serde_json::from_str(json.get()) {
                Ok(value) => value,
                Err(error) => {
                    let error = FieldError::new(
                        "",
                        ErrorCode::InvalidJson,
                        format!("the record is not valid JSON: {error}"),
                    );
                    return Verdict {
                        errors: vec![error],
                        key: None,
                    };
                }
            };
            match action {
                TaskAction::CreateCoreProfiles => match parse_new_core_profile(&value) {
                    Ok(profile) => Verdict {
                        errors: claim(&mut claims, record.index, None, &profile.identities),
                        key: None,
                    },
                    Err(errors) => Verdict { errors, key: None },
                },
                TaskAction::UpdateCoreProfiles => match parse_core_profile_update(&value) {
                    Ok(update) => {
                        let id = update.id.get();
                        Verdict {
                            errors: claim(&mut claims, record.index, Some(id), &update.identities),
                            key: Some(id),
                        }
                    }
                    Err(errors) => Verdict { errors, key: None },
                },
                other => Verdict {
                    errors: vec![FieldError::new(
                        "",
                        ErrorCode::ProcessingFailed,
                        format!("`{other}` tasks are not supported by this server yet"),
                    )],
                    key: None,
                },
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::payload::PayloadCollector;

    fn records(text: &str) -> Vec<RawRecord> {
        let mut collector = PayloadCollector::new(100, 10_000, false);
        collector.push(text.as_bytes()).unwrap();
        collector.finish().unwrap().1
    }

    #[test]
    fn the_later_of_two_creates_claiming_one_identity_is_a_duplicate() {
        let input = "{\"identities\":[{\"email\":\"A@x.io\"}]}\n{\"identities\":[{\"uid\":\"u\"},{\"email\":\"a@X.io\"}]}\n";
        let verdicts = validate_records(TaskAction::CreateCoreProfiles, &records(input));
        assert!(verdicts[0].errors.is_empty());
        assert_eq!(verdicts[1].errors[0].code, ErrorCode::DuplicateInPayload);
        assert_eq!(verdicts[1].errors[0].field, "identities[1].email");
    }

    #[test]
    fn updates_are_keyed_by_profile_and_may_repeat_an_identity_for_the_same_profile() {
        let input = "{\"core-profile-id\":5,\"identities\":[{\"uid\":\"u\"}]}\n\
                     {\"core-profile-id\":\"5\",\"identities\":[{\"uid\":\"u\"}]}\n\
                     {\"core-profile-id\":6,\"identities\":[{\"uid\":\"u\"}]}\n";
        let verdicts = validate_records(TaskAction::UpdateCoreProfiles, &records(input));
        assert_eq!(verdicts[0].key, Some(5));
        assert!(verdicts[1].errors.is_empty());
        assert_eq!(verdicts[2].errors[0].code, ErrorCode::DuplicateInPayload);
    }

    #[test]
    fn invalid_records_keep_their_errors() {
        let input = "{\"identities\":[]}\nnot json\n";
        let verdicts = validate_records(TaskAction::CreateCoreProfiles, &records(input));
        assert_eq!(verdicts[0].errors[0].code, ErrorCode::EmptyData);
        assert_eq!(verdicts[1].errors[0].code, ErrorCode::InvalidJson);
    }
}
