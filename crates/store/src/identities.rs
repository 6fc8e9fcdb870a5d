//! Identities: unique (kind, normalised value) per domain, each owned by one core profile.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;
use serde_json::Value;
use std::collections::{HashMap, HashSet};

/// One identity to store for a profile.
#[derive(Debug, Clone)]
pub struct IdentityRow<'a> {
    pub kind: &'a str,
    pub normalized: &'a str,
    pub value: &'a str,
    pub metadata: Option<Value>,
    pub core_profile_id: i64,
}

/// `(kind, normalised value)`.
pub type IdentityKey = (String, String);
/// An identity key with the profile that owns it.
pub type OwnedIdentityKey = (String, String, i64);

/// Inserts identities that nobody owns yet, in key order (concurrent chunks lock keys in the
/// same order and cannot deadlock); returns the keys actually inserted.
pub async fn insert_unowned(
    client: &impl GenericClient,
    domain_id: i64,
    rows: &[IdentityRow<'_>],
) -> Result<HashSet<OwnedIdentityKey>, StoreError> {
    if rows.is_empty() {
        return Ok(HashSet::new());
    }
    let mut sorted: Vec<&IdentityRow<'_>> = rows.iter().collect();
    sorted.sort_by(|a, b| (a.kind, a.normalized).cmp(&(b.kind, b.normalized)));
    let kinds: Vec<&str> = sorted.iter().map(|row| row.kind).collect();
    let normalized: Vec<&str> = sorted.iter().map(|row| row.normalized).collect();
    let values: Vec<&str> = sorted.iter().map(|row| row.value).collect();
    let metadata: Vec<Option<&Value>> = sorted.iter().map(|row| row.metadata.as_ref()).collect();
    let owners: Vec<i64> = sorted.iter().map(|row| row.core_profile_id).collect();
    // Conflicts are rare: a plain insert (no speculative insertion per row) is tried first
    // inside a savepoint, and only a unique violation takes the slower path below.
    let plain = client
        .prepare_cached(
            "INSERT INTO identities (domain_id, kind, normalized, value, metadata, core_profile_id)
             SELECT $1, u.kind, u.normalized, u.value, u.metadata, u.owner
               FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[], $6::int8[]) WITH ORDINALITY
                    AS u(kind, normalized, value, metadata, owner, position)
              ORDER BY u.position",
        )
        .await?;
    client.batch_execute("SAVEPOINT identities_plain").await?;
    let params: [&(dyn tokio_postgres::types::ToSql + Sync); 6] =
        [&domain_id, &kinds, &normalized, &values, &metadata, &owners];
    match client.execute(&plain, &params).await {
        Ok(_) => {
            client
                .batch_execute("RELEASE SAVEPOINT identities_plain")
                .await?;
            return Ok(sorted
                .iter()
                .map(|row| {
                    (
                        row.kind.to_owned(),
                        row.normalized.to_owned(),
                        row.core_profile_id,
                    )
                })
                .collect());
        }
        Err(error) if error.code() == Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION) => {
            client
                .batch_execute("ROLLBACK TO SAVEPOINT identities_plain")
                .await?;
        }
        Err(error) => return Err(error.into()),
    }
    let statement = client
        .prepare_cached(
            "INSERT INTO identities (domain_id, kind, normalized, value, metadata, core_profile_id)
             SELECT $1, u.kind, u.normalized, u.value, u.metadata, u.owner
               FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[], $6::int8[]) WITH ORDINALITY
                    AS u(kind, normalized, value, metadata, owner, position)
              ORDER BY u.position
             ON CONFLICT DO NOTHING
             RETURNING kind, normalized, core_profile_id",
        )
        .await?;
    let inserted = client
        .query(
            &statement,
            &[&domain_id, &kinds, &normalized, &values, &metadata, &owners],
        )
        .await?;
    Ok(inserted
        .iter()
        .map(|row| (row.get(0), row.get(1), row.get(2)))
        .collect())
}

/// The owners of the given keys that exist.
pub async fn owners(
    client: &impl GenericClient,
    domain_id: i64,
    keys: &[(&str, &str)],
) -> Result<HashMap<IdentityKey, i64>, StoreError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let kinds: Vec<&str> = keys.iter().map(|(kind, _)| *kind).collect();
    let normalized: Vec<&str> = keys.iter().map(|(_, normalized)| *normalized).collect();
    let statement = client
        .prepare_cached(
            "SELECT i.kind, i.normalized, i.core_profile_id
               FROM identities i
               JOIN unnest($2::text[], $3::text[]) AS k(kind, normalized)
                 ON i.kind = k.kind AND i.normalized = k.normalized
              WHERE i.domain_id = $1",
        )
        .await?;
    let rows = client
        .query(&statement, &[&domain_id, &kinds, &normalized])
        .await?;
    Ok(rows
        .iter()
        .map(|row| ((row.get(0), row.get(1)), row.get(2)))
        .collect())
}

/// Rewrites value and metadata of identities a profile already owns (re-adding one is allowed).
pub async fn refresh_owned(
    client: &impl GenericClient,
    domain_id: i64,
    rows: &[IdentityRow<'_>],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = rows.iter().map(|row| row.kind).collect();
    let normalized: Vec<&str> = rows.iter().map(|row| row.normalized).collect();
    let values: Vec<&str> = rows.iter().map(|row| row.value).collect();
    let metadata: Vec<Option<&Value>> = rows.iter().map(|row| row.metadata.as_ref()).collect();
    let owners: Vec<i64> = rows.iter().map(|row| row.core_profile_id).collect();
    let statement = client
        .prepare_cached(
            "UPDATE identities i SET value = u.value, metadata = u.metadata
               FROM unnest($2::text[], $3::text[], $4::text[], $5::jsonb[], $6::int8[])
                    AS u(kind, normalized, value, metadata, owner)
              WHERE i.domain_id = $1 AND i.kind = u.kind AND i.normalized = u.normalized
                AND i.core_profile_id = u.owner",
        )
        .await?;
    client
        .execute(
            &statement,
            &[&domain_id, &kinds, &normalized, &values, &metadata, &owners],
        )
        .await?;
    Ok(())
}

/// Removes the given keys where `owner` owns them (undoing inserts of records that failed).
pub async fn delete_owned(
    client: &impl GenericClient,
    domain_id: i64,
    keys: &[(&str, &str, i64)],
) -> Result<(), StoreError> {
    if keys.is_empty() {
        return Ok(());
    }
    let kinds: Vec<&str> = keys.iter().map(|(kind, _, _)| *kind).collect();
    let normalized: Vec<&str> = keys.iter().map(|(_, normalized, _)| *normalized).collect();
    let owners: Vec<i64> = keys.iter().map(|(_, _, owner)| *owner).collect();
    client
        .execute(
            "DELETE FROM identities i
              USING unnest($2::text[], $3::text[], $4::int8[]) AS k(kind, normalized, owner)
              WHERE i.domain_id = $1 AND i.kind = k.kind AND i.normalized = k.normalized
                AND i.core_profile_id = k.owner",
            &[&domain_id, &kinds, &normalized, &owners],
        )
        .await?;
    Ok(())
}
