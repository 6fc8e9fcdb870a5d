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
    /// Records per task made from an upload; `None` means the server default.
    pub upload_record_limit: Option<i32>,
}

fn domain_of(row: &tokio_postgres::Row) -> Domain {
    Domain {
        id: DomainId::from(row.get::<_, i64>("id")),
        name: row.get("name"),
        rate_limit_per_minute: row.get("rate_limit_per_minute"),
        record_limit: row.get("record_limit"),
        upload_record_limit: row.get("upload_record_limit"),
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

/// A limit a domain may set for itself instead of the server default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DomainLimit {
    RequestsPerMinute,
    RecordsPerTask,
    /// Records of a task made from an upload.
    RecordsPerUpload,
}

impl DomainLimit {
    fn statement(self) -> &'static str {
        match self {
            DomainLimit::RequestsPerMinute => include_str!("../queries/domains/set_rate_limit.sql"),
            DomainLimit::RecordsPerTask => include_str!("../queries/domains/set_record_limit.sql"),
            DomainLimit::RecordsPerUpload => {
                include_str!("../queries/domains/set_upload_record_limit.sql")
            }
        }
    }
}

/// Sets one of the domain's limits; `None` returns it to the server default. Returns false if
/// there is no such domain.
pub async fn set_limit(
    client: &impl GenericClient,
    name: &str,
    limit: DomainLimit,
    value: Option<i32>,
) -> Result<bool, StoreError> {
    let updated = client.execute(limit.statement(), &[&name, &value]).await?;
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
