//! Identities: unique (kind, normalised value) per domain, each owned by one core profile.

use crate::error::StoreError;
use deadpool_postgres::{GenericClient, Transaction};
use std::collections::{BTreeMap, HashMap};
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::{Json, Type};
use userhub_domain::CoreProfileId;
use userhub_domain::DomainId;
use userhub_domain::values::MetadataValue;
use userhub_domain::{Identity, IdentityKind};

const OF_PROFILES: &str = include_str!("../queries/identities/of_profiles.sql");
const OWNERS: &str = include_str!("../queries/identities/owners.sql");
const COPY_IN: &str = include_str!("../queries/identities/copy_in.sql");
const REFRESH: &str = include_str!("../queries/identities/refresh.sql");

/// `(kind, normalised value)`.
pub type IdentityKey = (String, String);

/// An identity to store for (or refresh on) its owner.
#[derive(Debug, Clone, Copy)]
pub struct OwnedIdentity<'a> {
    pub identity: &'a Identity,
    pub owner: CoreProfileId,
}

/// Column arrays for `unnest`, sorted by key so that concurrent chunks lock keys in one order.
pub(crate) struct Columns<'a> {
    pub(crate) kinds: Vec<&'a str>,
    pub(crate) normalized: Vec<&'a str>,
    values: Vec<&'a str>,
    metadata: Vec<Option<Json<&'a BTreeMap<String, MetadataValue>>>>,
    pub(crate) owners: Vec<CoreProfileId>,
}

impl<'a> Columns<'a> {
    pub(crate) fn of(rows: &[OwnedIdentity<'a>]) -> Columns<'a> {
        let mut sorted: Vec<&OwnedIdentity<'a>> = rows.iter().collect();
        sorted.sort_by_key(|row| key_of(row));
        Columns {
            kinds: sorted.iter().map(|r| r.identity.kind().as_str()).collect(),
            normalized: sorted.iter().map(|r| r.identity.normalized()).collect(),
            values: sorted.iter().map(|r| r.identity.value()).collect(),
            metadata: sorted
                .iter()
                .map(|r| {
                    let metadata = r.identity.metadata();
                    (!metadata.is_empty()).then_some(Json(metadata))
                })
                .collect(),
            owners: sorted.iter().map(|r| r.owner).collect(),
        }
    }
}

/// The order in which concurrent chunks take the unique index's locks.
fn key_of<'a>(row: &&OwnedIdentity<'a>) -> (&'a str, &'a str) {
    (row.identity.kind().as_str(), row.identity.normalized())
}

/// Every identity of the given profiles, with its owner.
pub async fn identities_of(
    client: &impl GenericClient,
    domain_id: DomainId,
    profile_ids: &[CoreProfileId],
) -> Result<Vec<(CoreProfileId, Identity)>, StoreError> {
    if profile_ids.is_empty() {
        return Ok(Vec::new());
    }
    let statement = client.prepare_cached(OF_PROFILES).await?;
    let rows = client
        .query(&statement, &[&domain_id.as_i64(), &profile_ids])
        .await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            let kind: IdentityKind = row.get::<_, &str>("kind").parse().ok()?;
            let metadata = row
                .get::<_, Option<Json<BTreeMap<String, MetadataValue>>>>("metadata")
                .map(|Json(metadata)| metadata)
                .unwrap_or_default();
            let identity = Identity::stored(kind, row.get("value"), metadata);
            Some((row.get("core_profile_id"), identity))
        })
        .collect())
}

/// The owners of the given keys that exist.
pub async fn owners(
    client: &impl GenericClient,
    domain_id: DomainId,
    keys: &[(&str, &str)],
) -> Result<HashMap<IdentityKey, CoreProfileId>, StoreError> {
    if keys.is_empty() {
        return Ok(HashMap::new());
    }
    let kinds: Vec<&str> = keys.iter().map(|(kind, _)| *kind).collect();
    let normalized: Vec<&str> = keys.iter().map(|(_, normalized)| *normalized).collect();
    let statement = client.prepare_cached(OWNERS).await?;
    let rows = client
        .query(&statement, &[&domain_id.as_i64(), &kinds, &normalized])
        .await?;
    Ok(rows
        .iter()
        .map(|row| ((row.get(0), row.get(1)), row.get(2)))
        .collect())
}

/// Inserts identities nobody owns yet. A key someone else took meanwhile (or a second uid for
/// one profile) makes the whole `COPY` roll back to its savepoint and answers `false`: the
/// caller looks the owners up and decides again.
pub async fn insert_new(
    transaction: &Transaction<'_>,
    domain_id: DomainId,
    rows: &[OwnedIdentity<'_>],
) -> Result<bool, StoreError> {
    if rows.is_empty() {
        return Ok(true);
    }
    transaction
        .batch_execute(include_str!("../queries/identities/savepoint.sql"))
        .await?;
    let inserted = copy_in(transaction, domain_id, rows).await;
    match inserted {
        Ok(()) => {
            transaction
                .batch_execute(include_str!("../queries/identities/release_savepoint.sql"))
                .await?;
            Ok(true)
        }
        Err(error) if error.is_unique_violation() => {
            transaction
                .batch_execute(include_str!(
                    "../queries/identities/rollback_to_savepoint.sql"
                ))
                .await?;
            Ok(false)
        }
        Err(error) => Err(error),
    }
}

/// Writes `rows` in key order with one binary `COPY`.
async fn copy_in(
    transaction: &Transaction<'_>,
    domain_id: DomainId,
    rows: &[OwnedIdentity<'_>],
) -> Result<(), StoreError> {
    let mut sorted: Vec<&OwnedIdentity<'_>> = rows.iter().collect();
    sorted.sort_by_key(|row| key_of(row));
    let statement = transaction.prepare_cached(COPY_IN).await?;
    let sink = transaction.copy_in(&statement).await?;
    let writer = BinaryCopyInWriter::new(
        sink,
        &[
            Type::INT8,
            Type::TEXT,
            Type::TEXT,
            Type::TEXT,
            Type::JSON,
            Type::INT8,
        ],
    );
    let mut writer = std::pin::pin!(writer);
    let domain_id = domain_id.as_i64();
    for row in sorted {
        let metadata = row.identity.metadata();
        let metadata = (!metadata.is_empty()).then_some(Json(metadata));
        writer
            .as_mut()
            .write(&[
                &domain_id,
                &row.identity.kind().as_str(),
                &row.identity.normalized(),
                &row.identity.value(),
                &metadata,
                &row.owner,
            ])
            .await?;
    }
    writer.finish().await?;
    Ok(())
}

/// Rewrites value and metadata of identities their owner already has (a record re-added one
/// with other metadata or another spelling).
pub async fn refresh(
    client: &impl GenericClient,
    domain_id: DomainId,
    rows: &[OwnedIdentity<'_>],
) -> Result<(), StoreError> {
    if rows.is_empty() {
        return Ok(());
    }
    let c = Columns::of(rows);
    let statement = client.prepare_cached(REFRESH).await?;
    client
        .execute(
            &statement,
            &[
                &domain_id.as_i64(),
                &c.kinds,
                &c.normalized,
                &c.values,
                &c.metadata,
                &c.owners,
            ],
        )
        .await?;
    Ok(())
}
