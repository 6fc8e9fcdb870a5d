//! Creating, updating and upserting core profiles, a chunk at a time: the profiles the records
//! target are locked and loaded, the records are applied in input order in memory
//! (`simulate`), and the result is written with a handful of set-based statements. When the
//! database disagrees with what the chunk knew — another chunk took an identity meanwhile — the
//! identity insert rolls back to its savepoint and the records are applied again with the
//! owners looked up, so every record ends exactly as if it had been applied alone.

pub mod simulate;

use simulate::{Existing, Knowledge, Op, ProfileWrite, RecordResult, Simulation, Slot, Target};
use std::collections::{HashMap, HashSet};
use userhub_domain::CoreProfileId;
use userhub_domain::DomainId;
use userhub_domain::profile::FieldSet;
use userhub_domain::profile::core::{
    CoreField, CoreProfilePatch, CoreProfileUpsert, NewCoreProfile,
};
use userhub_domain::values::Version;
use userhub_domain::{FieldError, Identity, IdentityKind, MatchBy};
use userhub_store::core_profiles::{
    IdSequence, allocate_ids, ids_by_custom_field, insert_profiles, lock_and_load,
    lock_custom_field_matching, update_changed,
};
use userhub_store::identities::{OwnedIdentity, identities_of, insert_new, owners, refresh};
use userhub_store::reverts::capture_added_identities;
use userhub_store::{StoreError, Transaction};

/// How many times a chunk is applied again after finding its knowledge out of date before it
/// gives up (and is retried later as a transient failure).
const MAX_ROUNDS: usize = 6;

/// What one record did.
#[derive(Debug, Clone, PartialEq)]
pub enum CoreOutcome {
    /// It created profile `id`.
    Created {
        id: CoreProfileId,
    },
    /// It was applied to profile `id`, changing `changed` (possibly nothing).
    Updated {
        id: CoreProfileId,
        changed: FieldSet<CoreField>,
    },
    Failed(Vec<FieldError>),
}

/// One profile the chunk created or changed (for profile events).
#[derive(Debug, Clone, PartialEq)]
pub struct CoreChange {
    pub id: CoreProfileId,
    pub created: bool,
    pub changed: FieldSet<CoreField>,
    /// Its external version after the chunk, if it has one.
    pub version: Option<Version>,
}

/// The outcome of every record, in input order, and every profile that changed.
#[derive(Debug, Default)]
pub struct CoreApplied {
    pub outcomes: Vec<CoreOutcome>,
    pub changes: Vec<CoreChange>,
}

/// A record of a chunk with its position in the task.
#[derive(Debug, Clone, Copy)]
pub struct Indexed<'a, T> {
    pub index: u32,
    pub record: &'a T,
}

