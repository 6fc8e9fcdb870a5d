//! Domains (tenants) and their per-domain settings.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;
use userhub_domain::DomainId;

/// A tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Domain {
    pub id: DomainId,
    pub name: String,
    /// Requests per minute; `None` means the server default.
    pub rate_limit_per_minute: Option<i32>,
    /// Records per request; `None` means the server default.
    pub record_limit: Option<i32>,
}

fn domain_of(row: &tokio_postgres::Row) -> Domain {
    Domain {
        id: DomainId::from(row.get::<_, i64>("id")),
        name: row.get("name"),
        rate_limit_per_minute: row.get("rate_limit_per_minute"),
        record_limit: row.get("record_limit"),
    }
}

/// Creates a domain, or returns the existing one of that name.
pub async fn create_domain(client: &impl GenericClient, name: &str) -> Result<Domain, StoreError> {
    client
        .execute(include_str!("../queries/domains/insert.sql"), &[&name])
        .await?;
    let row = client
        .query_one(include_str!("../queries/domains/by_name.sql"), &[&name])
        .await?;
    Ok(domain_of(&row))
}

pub async fn find_domain(
    client: &impl GenericClient,
    name: &str,
) -> Result<Option<Domain>, StoreError> {
    let row = client
        .query_opt(include_str!("../queries/domains/by_name.sql"), &[&name])
        .await?;
    Ok(row.as_ref().map(domain_of))
}

/// Sets the domain's requests per minute; `None` returns it to the server default.
/// Returns false if there is no such domain.
pub async fn set_rate_limit(
    client: &impl GenericClient,
    name: &str,
    per_minute: Option<i32>,
) -> Result<bool, StoreError> {
    let updated = client
        .execute(
            include_str!("../queries/domains/set_rate_limit.sql"),
            &[&name, &per_minute],
        )
        .await?;
    Ok(updated == 1)
}

/// Sets the domain's records per request; `None` returns it to the server default.
pub async fn set_record_limit(
    client: &impl GenericClient,
    name: &str,
    records: Option<i32>,
) -> Result<bool, StoreError> {
    let updated = client
        .execute(
            include_str!("../queries/domains/set_record_limit.sql"),
            &[&name, &records],
        )
        .await?;
    Ok(updated == 1)
}

/// A domain as `admin domain list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct DomainSummary {
    pub domain: Domain,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub active_keys: i64,
    pub read_only_keys: i64,
}

/// Every domain, by name.
pub async fn list_domains(client: &impl GenericClient) -> Result<Vec<DomainSummary>, StoreError> {
    let rows = client
        .query(include_str!("../queries/domains/list.sql"), &[])
        .await?;
    Ok(rows
        .iter()
        .map(|row| DomainSummary {
            domain: domain_of(row),
            created_at: row.get("created_at"),
            active_keys: row.get("active_keys"),
            read_only_keys: row.get("read_only_keys"),
        })
        .collect())
}
