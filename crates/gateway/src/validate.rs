//! Record validation at the gateway: every record is parsed into its typed form so that the
//! errors file can report bad records, duplicates inside the payload are found, and each record
//! gets the key that decides its chunk. A lone selector record turns a `get_*` task into an
//! export of whole sets of profiles.

use crate::error::GatewayError;
use crate::payload::{RawRecord, RecordContent};
use serde_json::Value;
use std::collections::HashMap;
use userhub_domain::profile::app::{parse_app_profile_update, parse_new_app_profile};
use userhub_domain::profile::core::{parse_core_profile_update, parse_new_core_profile};
use userhub_domain::profile::selector::{
    is_selector, parse_app_export_record, parse_core_export_record, parse_selector,
};
use userhub_domain::{ErrorCode, FieldError, Identity, TaskAction};

/// What the gateway learnt about one record.
#[derive(Debug, Default)]
pub struct Verdict {
    /// Problems found; empty when the record goes to a worker for processing.
    pub errors: Vec<FieldError>,
    /// Records with the same key touch the same profile and must share a chunk.
    pub key: Option<i64>,
}

/// How a request's records are to be processed.
#[derive(Debug)]
pub enum Plan {
    /// Record by record, with the verdict of each.
    Records(Vec<Verdict>),
    /// An export of every profile the selector picks.
    Selector(Value),
}

/// Something a record claims that no later record of the payload may claim again.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Claim {
    /// An identity, for a new profile (`None`) or an existing one.
    Identity(&'static str, String),
    /// An app of a core profile.
    App(i64, String),
    /// A profile to export.
    Export(String),
}

#[derive(Default)]
struct Claims {
    /// Who claimed it first: record index, and the owner (only identities have one).
    seen: HashMap<Claim, (u32, Option<i64>)>,
}

impl Claims {
    /// Records every claim of a record unless one was made before; returns the duplicates.
    fn claim(
        &mut self,
        index: u32,
        owner: Option<i64>,
        claims: Vec<(Claim, String)>,
    ) -> Vec<FieldError> {
        let mut errors = Vec::new();
        for (claim, path) in &claims {
            match self.seen.get(claim) {
                Some((_, earlier)) if owner.is_some() && *earlier == owner => {}
                Some((earlier_index, _)) => errors.push(
                    FieldError::new(
                        path,
                        ErrorCode::DuplicateInPayload,
                        format!("record {earlier_index} of this payload already has this"),
                    )
                    .with_details(serde_json::json!({ "index": earlier_index })),
                ),
                None => {}
            }
        }
        if errors.is_empty() {
            for (claim, _) in claims {
                self.seen.insert(claim, (index, owner));
            }
        }
        errors
    }
}

fn identity_claims(identities: &[Identity]) -> Vec<(Claim, String)> {
    identities
        .iter()
        .map(|identity| {
            let claim = Claim::Identity(identity.kind().as_str(), identity.normalized().to_owned());
            (claim, identity.path())
        })
        .collect()
}

/// A stable 64-bit key for a text key (FNV-1a); collisions only put records in one chunk.
fn text_key(text: &str) -> i64 {
    let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3)
    });
    hash as i64
}

fn verdict(result: Result<(Vec<FieldError>, Option<i64>), Vec<FieldError>>) -> Verdict {
    match result {
        Ok((errors, key)) => Verdict { errors, key },
        Err(errors) => Verdict { errors, key: None },
    }
}

fn validate_one(action: TaskAction, index: u32, value: &Value, claims: &mut Claims) -> Verdict {
    verdict(match action {
        TaskAction::CreateCoreProfiles => parse_new_core_profile(value).map(|profile| {
            (
                claims.claim(index, None, identity_claims(&profile.identities)),
                None,
            )
        }),
        TaskAction::UpdateCoreProfiles => parse_core_profile_update(value).map(|update| {
            let id = update.id.get();
            (
                claims.claim(index, Some(id), identity_claims(&update.identities)),
                Some(id),
            )
        }),
        TaskAction::CreateAppProfiles => parse_new_app_profile(value).map(|profile| {
            let core = profile.core_profile_id.get();
            let claim = (
                Claim::App(core, profile.app_id.clone()),
                "app_id".to_owned(),
            );
            (claims.claim(index, None, vec![claim]), Some(core))
        }),
        TaskAction::UpdateAppProfiles => {
            parse_app_profile_update(value).map(|update| (Vec::new(), Some(text_key(&update.pid))))
        }
        TaskAction::GetCoreProfiles => parse_core_export_record(value).map(|id| {
            let claim = (Claim::Export(id.to_string()), "core-profile-id".to_owned());
            (claims.claim(index, None, vec![claim]), None)
        }),
        TaskAction::GetAppProfiles => parse_app_export_record(value).map(|pid| {
            let claim = (Claim::Export(pid), "pid".to_owned());
            (claims.claim(index, None, vec![claim]), None)
        }),
    })
}

fn is_export(action: TaskAction) -> bool {
    matches!(
        action,
        TaskAction::GetCoreProfiles | TaskAction::GetAppProfiles
    )
}

