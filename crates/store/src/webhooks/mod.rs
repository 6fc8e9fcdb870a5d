//! Webhook endpoints of a domain and their deliveries: rows the task-completion trigger writes
//! (migration 0018) and the dispatcher leases, sends and records. Secrets are stored as the
//! webhooks crate seals them; this module moves their text without reading it.

mod deliveries;
mod secrets;

pub use deliveries::*;
pub use secrets::*;

use crate::error::StoreError;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use userhub_domain::DomainId;

/// A registered endpoint (its secret is shown once, when it is made or rotated).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub id: i64,
    pub url: String,
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
}

fn endpoint_of(row: &Row) -> Endpoint {
    Endpoint {
        id: row.get("id"),
        url: row.get("url"),
        events: row.get("events"),
        created_at: row.get("created_at"),
    }
}

pub async fn insert_endpoint(
    client: &impl GenericClient,
    domain_id: DomainId,
    url: &str,
    events: &[String],
    secret: &str,
) -> Result<Endpoint, StoreError> {
    let row = client
        .query_one(
            include_str!("../../queries/webhooks/insert_endpoint.sql"),
            &[&domain_id.as_i64(), &url, &events, &secret],
        )
        .await?;
    Ok(endpoint_of(&row))
}

/// How many endpoints the domain has.
pub async fn endpoint_count(
    client: &impl GenericClient,
    domain_id: DomainId,
) -> Result<i64, StoreError> {
    let row = client
        .query_one(
            include_str!("../../queries/webhooks/endpoint_count.sql"),
            &[&domain_id.as_i64()],
        )
        .await?;
    Ok(row.get(0))
}

pub async fn list_endpoints(
    client: &impl GenericClient,
    domain_id: DomainId,
) -> Result<Vec<Endpoint>, StoreError> {
    let rows = client
        .query(
            include_str!("../../queries/webhooks/list_endpoints.sql"),
            &[&domain_id.as_i64()],
        )
        .await?;
    Ok(rows.iter().map(endpoint_of).collect())
}

/// `false` when the domain has no such endpoint.
pub async fn delete_endpoint(
    client: &impl GenericClient,
    domain_id: DomainId,
    id: i64,
) -> Result<bool, StoreError> {
    let deleted = client
        .execute(
            include_str!("../../queries/webhooks/delete_endpoint.sql"),
            &[&domain_id.as_i64(), &id],
        )
        .await?;
    Ok(deleted == 1)
}

/// Gives the endpoint `secret`; the one it had keeps signing until `overlap_until`.
pub async fn rotate_secret(
    client: &impl GenericClient,
    domain_id: DomainId,
    id: i64,
    secret: &str,
    overlap_until: DateTime<Utc>,
) -> Result<Option<Endpoint>, StoreError> {
    let row = client
        .query_opt(
            include_str!("../../queries/webhooks/rotate_secret.sql"),
            &[&domain_id.as_i64(), &id, &secret, &overlap_until],
        )
        .await?;
    Ok(row.as_ref().map(endpoint_of))
}

/// Stops the endpoint's previous secret from signing; `false` when the domain has no such
/// endpoint.
pub async fn retire_previous_secret(
    client: &impl GenericClient,
    domain_id: DomainId,
    id: i64,
) -> Result<bool, StoreError> {
    let updated = client
        .execute(
            include_str!("../../queries/webhooks/retire_previous_secret.sql"),
            &[&domain_id.as_i64(), &id],
        )
        .await?;
    Ok(updated == 1)
}

/// An endpoint with its delivery counts, as the operator's list shows it.
#[derive(Debug, Clone)]
pub struct EndpointSummary {
    pub endpoint: Endpoint,
    pub pending: i64,
    pub failed: i64,
    pub delivered: i64,
}

/// The endpoints of the domain named `domain`, with their delivery counts.
pub async fn domain_endpoints(
    client: &impl GenericClient,
    domain: &str,
) -> Result<Vec<EndpointSummary>, StoreError> {
    let rows = client
        .query(
            include_str!("../../queries/webhooks/domain_endpoints.sql"),
            &[&domain],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| EndpointSummary {
            endpoint: endpoint_of(row),
            pending: row.get("pending"),
            failed: row.get("failed"),
            delivered: row.get("delivered"),
        })
        .collect())
}

/// Removes every endpoint of the domain named `domain`; returns how many.
pub async fn delete_domain_endpoints(
    client: &impl GenericClient,
    domain: &str,
) -> Result<u64, StoreError> {
    Ok(client
        .execute(
            include_str!("../../queries/webhooks/delete_domain_endpoints.sql"),
            &[&domain],
        )
        .await?)
}
