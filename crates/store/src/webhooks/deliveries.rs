//! Deliveries: the log a page at a time, one delivery with its payload, leasing due ones
//! fairly between domains, recording attempts, and queueing profile events.

use crate::error::StoreError;
use chrono::{DateTime, Utc};
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use userhub_domain::DomainId;

/// One delivery as its log shows it (the payload only when one delivery is asked for).
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
    /// The size of the body sent.
    pub payload_bytes: i32,
    pub payload: Option<String>,
}

fn delivery_of(row: &Row, with_payload: bool) -> Delivery {
    Delivery {
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
        payload_bytes: row.get("payload_bytes"),
        payload: with_payload.then(|| row.get("payload")),
    }
}

/// A page of the endpoint's deliveries, newest first: at most `limit`, older than `before`.
pub async fn deliveries(
    client: &impl GenericClient,
    domain_id: DomainId,
    endpoint_id: i64,
    limit: i64,
    before: Option<i64>,
) -> Result<Vec<Delivery>, StoreError> {
    let rows = client
        .query(
            include_str!("../../queries/webhooks/deliveries.sql"),
            &[&domain_id.as_i64(), &endpoint_id, &limit, &before],
        )
        .await?;
    Ok(rows.iter().map(|row| delivery_of(row, false)).collect())
}

/// One delivery of the endpoint, with its payload.
pub async fn delivery(
    client: &impl GenericClient,
    domain_id: DomainId,
    endpoint_id: i64,
    id: i64,
) -> Result<Option<Delivery>, StoreError> {
    let row = client
        .query_opt(
            include_str!("../../queries/webhooks/delivery.sql"),
            &[&domain_id.as_i64(), &endpoint_id, &id],
        )
        .await?;
    Ok(row.as_ref().map(|row| delivery_of(row, true)))
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

/// Queues a delivery to be sent again now; `false` when the endpoint has no such delivery.
pub async fn redeliver(
    client: &impl GenericClient,
    domain_id: DomainId,
    endpoint_id: i64,
    delivery_id: i64,
) -> Result<bool, StoreError> {
    let updated = client
        .execute(
            include_str!("../../queries/webhooks/redeliver.sql"),
            &[&domain_id.as_i64(), &endpoint_id, &delivery_id],
        )
        .await?;
    Ok(updated == 1)
}

/// What a dispatcher asks for: how many deliveries, for how long, and how many it already
/// sends per domain (a domain gets at most `per_domain` at once).
#[derive(Debug, Clone)]
pub struct Claim<'a> {
    pub limit: i64,
    pub lease_seconds: f64,
    pub sending: &'a [(DomainId, i32)],
    pub per_domain: i32,
}

/// Leases due deliveries as `claim` asks, fairly between domains.
pub async fn claim_due(
    client: &impl GenericClient,
    claim: &Claim<'_>,
) -> Result<Vec<DueDelivery>, StoreError> {
    let domains: Vec<i64> = claim.sending.iter().map(|(d, _)| d.as_i64()).collect();
    let counts: Vec<i32> = claim.sending.iter().map(|(_, n)| *n).collect();
    let rows = client
        .query(
            include_str!("../../queries/webhooks/claim_due.sql"),
            &[
                &claim.limit,
                &claim.lease_seconds,
                &domains,
                &counts,
                &claim.per_domain,
            ],
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
            include_str!("../../queries/webhooks/record_attempt.sql"),
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

/// Which of `domains` have an endpoint subscribed to `profile.changed`: the relay spells out
/// a chunk's events as a delivery body only for those.
pub async fn domains_with_profile_hooks(
    client: &impl GenericClient,
    domains: &[&str],
) -> Result<Vec<String>, StoreError> {
    if domains.is_empty() {
        return Ok(Vec::new());
    }
    let statement = client
        .prepare_cached(include_str!(
            "../../queries/webhooks/domains_with_profile_hooks.sql"
        ))
        .await?;
    let rows = client.query(&statement, &[&domains]).await?;
    Ok(rows.iter().map(|row| row.get(0)).collect())
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
            "../../queries/webhooks/enqueue_profile_events.sql"
        ))
        .await?;
    Ok(client
        .execute(&statement, &[&domains, &ids, &bodies])
        .await?)
}