/// Validates every record of a payload for `action`, in input order.
pub fn validate_records(action: TaskAction, records: &[RawRecord]) -> Result<Plan, GatewayError> {
    let values: Vec<Result<Value, FieldError>> = records
        .iter()
        .map(|record| match &record.content {
            RecordContent::Broken { error, .. } => Err(error.clone()),
            RecordContent::Json(json) => serde_json::from_str(json.get()).map_err(|error| {
                FieldError::new(
                    "",
                    ErrorCode::InvalidJson,
                    format!("the record is not valid JSON: {error}"),
                )
            }),
        })
        .collect();
    let selectors = values
        .iter()
        .flatten()
        .filter(|value| is_selector(value))
        .count();
    if selectors > 0 && is_export(action) {
        if values.len() > 1 {
            return Err(GatewayError::InvalidPayload(
                "an export selector (`all`, `updated_since`, `identity`) must be the only record"
                    .to_owned(),
            ));
        }
        if let Some(Ok(value)) = values.first() {
            match parse_selector(value) {
                Ok(_) => return Ok(Plan::Selector(value.clone())),
                Err(errors) => return Ok(Plan::Records(vec![Verdict { errors, key: None }])),
            }
        }
    }
    let mut claims = Claims::default();
    Ok(Plan::Records(
        records
            .iter()
            .zip(values)
            .map(|(record, value)| match value {
                Err(error) => Verdict {
                    errors: vec![error],
                    key: None,
                },
                Ok(value) => validate_one(action, record.index, &value, &mut claims),
            })
            .collect(),
    ))
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

    fn verdicts(action: TaskAction, text: &str) -> Vec<Verdict> {
        match validate_records(action, &records(text)).unwrap() {
            Plan::Records(verdicts) => verdicts,
            Plan::Selector(_) => panic!("not a selector"),
        }
    }

    #[test]
    fn the_later_of_two_creates_claiming_one_identity_is_a_duplicate() {
        let input = "{\"identities\":[{\"email\":\"A@x.io\"}]}\n{\"identities\":[{\"uid\":\"u\"},{\"email\":\"a@X.io\"}]}\n";
        let verdicts = verdicts(TaskAction::CreateCoreProfiles, input);
        assert!(verdicts[0].errors.is_empty());
        assert_eq!(verdicts[1].errors[0].code, ErrorCode::DuplicateInPayload);
        assert_eq!(verdicts[1].errors[0].field, "identities[1].email");
    }

    #[test]
    fn updates_are_keyed_by_profile_and_may_repeat_an_identity_for_the_same_profile() {
        let input = "{\"core-profile-id\":5,\"identities\":[{\"uid\":\"u\"}]}\n\
                     {\"core-profile-id\":\"5\",\"identities\":[{\"uid\":\"u\"}]}\n\
                     {\"core-profile-id\":6,\"identities\":[{\"uid\":\"u\"}]}\n";
        let verdicts = verdicts(TaskAction::UpdateCoreProfiles, input);
        assert_eq!(verdicts[0].key, Some(5));
        assert!(verdicts[1].errors.is_empty());
        assert_eq!(verdicts[2].errors[0].code, ErrorCode::DuplicateInPayload);
    }

    #[test]
    fn app_profile_records_are_keyed_and_checked_for_duplicates() {
        let input =
            "{\"core-profile-id\":5,\"app_id\":\"a\"}\n{\"core-profile-id\":5,\"app_id\":\"a\"}\n";
        let creates = verdicts(TaskAction::CreateAppProfiles, input);
        assert_eq!(creates[0].key, Some(5));
        assert_eq!(creates[1].errors[0].field, "app_id");
        let updates = verdicts(
            TaskAction::UpdateAppProfiles,
            "{\"pid\":\"p\",\"city\":\"x\"}\n{\"pid\":\"p\",\"city\":\"y\"}\n",
        );
        assert_eq!(updates[0].key, updates[1].key);
        assert!(updates[1].errors.is_empty());
    }

    #[test]
    fn exports_report_repeated_ids_once() {
        let verdicts = verdicts(
            TaskAction::GetCoreProfiles,
            "{\"core-profile-id\":1}\n{\"core-profile-id\":\"1\"}\n",
        );
        assert!(verdicts[0].errors.is_empty());
        assert_eq!(verdicts[1].errors[0].code, ErrorCode::DuplicateInPayload);
    }

    #[test]
    fn a_lone_selector_makes_an_export_plan_and_mixing_is_refused() {
        let plan =
            validate_records(TaskAction::GetCoreProfiles, &records("{\"all\":true}\n")).unwrap();
        assert!(matches!(plan, Plan::Selector(_)));
        let mixed = validate_records(
            TaskAction::GetCoreProfiles,
            &records("{\"all\":true}\n{\"core-profile-id\":1}\n"),
        );
        assert!(matches!(mixed, Err(GatewayError::InvalidPayload(_))));
        let bad =
            validate_records(TaskAction::GetAppProfiles, &records("{\"all\":false}\n")).unwrap();
        assert!(
            matches!(bad, Plan::Records(ref verdicts) if verdicts[0].errors[0].code == ErrorCode::InvalidValue)
        );
    }

    #[test]
    fn invalid_records_keep_their_errors() {
        let verdicts = verdicts(
            TaskAction::CreateCoreProfiles,
            "{\"identities\":[]}\nnot json\n",
        );
        assert_eq!(verdicts[0].errors[0].code, ErrorCode::EmptyData);
        assert_eq!(verdicts[1].errors[0].code, ErrorCode::InvalidJson);
    }
}
