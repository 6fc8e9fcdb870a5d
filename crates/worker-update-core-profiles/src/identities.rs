//! Adding identities to existing profiles: owned by the profile already → kept (metadata
//! refreshed); owned by another profile → `IDENTITY_CONFLICT`; new → inserted. Inserts made for
//! records that fail are undone in the same transaction.

use serde_json::json;
use std::collections::{HashMap, HashSet};
use userhub_domain::FieldError;
use userhub_domain::profile::core::CoreProfileUpdate;
use userhub_domain::record_error::identity_conflict as conflict_error;
use userhub_store::StoreError;
use userhub_store::Transaction;
use userhub_store::identities::{IdentityRow, delete_owned, insert_unowned, owners, refresh_owned};

fn row<'a>(identity: &'a userhub_domain::Identity, owner: i64) -> IdentityRow<'a> {
    IdentityRow {
        kind: identity.kind().as_str(),
        normalized: identity.normalized(),
        value: identity.value(),
        metadata: (!identity.metadata().is_empty()).then(|| json!(identity.metadata())),
        core_profile_id: owner,
    }
}

/// Adds the identities of `updates` (position, record); returns the records that fail.
pub async fn add_identities(
    transaction: &Transaction<'_>,
    domain_id: i64,
    updates: &[(usize, &CoreProfileUpdate)],
) -> Result<Vec<(usize, Vec<FieldError>)>, StoreError> {
    let additions: Vec<(usize, &userhub_domain::Identity, i64)> = updates
        .iter()
        .flat_map(|(at, update)| {
            update
                .identities
                .iter()
                .map(move |identity| (*at, identity, update.id.get()))
        })
        .collect();
    if additions.is_empty() {
        return Ok(Vec::new());
    }
    let mut keys: Vec<(&str, &str)> = additions
        .iter()
        .map(|(_, identity, _)| (identity.kind().as_str(), identity.normalized()))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    let existing = owners(transaction, domain_id, &keys).await?;
    let key_of = |identity: &userhub_domain::Identity| {
        (
            identity.kind().as_str().to_owned(),
            identity.normalized().to_owned(),
        )
    };
    let mut failures: HashMap<usize, Vec<FieldError>> = HashMap::new();
    let mut new_rows: HashMap<(String, String), IdentityRow<'_>> = HashMap::new();
    for (at, identity, profile) in &additions {
        match existing.get(&key_of(identity)) {
            Some(owner) if owner == profile => {}
            Some(owner) => failures.entry(*at).or_default().push(conflict_error(
                identity.path(),
                identity.kind().as_str(),
                Some(*owner),
            )),
            None => {
                new_rows.insert(key_of(identity), row(identity, *profile));
            }
        }
    }
    let new_rows: Vec<IdentityRow<'_>> = new_rows.into_values().collect();
    let inserted = insert_unowned(transaction, domain_id, &new_rows).await?;
    let inserted_for = |key: &(String, String), profile: i64| {
        inserted.contains(&(key.0.clone(), key.1.clone(), profile))
    };
    for (at, identity, profile) in &additions {
        let key = key_of(identity);
        if !existing.contains_key(&key) && !inserted_for(&key, *profile) {
            // Claimed concurrently by another task between our read and our insert, or by
            // another profile of this chunk.
            failures.entry(*at).or_default().push(conflict_error(
                identity.path(),
                identity.kind().as_str(),
                None,
            ));
        }
    }
    let needed_by_survivors: HashSet<(String, String)> = additions
        .iter()
        .filter(|(at, _, _)| !failures.contains_key(at))
        .map(|(_, identity, _)| key_of(identity))
        .collect();
    let undo: Vec<(&str, &str, i64)> = additions
        .iter()
        .filter(|(at, identity, profile)| {
            let key = key_of(identity);
            failures.contains_key(at)
                && inserted_for(&key, *profile)
                && !needed_by_survivors.contains(&key)
        })
        .map(|(_, identity, profile)| (identity.kind().as_str(), identity.normalized(), *profile))
        .collect();
    delete_owned(transaction, domain_id, &undo).await?;
    let refresh: Vec<IdentityRow<'_>> = additions
        .iter()
        .filter(|(at, identity, profile)| {
            !failures.contains_key(at) && existing.get(&key_of(identity)) == Some(profile)
        })
        .map(|(_, identity, profile)| row(identity, *profile))
        .collect::<Vec<_>>();
    refresh_owned(transaction, domain_id, &dedupe_last(refresh)).await?;
    Ok(failures.into_iter().collect())
}

/// Keeps the last row per key (later records win).
fn dedupe_last(rows: Vec<IdentityRow<'_>>) -> Vec<IdentityRow<'_>> {
    let mut last: HashMap<(&str, &str), usize> = HashMap::new();
    for (position, row) in rows.iter().enumerate() {
        last.insert((row.kind, row.normalized), position);
    }
    rows.iter()
        .enumerate()
        .filter(|(position, row)| last.get(&(row.kind, row.normalized)) == Some(position))
        .map(|(_, row)| row.clone())
        .collect()
}
