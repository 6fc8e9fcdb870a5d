//! `upsert_core_profiles` (EXT): each record is matched by the task's `match_by` — an identity,
//! `core-profile-id` or a custom field — and updated when a profile has that key (the update
//! semantics of `update_core_profiles`) or created when none has (those of
//! `create_core_profiles`). Results say `"result": "created"` or `"updated"`.
//!
//! Records of one key apply in input order: the chunk is worked in rounds, the n-th record of
//! every key in round n, so a key created in one round is found by the next. Two chunks racing
//! to create the same identity meet at its unique index: the loser's create fails with
//! `IDENTITY_CONFLICT`, and the record is applied again as an update of the winner's profile.
//! Custom fields have no unique index, so upserts matching by one are serialised per domain and
//! field with a transaction-scoped advisory lock.

mod match_key;

use match_key::{Found, key_of, resolve};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use userhub_domain::{ErrorCode, FieldError, MatchBy, TaskAction};
use userhub_store::core_profiles::lock_custom_field_matching;
use userhub_store::{StoreError, Transaction};
use userhub_worker_create_core_profiles::CreateCoreProfiles;
use userhub_worker_runtime::{ChunkContext, Outcome, TaskHandler, WorkRecord};
use userhub_worker_update_core_profiles::UpdateCoreProfiles;

/// The handler of `upsert_core_profiles` chunks.
#[derive(Debug, Default, Clone, Copy)]
pub struct UpsertCoreProfiles;

/// How one record is to be applied in a round.
enum Step {
    Update(usize, i64),
    Create(usize),
}

fn work_record(record: &WorkRecord, value: &Value) -> Result<WorkRecord, StoreError> {
    let text = serde_json::to_string(value)
        .map_err(|error| StoreError::Config(format!("cannot re-encode a record: {error}")))?;
    let input = RawValue::from_string(text)
        .map_err(|error| StoreError::Config(format!("cannot re-encode a record: {error}")))?;
    Ok(WorkRecord {
        index: record.index,
        line: record.line,
        input,
    })
}

/// The record as an update of profile `id`. The identity it was matched by belongs to that
/// profile already and is left out (metadata aside, it would change nothing).
fn as_update(value: &Value, id: i64, match_by: &MatchBy) -> Value {
    let mut value = value.clone();
    if let Some(object) = value.as_object_mut() {
        object.insert("core-profile-id".to_owned(), json!(id));
        if let (MatchBy::Identity(kind), Some(Value::Array(identities))) =
            (match_by, object.get_mut("identities"))
        {
            let only_key = |item: &Value| {
                item.as_object()
                    .is_some_and(|entry| entry.len() == 1 && entry.contains_key(kind.as_str()))
            };
            if let Some(at) = identities.iter().position(only_key) {
                identities.remove(at);
            }
            if identities.is_empty() {
                object.remove("identities");
            }
        }
    }
    value
}

fn labelled(outcome: Outcome, result: &str) -> Outcome {
    match outcome {
        Outcome::Succeeded(mut fields) => {
            let mut labelled = Map::new();
            labelled.insert("result".to_owned(), json!(result));
            labelled.append(&mut fields);
            Outcome::Succeeded(labelled)
        }
        other => other,
    }
}

/// A matched record that changes nothing is a success, not `EMPTY_DATA`.
fn unchanged_is_success(outcome: Outcome, id: i64) -> Outcome {
    match &outcome {
        Outcome::Failed(errors) if errors.len() == 1 && errors[0].code == ErrorCode::EmptyData => {
            let mut fields = Map::new();
            fields.insert("core-profile-id".to_owned(), json!(id));
            fields.insert("updated_fields".to_owned(), json!([]));
            Outcome::Succeeded(fields)
        }
        _ => outcome,
    }
}

/// Whether a failed create lost a race for its match identity.
fn lost_race(outcome: &Outcome, match_by: &MatchBy) -> bool {
    let MatchBy::Identity(kind) = match_by else {
        return false;
    };
    let suffix = format!(".{}", kind.as_str());
    matches!(outcome, Outcome::Failed(errors) if errors.iter().any(|error| {
        error.code == ErrorCode::IdentityConflict && error.field.ends_with(&suffix)
    }))
}

/// Rounds: the n-th record of each key goes into round n.
fn rounds_of(keys: &[Option<String>]) -> Vec<Vec<usize>> {
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut rounds: Vec<Vec<usize>> = Vec::new();
    for (at, key) in keys.iter().enumerate() {
        let Some(key) = key else { continue };
        let round = seen.entry(key.as_str()).or_insert(0);
        if rounds.len() <= *round {
            rounds.resize_with(*round + 1, Vec::new);
        }
        rounds[*round].push(at);
        *round += 1;
    }
    rounds
}

struct Chunk<'a> {
    transaction: &'a Transaction<'a>,
    context: &'a ChunkContext,
    records: &'a [WorkRecord],
    values: &'a [Option<Value>],
    match_by: &'a MatchBy,
}

impl Chunk<'_> {
    async fn update(&self, steps: &[(usize, i64)]) -> Result<Vec<Outcome>, StoreError> {
        if steps.is_empty() {
            return Ok(Vec::new());
        }
        let mut records = Vec::with_capacity(steps.len());
        for &(at, id) in steps {
            let value = self.values[at]
                .as_ref()
                .map(|value| as_update(value, id, self.match_by));
            records.push(work_record(
                &self.records[at],
                &value.unwrap_or(Value::Null),
            )?);
        }
        let outcomes = UpdateCoreProfiles
            .apply(self.transaction, self.context, &records)
            .await?;
        Ok(outcomes
            .into_iter()
            .zip(steps)
            .map(|(outcome, &(_, id))| labelled(unchanged_is_success(outcome, id), "updated"))
            .collect())
    }

    async fn create(&self, positions: &[usize]) -> Result<Vec<Outcome>, StoreError> {
        if positions.is_empty() {
            return Ok(Vec::new());
        }
        let mut records = Vec::with_capacity(positions.len());
        for &at in positions {
            let value = self.values[at].clone().unwrap_or(Value::Null);
            records.push(work_record(&self.records[at], &value)?);
        }
        let outcomes = CreateCoreProfiles
            .apply(self.transaction, self.context, &records)
            .await?;
        Ok(outcomes
            .into_iter()
            .map(|outcome| labelled(outcome, "created"))
            .collect())
    }
}

