//! Endpoint secrets still stored in clear text (written before secrets were sealed), and
//! their replacement by sealed text: the webhooks crate seals, this module moves the text.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;
use userhub_domain::DomainId;

/// An endpoint's secrets as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSecrets {
    pub domain_id: DomainId,
    pub id: i64,
    pub secret: String,
    pub previous_secret: Option<String>,
}

/// Up to `limit` endpoints whose secrets are still clear text, locked until the transaction
/// of `client` ends.
pub async fn clear_secrets(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<StoredSecrets>, StoreError> {
    let rows = client
        .query(
            include_str!("../../queries/webhooks/clear_secrets.sql"),
            &[&limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| StoredSecrets {
            domain_id: DomainId::new(row.get("domain_id")),
            id: row.get("id"),
            secret: row.get("secret"),
            previous_secret: row.get("previous_secret"),
        })
        .collect())
}

/// Stores `sealed` in place of `read`, if the endpoint still has the secrets read.
pub async fn seal_secrets(
    client: &impl GenericClient,
    read: &StoredSecrets,
    sealed: &StoredSecrets,
) -> Result<bool, StoreError> {
    let updated = client
        .execute(
            include_str!("../../queries/webhooks/seal_secrets.sql"),
            &[
                &read.domain_id.as_i64(),
                &read.id,
                &read.secret,
                &sealed.secret,
                &read.previous_secret,
                &sealed.previous_secret,
            ],
        )
        .await?;
    Ok(updated == 1)
}
