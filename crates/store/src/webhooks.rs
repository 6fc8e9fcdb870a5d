//! Webhook endpoints of a domain and their deliveries: rows the task-completion trigger writes
//! (migration 0018) and the dispatcher leases, sends and records.

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

/// One delivery as its log shows it.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: i64,
    pub message_id: String,
    pub event_type: String,
    /// `pending`, `delivered` or `failed`.
    pub state: String,
    pub attempts: i32,
    pub last_status: Option<i32>,
    pub last_error: Option<String>,
    pub created_at: DateTime<Utc>,
    pub last_attempt_at: Option<DateTime<Utc>>,
    pub next_attempt_at: DateTime<Utc>,
    pub delivered_at: Option<DateTime<Utc>>,
    pub payload: String,
}

/// A delivery leased for sending.
#[derive(Debug, Clone)]
pub struct DueDelivery {
    pub domain_id: DomainId,
    pub id: i64,
    pub url: String,
    pub secret: String,
    /// Signs too while a rotation's overlap lasts.
    pub previous_secret: Option<String>,
    pub message_id: String,
    pub payload: String,
    pub attempts: i32,
    pub past_deadline: bool,
    /// The lease: the attempt's outcome is recorded only while it holds.
    pub lease_until: DateTime<Utc>,
}

/// How one attempt ended.
#[derive(Debug, Clone)]
pub enum Attempt {
    Delivered {
        status: i32,
    },
    /// Not delivered; tried again at `retry_at`, or never again without one.
    Failed {
        status: Option<i32>,
        error: String,
        retry_at: Option<DateTime<Utc>>,
    },
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
            include_str!("../queries/webhooks/insert_endpoint.sql"),
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
            include_str!("../queries/webhooks/endpoint_count.sql"),
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
            include_str!("../queries/webhooks/list_endpoints.sql"),
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
            include_str!("../queries/webhooks/delete_endpoint.sql"),
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
            include_str!("../queries/webhooks/rotate_secret.sql"),
            &[&domain_id.as_i64(), &id, &secret, &overlap_until],
        )
        .await?;
    Ok(row.as_ref().map(endpoint_of))
}

/// The endpoint's newest deliveries.
pub async fn deliveries(
    client: &impl GenericClient,
    domain_id: DomainId,
    endpoint_id: i64,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    let rows = client
        .query(
            include_str!("../queries/webhooks/deliveries.sql"),
            &[&domain_id.as_i64(), &endpoint_id, &limit],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| Delivery {
            id: row.get("id"),
            message_id: row.get("message_id"),
            event_type: row.get("event_type"),
            state: row.get("state"),
            attempts: row.get("attempts"),
            last_status: row.get("last_status"),
            last_error: row.get("last_error"),
            created_at: row.get("created_at"),
            last_attempt_at: row.get("last_attempt_at"),
            next_attempt_at: row.get("next_attempt_at"),
            delivered_at: row.get("delivered_at"),
            payload: row.get("payload"),
        })
        .collect())
}

/// Queues a delivery to be sent again now; `false` when the endpoint has no such delivery.
pub async fn redeliver(
    client: &impl GenericClient,
    domain_id: DomainId,
    endpoint_id: i64,
    delivery_id: i64,
) -> Result<bool, StoreError> {
    let updated = client
        .execute(
            include_str!("../queries/webhooks/redeliver.sql"),
            &[&domain_id.as_i64(), &endpoint_id, &delivery_id],
        )
        .await?;
    Ok(updated == 1)
}

/// Leases up to `limit` due deliveries for `lease_seconds`.
pub async fn claim_due(
    client: &impl GenericClient,
    limit: i64,
    lease_seconds: f64,
) -> Result<Vec<DueDelivery>, StoreError> {
    let rows = client
        .query(
            include_str!("../queries/webhooks/claim_due.sql"),
            &[&limit, &lease_seconds],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|row| DueDelivery {
            domain_id: DomainId::new(row.get("domain_id")),
            id: row.get("id"),
            url: row.get("url"),
            secret: row.get("secret"),
            previous_secret: row.get("previous_secret"),
            message_id: row.get("message_id"),
            payload: row.get("payload"),
            attempts: row.get("attempts"),
            past_deadline: row.get("past_deadline"),
            lease_until: row.get("lease_until"),
        })
        .collect())
}

/// Records how an attempt at delivery `id` of `domain_id` under the lease `lease_until` ended;
/// nothing if the lease was lost.
pub async fn record_attempt(
    client: &impl GenericClient,
    domain_id: DomainId,
    id: i64,
    lease_until: DateTime<Utc>,
    attempt: &Attempt,
) -> Result<(), StoreError> {
    let (delivered, status, error, retry_at) = match attempt {
        Attempt::Delivered { status } => (true, Some(*status), None, None),
        Attempt::Failed {
            status,
            error,
            retry_at,
        } => (false, *status, Some(error.as_str()), *retry_at),
    };
    client
        .execute(
            include_str!("../queries/webhooks/record_attempt.sql"),
            &[
                &domain_id.as_i64(),
                &id,
                &delivered,
                &status,
                &error,
                &retry_at,
                &lease_until,
            ],
        )
        .await?;
    Ok(())
}

/// A chunk's profile events as a `profile.changed` delivery carries them.
#[derive(Debug, Clone, Copy)]
pub struct ProfileEventsBatch<'a> {
    pub domain: &'a str,
    /// Stable for the chunk (`{task_id}.{chunk_no}`).
    pub batch_id: &'a str,
    /// A `userhub.profile_event_batch.v1` object.
    pub body: &'a str,
}

/// Queues a `profile.changed` delivery of each batch for the endpoints of its domain that
/// subscribed to it (in the relay's transaction, so a batch is queued once it is published).
pub async fn enqueue_profile_events(
    client: &impl GenericClient,
    batches: &[ProfileEventsBatch<'_>],
) -> Result<u64, StoreError> {
    if batches.is_empty() {
        return Ok(0);
    }
    let domains: Vec<&str> = batches.iter().map(|batch| batch.domain).collect();
    let ids: Vec<&str> = batches.iter().map(|batch| batch.batch_id).collect();
    let bodies: Vec<&str> = batches.iter().map(|batch| batch.body).collect();
    let statement = client
        .prepare_cached(include_str!(
            "../queries/webhooks/enqueue_profile_events.sql"
        ))
        .await?;
    Ok(client
        .execute(&statement, &[&domains, &ids, &bodies])
        .await?)
}