impl TaskHandler for UpsertCoreProfiles {
    fn action(&self) -> TaskAction {
        TaskAction::UpsertCoreProfiles
    }

    async fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [WorkRecord],
    ) -> Result<Vec<Outcome>, StoreError> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; records.len()];
        let Some(match_by) = chunk.options.match_by.clone() else {
            let error = FieldError::new(
                "",
                ErrorCode::ProcessingFailed,
                "the task has no `match_by`",
            );
            return Ok(vec![Outcome::Failed(vec![error]); records.len()]);
        };
        let mut values: Vec<Option<Value>> = Vec::with_capacity(records.len());
        let mut keys: Vec<Option<String>> = Vec::with_capacity(records.len());
        for (at, record) in records.iter().enumerate() {
            let key = record.value().and_then(|value| {
                key_of(&match_by, &value)
                    .map(|key| (key, value))
                    .map_err(|error| vec![error])
            });
            match key {
                Ok((key, value)) => {
                    values.push(Some(value));
                    keys.push(Some(key));
                }
                Err(errors) => {
                    values.push(None);
                    keys.push(None);
                    outcomes[at] = Some(Outcome::Failed(errors));
                }
            }
        }
        if let MatchBy::CustomField(name) = &match_by {
            lock_custom_field_matching(transaction, chunk.domain_id, name).await?;
        }
        let work = Chunk {
            transaction,
            context: chunk,
            records,
            values: &values,
            match_by: &match_by,
        };
        for round in rounds_of(&keys) {
            let round_keys: Vec<&str> =
                round.iter().filter_map(|&at| keys[at].as_deref()).collect();
            let found = resolve(transaction, chunk.domain_id, &match_by, &round_keys).await?;
            let mut steps = Vec::with_capacity(round.len());
            for &at in &round {
                let key = keys[at].as_deref().unwrap_or_default();
                match found.get(key).unwrap_or(&Found::Nothing) {
                    Found::Profile(id) => steps.push(Step::Update(at, *id)),
                    Found::Several(ids) => {
                        let error = FieldError::new(
                            match &match_by {
                                MatchBy::CustomField(name) => format!("custom_fields.{name}"),
                                _ => String::new(),
                            },
                            ErrorCode::AmbiguousMatch,
                            format!("{} profiles match `{key}` by {match_by}", ids.len()),
                        )
                        .with_details(json!({ "core-profile-ids": ids }));
                        outcomes[at] = Some(Outcome::Failed(vec![error]));
                    }
                    // An unknown id is not created: the update reports it as NOT_FOUND.
                    Found::Nothing if match_by == MatchBy::CoreProfileId => {
                        let id = key.parse().unwrap_or_default();
                        steps.push(Step::Update(at, id));
                    }
                    Found::Nothing => steps.push(Step::Create(at)),
                }
            }
            let updates: Vec<(usize, i64)> = steps
                .iter()
                .filter_map(|step| match step {
                    Step::Update(at, id) => Some((*at, *id)),
                    Step::Create(_) => None,
                })
                .collect();
            let creates: Vec<usize> = steps
                .iter()
                .filter_map(|step| match step {
                    Step::Create(at) => Some(*at),
                    Step::Update(..) => None,
                })
                .collect();
            for (&(at, _), outcome) in updates.iter().zip(work.update(&updates).await?) {
                outcomes[at] = Some(outcome);
            }
            let mut raced = Vec::new();
            for (&at, outcome) in creates.iter().zip(work.create(&creates).await?) {
                if lost_race(&outcome, &match_by) {
                    raced.push(at);
                }
                outcomes[at] = Some(outcome);
            }
            if !raced.is_empty() {
                // Another chunk created these keys meanwhile: update its profiles instead.
                let raced_keys: Vec<&str> =
                    raced.iter().filter_map(|&at| keys[at].as_deref()).collect();
                let found = resolve(transaction, chunk.domain_id, &match_by, &raced_keys).await?;
                let retry: Vec<(usize, i64)> = raced
                    .iter()
                    .filter_map(|&at| match found.get(keys[at].as_deref()?) {
                        Some(Found::Profile(id)) => Some((at, *id)),
                        _ => None,
                    })
                    .collect();
                for (&(at, _), outcome) in retry.iter().zip(work.update(&retry).await?) {
                    outcomes[at] = Some(outcome);
                }
            }
        }
        Ok(outcomes
            .into_iter()
            .map(|outcome| {
                outcome.unwrap_or_else(|| {
                    Outcome::Failed(vec![FieldError::new(
                        "",
                        ErrorCode::ProcessingFailed,
                        "the record was not applied",
                    )])
                })
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_record_of_a_key_goes_into_round_n() {
        let keys: Vec<Option<String>> = ["a", "b", "a", "", "a", "b"]
            .iter()
            .map(|key| (!key.is_empty()).then(|| (*key).to_owned()))
            .collect();
        assert_eq!(rounds_of(&keys), vec![vec![0, 1], vec![2, 5], vec![4]]);
    }
}