/// Creates a profile per record (`create_core_profiles`), with ids from `ids`.
pub async fn create(
    client: &Transaction<'_>,
    domain_id: DomainId,
    records: &[Indexed<'_, NewCoreProfile>],
    ids: IdSequence,
) -> Result<CoreApplied, StoreError> {
    let ops: Vec<Op<'_>> = records
        .iter()
        .map(|r| Op {
            index: r.index,
            target: Target::New,
            identities: &r.record.identities,
            fields: &r.record.fields,
        })
        .collect();
    apply(client, domain_id, &ops, Knowledge::default(), ids).await
}

/// Applies each record to its profile (`update_core_profiles`).
pub async fn update(
    client: &Transaction<'_>,
    domain_id: DomainId,
    records: &[Indexed<'_, CoreProfilePatch>],
) -> Result<CoreApplied, StoreError> {
    let ops: Vec<Op<'_>> = records
        .iter()
        .map(|r| Op {
            index: r.index,
            target: Target::Id(r.record.id),
            identities: &r.record.identities,
            fields: &r.record.fields,
        })
        .collect();
    let ids: Vec<CoreProfileId> = ops
        .iter()
        .filter_map(|op| match op.target {
            Target::Id(id) => Some(id),
            _ => None,
        })
        .collect();
    let mut knowledge = Knowledge::default();
    load(client, domain_id, &ids, &mut knowledge).await?;
    // Updates never create a profile, so no id is drawn.
    apply(client, domain_id, &ops, knowledge, IdSequence::Profiles).await
}

/// Updates the profile each record's match key finds, or creates one (`upsert_core_profiles`)
/// with an id from `ids`. `keys[i]` is the match key of `records[i]`.
pub async fn upsert(
    client: &Transaction<'_>,
    domain_id: DomainId,
    match_by: &MatchBy,
    records: &[Indexed<'_, CoreProfileUpsert>],
    keys: &[String],
    ids: IdSequence,
) -> Result<CoreApplied, StoreError> {
    let ops: Vec<Op<'_>> = records
        .iter()
        .zip(keys)
        .map(|(r, key)| Op {
            index: r.index,
            target: Target::Key(key.clone()),
            identities: &r.record.identities,
            fields: &r.record.fields,
        })
        .collect();
    let mut knowledge = Knowledge {
        match_by: Some(match_by.clone()),
        ..Knowledge::default()
    };
    let mut unique_keys: Vec<String> = keys.to_vec();
    unique_keys.sort_unstable();
    unique_keys.dedup();
    let targets: Vec<CoreProfileId> = match match_by {
        MatchBy::Identity(kind) => {
            let pairs: Vec<(&str, &str)> = unique_keys
                .iter()
                .map(|key| (kind.as_str(), key.as_str()))
                .collect();
            let found = owners(client, domain_id, &pairs).await?;
            remember_owners(&mut knowledge, found);
            knowledge.owners.values().copied().collect()
        }
        MatchBy::CoreProfileId => unique_keys
            .iter()
            .filter_map(|key| key.parse().ok())
            .collect(),
        MatchBy::CustomField(name) => {
            lock_custom_field_matching(client, domain_id, name).await?;
            let per_key = simulate::MAX_LISTED_MATCHES as i64 + 1;
            let holders =
                ids_by_custom_field(client, domain_id, name, &unique_keys, per_key).await?;
            let single: Vec<CoreProfileId> = holders
                .iter()
                .filter(|holders| holders.total == 1)
                .flat_map(|holders| holders.ids.iter().copied())
                .collect();
            knowledge.holders = holders
                .into_iter()
                .map(|holders| (holders.key.clone(), holders))
                .collect();
            single
        }
    };
    load(client, domain_id, &targets, &mut knowledge).await?;
    apply(client, domain_id, &ops, knowledge, ids).await
}

fn remember_owners(knowledge: &mut Knowledge, found: HashMap<(String, String), CoreProfileId>) {
    for ((kind, normalized), owner) in found {
        if let Ok(kind) = kind.parse::<IdentityKind>() {
            knowledge.owners.insert((kind, normalized), owner);
        }
    }
}

/// Locks and loads `ids` (those not loaded yet) with their identities.
async fn load(
    client: &Transaction<'_>,
    domain_id: DomainId,
    ids: &[CoreProfileId],
    knowledge: &mut Knowledge,
) -> Result<(), StoreError> {
    let mut wanted: Vec<CoreProfileId> = ids
        .iter()
        .copied()
        .filter(|id| !knowledge.loaded.contains_key(id))
        .collect();
    wanted.sort_unstable();
    wanted.dedup();
    if wanted.is_empty() {
        return Ok(());
    }
    let profiles = lock_and_load(client, domain_id, &wanted).await?;
    let found: Vec<CoreProfileId> = profiles.iter().map(|profile| profile.id).collect();
    // Read after the locks are held: a statement that waited for a lock would see identities
    // from before the wait.
    let mut identities: HashMap<CoreProfileId, Vec<Identity>> = HashMap::new();
    for (owner, identity) in identities_of(client, domain_id, &found).await? {
        knowledge
            .owners
            .insert((identity.kind(), identity.normalized().to_owned()), owner);
        identities.entry(owner).or_default().push(identity);
    }
    for profile in profiles {
        let existing = Existing {
            state: profile.state,
            identities: identities.remove(&profile.id).unwrap_or_default(),
        };
        knowledge.loaded.insert(profile.id, existing);
    }
    Ok(())
}

/// Every identity key the records name.
fn identity_keys<'a>(ops: &'a [Op<'_>]) -> Vec<(&'static str, &'a str)> {
    let mut keys: Vec<(&'static str, &str)> = ops
        .iter()
        .flat_map(|op| op.identities.iter())
        .map(|identity| (identity.kind().as_str(), identity.normalized()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

fn id_of(slot: Slot, new_ids: &[CoreProfileId]) -> CoreProfileId {
    match slot {
        Slot::Existing(id) => id,
        Slot::New(n) => new_ids[n],
    }
}

async fn apply(
    client: &Transaction<'_>,
    domain_id: DomainId,
    ops: &[Op<'_>],
    mut knowledge: Knowledge,
    ids: IdSequence,
) -> Result<CoreApplied, StoreError> {
    let mut new_ids: Vec<CoreProfileId> = Vec::new();
    let mut owners_known = false;
    for _ in 0..MAX_ROUNDS {
        let run = simulate::simulate(ops, &knowledge);
        if !run.missing.is_empty() {
            load(client, domain_id, &run.missing, &mut knowledge).await?;
            continue;
        }
        if run.created > new_ids.len() {
            new_ids.extend(allocate_ids(client, run.created - new_ids.len(), ids).await?);
        }
        if write(client, domain_id, &run, &new_ids).await? {
            return Ok(applied(run, &new_ids));
        }
        // Another chunk took an identity meanwhile: learn every owner and decide again.
        let keys = identity_keys(ops);
        let found = owners(client, domain_id, &keys).await?;
        remember_owners(&mut knowledge, found);
        owners_known = true;
    }
    Err(StoreError::Contention(format!(
        "the chunk's identities kept being taken by concurrent chunks (owners known: {owners_known})"
    )))
}

/// Writes a run; `false` (nothing written) when an identity turned out to be taken.
async fn write(
    client: &Transaction<'_>,
    domain_id: DomainId,
    run: &Simulation,
    new_ids: &[CoreProfileId],
) -> Result<bool, StoreError> {
    let new_identities = owned(run.writes.iter(), |write| &write.new_identities, new_ids);
    if !insert_new(client, domain_id, &new_identities).await? {
        return Ok(false);
    }
    let existing = run.writes.iter().filter(|write| !write.created);
    let added_to_existing = owned(existing, |write| &write.new_identities, new_ids);
    capture_added_identities(client, domain_id, &added_to_existing).await?;
    let refreshed = owned(run.writes.iter(), |write| &write.refreshed, new_ids);
    refresh(client, domain_id, &refreshed).await?;
    let created: Vec<(CoreProfileId, &_)> = run
        .writes
        .iter()
        .filter(|write| write.created)
        .map(|write| (id_of(write.slot, new_ids), &write.state))
        .collect();
    insert_profiles(client, domain_id, &created).await?;
    let changed: Vec<(CoreProfileId, &_, FieldSet<CoreField>)> = run
        .writes
        .iter()
        .filter(|write| !write.created)
        .map(|write| (id_of(write.slot, new_ids), &write.state, write.changed))
        .collect();
    update_changed(client, domain_id, &changed).await?;
    Ok(true)
}

/// The identities `pick` takes from each of `writes`, with their owners' ids.
fn owned<'r>(
    writes: impl Iterator<Item = &'r ProfileWrite>,
    pick: fn(&ProfileWrite) -> &Vec<Identity>,
    new_ids: &[CoreProfileId],
) -> Vec<OwnedIdentity<'r>> {
    writes
        .flat_map(|write| {
            let owner = id_of(write.slot, new_ids);
            pick(write)
                .iter()
                .map(move |identity| OwnedIdentity { identity, owner })
        })
        .collect()
}

fn applied(run: Simulation, new_ids: &[CoreProfileId]) -> CoreApplied {
    let outcomes = run
        .results
        .into_iter()
        .map(|result| match result {
            RecordResult::Created(slot) => CoreOutcome::Created {
                id: id_of(slot, new_ids),
            },
            RecordResult::Updated(slot, changed) => CoreOutcome::Updated {
                id: id_of(slot, new_ids),
                changed,
            },
            RecordResult::Failed(errors) => CoreOutcome::Failed(errors),
        })
        .collect();
    let mut seen = HashSet::new();
    let changes = run
        .writes
        .iter()
        .filter(|write| write.created || !write.changed.is_empty())
        .filter(|write| seen.insert(write.slot))
        .map(|write| CoreChange {
            id: id_of(write.slot, new_ids),
            created: write.created,
            changed: write.changed,
            version: write.state.version,
        })
        .collect();
    CoreApplied { outcomes, changes }
}
