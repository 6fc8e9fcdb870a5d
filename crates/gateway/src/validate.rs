//! Record checks at the gateway, kept light: lines that are not JSON, identities (or ids) claimed
//! twice inside one payload, and the key that decides each record's chunk. Full validation
//! happens once, in the worker, which reports bad records in the errors file. A lone selector
//! record turns a `get_*` task into an export of whole sets of profiles.

use crate::error::GatewayError;
use crate::payload::{RawRecord, RecordContent};
use serde::Deserialize;
use serde_json::Value;
use serde_json::value::RawValue;
use std::collections::HashMap;
use userhub_domain::object_parser::{ErrorSink, integer_of};
use userhub_domain::profile::selector::parse_selector;
use userhub_domain::{CoreProfileId, ErrorCode, FieldError, Identity, MatchBy, TaskAction};

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

/// The fields of a record the gateway looks at; every other field is skipped without being
/// read into memory. Full validation is the worker's: it parses every record anyway, and doing
/// it twice would double the CPU an import costs.
#[derive(Default, Deserialize)]
struct Peek<'a> {
    #[serde(borrow, default)]
    identities: Option<&'a RawValue>,
    #[serde(rename = "core-profile-id", borrow, default)]
    core_profile_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    app_id: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pid: Option<&'a RawValue>,
    #[serde(borrow, default)]
    all: Option<&'a RawValue>,
    #[serde(borrow, default)]
    updated_since: Option<&'a RawValue>,
    #[serde(borrow, default)]
    identity: Option<&'a RawValue>,
    #[serde(borrow, default)]
    custom_fields: Option<&'a RawValue>,
}

impl Peek<'_> {
    fn has_selector_key(&self) -> bool {
        self.all.is_some() || self.updated_since.is_some() || self.identity.is_some()
    }

    /// The valid identities of the record (invalid ones are the worker's to report).
    fn identities(&self) -> Vec<Identity> {
        let Some(items) = self
            .identities
            .and_then(|raw| serde_json::from_str::<Vec<Value>>(raw.get()).ok())
        else {
            return Vec::new();
        };
        let mut sink = ErrorSink::default();
        items
            .iter()
            .enumerate()
            .filter_map(|(position, item)| {
                let mut identity =
                    Identity::parse(item, &format!("identities[{position}]"), &mut sink)?;
                identity.set_position(position);
                Some(identity)
            })
            .collect()
    }

    fn core_profile_id(&self) -> Option<i64> {
        let value: Value = serde_json::from_str(self.core_profile_id?.get()).ok()?;
        integer_of(&value)
            .and_then(CoreProfileId::new)
            .map(CoreProfileId::get)
    }

    fn text(raw: Option<&RawValue>) -> Option<String> {
        let text: String = serde_json::from_str(raw?.get()).ok()?;
        Some(text.trim().to_owned()).filter(|text| !text.is_empty())
    }
}

/// An upsert's chunk key: records with the same match key value touch the same profile. A record
/// without one is the worker's to report.
fn upsert_key(match_by: &MatchBy, peek: &Peek<'_>) -> Option<i64> {
    match match_by {
        MatchBy::Identity(kind) => peek
            .identities()
            .into_iter()
            .find(|identity| identity.kind() == *kind)
            .map(|identity| text_key(&format!("{}:{}", kind.as_str(), identity.normalized()))),
        MatchBy::CoreProfileId => peek.core_profile_id(),
        MatchBy::CustomField(name) => {
            let fields: serde_json::Map<String, Value> =
                serde_json::from_str(peek.custom_fields?.get()).ok()?;
            let text = match fields.get(name)? {
                Value::String(text) => text.trim().to_owned(),
                Value::Null => return None,
                other => other.to_string(),
            };
            Some(text_key(&format!("custom_field:{name}:{text}")))
        }
    }
}

fn peek(json: &RawValue) -> Option<Peek<'_>> {
    serde_json::from_str(json.get()).ok()
}

