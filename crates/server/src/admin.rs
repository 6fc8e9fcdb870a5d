//! Operator commands: domains, their limits, API keys and webhook endpoints.

use userhub_domain::DomainId;
use userhub_domain::api_key::generate_key;
use userhub_store::domains::DomainLimit;
use userhub_store::{Pool, StoreError, api_keys, domains, webhooks};

/// An admin command failed.
#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("there is no domain `{0}`; create it with `userhub-server admin domain create {0}`")]
    UnknownDomain(String),
    #[error("there is no active key `{0}`")]
    UnknownKey(String),
    #[error("invalid domain name `{0}`: use 1-64 letters, digits, `-` or `_`")]
    InvalidDomainName(String),
    #[error("domain `{domain}` has no webhook endpoint {id}")]
    UnknownWebhook { domain: String, id: i64 },
}

fn check_domain_name(name: &str) -> Result<(), AdminError> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if valid {
        Ok(())
    } else {
        Err(AdminError::InvalidDomainName(name.to_owned()))
    }
}

/// Creates a domain (or finds the existing one); returns its id.
pub async fn create_domain(pool: &Pool, name: &str) -> Result<DomainId, AdminError> {
    check_domain_name(name)?;
    let client = pool.get().await.map_err(StoreError::from)?;
    Ok(domains::create_domain(&client, name).await?.id)
}

/// Creates a key for the domain; returns the clear key (shown once).
pub async fn create_key(pool: &Pool, domain: &str, read_only: bool) -> Result<String, AdminError> {
    let client = pool.get().await.map_err(StoreError::from)?;
    let found = domains::find_domain(&client, domain)
        .await?
        .ok_or_else(|| AdminError::UnknownDomain(domain.to_owned()))?;
    let key = generate_key();
    api_keys::insert_key(&client, found.id, &key.key_id, &key.secret_hash, read_only).await?;
    Ok(key.clear_text)
}

/// Revokes a key by its id (the part after `uh_`, before the second `_`).
pub async fn revoke_key(pool: &Pool, key_id: &str) -> Result<(), AdminError> {
    let client = pool.get().await.map_err(StoreError::from)?;
    if api_keys::revoke_key(&client, key_id).await? {
        Ok(())
    } else {
        Err(AdminError::UnknownKey(key_id.to_owned()))
    }
}

async fn set_limit(
    pool: &Pool,
    domain: &str,
    limit: DomainLimit,
    value: Option<i32>,
) -> Result<(), AdminError> {
    let client = pool.get().await.map_err(StoreError::from)?;
    if domains::set_limit(&client, domain, limit, value).await? {
        Ok(())
    } else {
        Err(AdminError::UnknownDomain(domain.to_owned()))
    }
}

/// Sets (or with `None` resets) a domain's requests per minute.
pub async fn set_rate_limit(
    pool: &Pool,
    domain: &str,
    per_minute: Option<i32>,
) -> Result<(), AdminError> {
    set_limit(pool, domain, DomainLimit::RequestsPerMinute, per_minute).await
}

/// Sets (or with `None` resets) a domain's records per request.
pub async fn set_record_limit(
    pool: &Pool,
    domain: &str,
    records: Option<i32>,
) -> Result<(), AdminError> {
    set_limit(pool, domain, DomainLimit::RecordsPerTask, records).await
}

/// Sets (or with `None` resets) a domain's records per task from an upload.
pub async fn set_upload_record_limit(
    pool: &Pool,
    domain: &str,
    records: Option<i32>,
) -> Result<(), AdminError> {
    set_limit(pool, domain, DomainLimit::RecordsPerUpload, records).await
}

/// Every domain with its limits and keys, as a table for the terminal.
pub async fn domain_table(pool: &Pool) -> Result<String, AdminError> {
    let client = pool.get().await.map_err(StoreError::from)?;
    let domains = domains::list_domains(&client).await?;
    let limit = |value: Option<i32>| value.map_or("default".to_owned(), |v| v.to_string());
    let mut table = format!(
        "{:<6} {:<32} {:>10} {:>10} {:>10} {:>6} {:>10}  {}\n",
        "id", "name", "req/min", "records", "upload", "keys", "read-only", "created"
    );
    for summary in &domains {
        let domain = &summary.domain;
        table.push_str(&format!(
            "{:<6} {:<32} {:>10} {:>10} {:>10} {:>6} {:>10}  {}\n",
            domain.id,
            domain.name,
            limit(domain.rate_limit_per_minute),
            limit(domain.record_limit),
            limit(domain.upload_record_limit),
            summary.active_keys,
            summary.read_only_keys,
            summary.created_at.format("%Y-%m-%d %H:%M UTC"),
        ));
    }
    Ok(table)
}

/// The domain's webhook endpoints with their delivery counts, as a table for the terminal.
pub async fn webhook_table(pool: &Pool, domain: &str) -> Result<String, AdminError> {
    let client = pool.get().await.map_err(StoreError::from)?;
    domains::find_domain(&client, domain)
        .await?
        .ok_or_else(|| AdminError::UnknownDomain(domain.to_owned()))?;
    let mut table = format!(
        "{:<8} {:>8} {:>8} {:>10}  {:<17} {:<32} {}\n",
        "id", "pending", "failed", "delivered", "created", "events", "url"
    );
    for summary in webhooks::domain_endpoints(&client, domain).await? {
        let endpoint = &summary.endpoint;
        table.push_str(&format!(
            "{:<8} {:>8} {:>8} {:>10}  {:<17} {:<32} {}\n",
            endpoint.id,
            summary.pending,
            summary.failed,
            summary.delivered,
            endpoint.created_at.format("%Y-%m-%d %H:%M"),
            endpoint.events.join(","),
            endpoint.url,
        ));
    }
    Ok(table)
}

/// Deletes one webhook endpoint of the domain (`Some(id)`) or all of them; returns how many.
pub async fn delete_webhooks(
    pool: &Pool,
    domain: &str,
    id: Option<i64>,
) -> Result<u64, AdminError> {
    let client = pool.get().await.map_err(StoreError::from)?;
    let found = domains::find_domain(&client, domain)
        .await?
        .ok_or_else(|| AdminError::UnknownDomain(domain.to_owned()))?;
    let Some(id) = id else {
        return Ok(webhooks::delete_domain_endpoints(&client, domain).await?);
    };
    if webhooks::delete_endpoint(&client, found.id, id).await? {
        Ok(1)
    } else {
        Err(AdminError::UnknownWebhook {
            domain: domain.to_owned(),
            id,
        })
    }
}
