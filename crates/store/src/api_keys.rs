//! API keys: stored as a public key id plus a hash of the secret, never in clear.

use crate::domains::Domain;
use crate::error::StoreError;
use deadpool_postgres::GenericClient;
use userhub_domain::DomainId;

/// What a key id resolves to: the hash to verify against and the domain it opens.
#[derive(Debug, Clone)]
pub struct StoredKey {
    pub secret_hash: Vec<u8>,
    pub read_only: bool,
    pub revoked: bool,
    pub domain: Domain,
}

pub async fn insert_key(
    client: &impl GenericClient,
    domain_id: DomainId,
    key_id: &str,
    secret_hash: &[u8],
    read_only: bool,
) -> Result<(), StoreError> {
    client
        .execute(
            include_str!("../queries/api_keys/insert.sql"),
            &[&key_id, &domain_id.as_i64(), &secret_hash, &read_only],
        )
        .await?;
    Ok(())
}

pub async fn find_key(
    client: &impl GenericClient,
    key_id: &str,
) -> Result<Option<StoredKey>, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/api_keys/find.sql"))
        .await?;
    let row = client.query_opt(&statement, &[&key_id]).await?;
    Ok(row.map(|row| StoredKey {
        secret_hash: row.get("secret_hash"),
        read_only: row.get("read_only"),
        revoked: row.get("revoked"),
        domain: Domain {
            id: DomainId::from(row.get::<_, i64>("id")),
            name: row.get("name"),
            rate_limit_per_minute: row.get("rate_limit_per_minute"),
            record_limit: row.get("record_limit"),
            upload_record_limit: row.get("upload_record_limit"),
        },
    }))
}

/// Revokes a key; returns false if there is no such key.
pub async fn revoke_key(client: &impl GenericClient, key_id: &str) -> Result<bool, StoreError> {
    let updated = client
        .execute(include_str!("../queries/api_keys/revoke.sql"), &[&key_id])
        .await?;
    Ok(updated == 1)
}