/// The chunk key and the claims of one record.
fn check_one(action: TaskAction, index: u32, peek: &Peek<'_>, claims: &mut Claims) -> Verdict {
    let (errors, key) = match action {
        TaskAction::CreateCoreProfiles => (
            claims.claim(index, None, identity_claims(&peek.identities())),
            None,
        ),
        TaskAction::UpdateCoreProfiles => {
            let id = peek.core_profile_id();
            let errors = match id {
                Some(id) => claims.claim(index, Some(id), identity_claims(&peek.identities())),
                None => Vec::new(),
            };
            (errors, id)
        }
        TaskAction::CreateAppProfiles => {
            let id = peek.core_profile_id();
            let errors = match (id, Peek::text(peek.app_id)) {
                (Some(id), Some(app)) => claims.claim(
                    index,
                    None,
                    vec![(Claim::App(id, app), "app_id".to_owned())],
                ),
                _ => Vec::new(),
            };
            (errors, id)
        }
        TaskAction::UpdateAppProfiles => {
            (Vec::new(), Peek::text(peek.pid).map(|pid| text_key(&pid)))
        }
        TaskAction::GetCoreProfiles => {
            let errors = match peek.core_profile_id() {
                Some(id) => claims.claim(
                    index,
                    None,
                    vec![(Claim::Export(id.to_string()), "core-profile-id".to_owned())],
                ),
                None => Vec::new(),
            };
            (errors, None)
        }
        TaskAction::UpsertCoreProfiles => (Vec::new(), None),
        TaskAction::GetAppProfiles => {
            let errors = match Peek::text(peek.pid) {
                Some(pid) => {
                    claims.claim(index, None, vec![(Claim::Export(pid), "pid".to_owned())])
                }
                None => Vec::new(),
            };
            (errors, None)
        }
    };
    Verdict { errors, key }
}

fn is_export(action: TaskAction) -> bool {
    matches!(
        action,
        TaskAction::GetCoreProfiles | TaskAction::GetAppProfiles
    )
}

/// Checks the records of a payload for `action`, in input order: lines that are not JSON,
/// identities (or ids) claimed twice, chunk keys, and whether it is an export by selector.
pub fn validate_records(
    action: TaskAction,
    match_by: Option<&MatchBy>,
    records: &[RawRecord],
) -> Result<Plan, GatewayError> {
    let peeks: Vec<Option<Peek<'_>>> = records
        .iter()
        .map(|record| match &record.content {
            RecordContent::Broken { .. } => None,
            RecordContent::Json(json) => peek(json),
        })
        .collect();
    let selector_records = peeks
        .iter()
        .flatten()
        .filter(|peek| peek.has_selector_key())
        .count();
    if selector_records > 0 && is_export(action) {
        if records.len() > 1 {
            return Err(GatewayError::InvalidPayload(
                "an export selector (`all`, `updated_since`, `identity`) must be the only record"
                    .to_owned(),
            ));
        }
        if let RecordContent::Json(json) = &records[0].content {
            let value: Value = serde_json::from_str(json.get()).unwrap_or(Value::Null);
            match parse_selector(&value) {
                Ok(_) => return Ok(Plan::Selector(value)),
                Err(errors) => return Ok(Plan::Records(vec![Verdict { errors, key: None }])),
            }
        }
    }
    let mut claims = Claims::default();
    Ok(Plan::Records(
        records
            .iter()
            .zip(&peeks)
            .map(|(record, peek)| match (&record.content, peek) {
                (RecordContent::Broken { error, .. }, _) => Verdict {
                    errors: vec![error.clone()],
                    key: None,
                },
                (RecordContent::Json(_), None) => Verdict::default(),
                (RecordContent::Json(_), Some(peek)) => match match_by {
                    Some(match_by) => Verdict {
                        errors: Vec::new(),
                        key: upsert_key(match_by, peek),
                    },
                    None => check_one(action, record.index, peek, &mut claims),
                },
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
        match validate_records(action, None, &records(text)).unwrap() {
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
        let plan = validate_records(
            TaskAction::GetCoreProfiles,
            None,
            &records("{\"all\":true}\n"),
        )
        .unwrap();
        assert!(matches!(plan, Plan::Selector(_)));
        let mixed = validate_records(
            TaskAction::GetCoreProfiles,
            None,
            &records("{\"all\":true}\n{\"core-profile-id\":1}\n"),
        );
        assert!(matches!(mixed, Err(GatewayError::InvalidPayload(_))));
        let bad = validate_records(
            TaskAction::GetAppProfiles,
            None,
            &records("{\"all\":false}\n"),
        )
        .unwrap();
        assert!(
            matches!(bad, Plan::Records(ref verdicts) if verdicts[0].errors[0].code == ErrorCode::InvalidValue)
        );
    }

    #[test]
    fn broken_lines_are_errors_and_full_validation_is_left_to_the_worker() {
        let verdicts = verdicts(
            TaskAction::CreateCoreProfiles,
            "{\"identities\":[]}\nnot json\n",
        );
        assert!(
            verdicts[0].errors.is_empty(),
            "the worker reports EMPTY_DATA"
        );
        assert_eq!(verdicts[1].errors[0].code, ErrorCode::InvalidJson);
    }
}
