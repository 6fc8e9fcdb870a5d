//! The profile-event outbox: a chunk's events are inserted as one row in the transaction of the
//! change they describe and removed by the relay once the broker confirmed them.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;

/// One event waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    pub event_id: String,
    pub routing_key: String,
    pub body: String,
}

/// An event to add: `(event_id, routing_key, body)`.
pub type NewEvent = (String, String, String);

/// A locked outbox row: one chunk's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingBatch {
    pub id: i64,
    pub events: Vec<PendingEvent>,
}

/// Adds a chunk's events as one row (nothing if there are none).
pub async fn insert_events(
    client: &impl GenericClient,
    events: &[NewEvent],
) -> Result<(), StoreError> {
    if events.is_empty() {
        return Ok(());
    }
    let event_ids: Vec<&str> = events.iter().map(|event| event.0.as_str()).collect();
    let routing_keys: Vec<&str> = events.iter().map(|event| event.1.as_str()).collect();
    let bodies: Vec<&str> = events.iter().map(|event| event.2.as_str()).collect();
    let statement = client
        .prepare_cached(include_str!("../queries/profile_events/insert.sql"))
        .await?;
    client
        .execute(&statement, &[&event_ids, &routing_keys, &bodies])
        .await?;
    Ok(())
}

/// Locks and returns up to `limit` of the oldest rows no other relay holds; call inside a
/// transaction and [`delete_batches`] once their events are published.
pub async fn lock_pending(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<PendingBatch>, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/profile_events/lock_pending.sql"))
        .await?;
    let rows = client.query(&statement, &[&limit]).await?;
    Ok(rows
        .iter()
        .map(|row| {
            let event_ids: Vec<String> = row.get(1);
            let routing_keys: Vec<String> = row.get(2);
            let bodies: Vec<String> = row.get(3);
            let events = event_ids
                .into_iter()
                .zip(routing_keys)
                .zip(bodies)
                .map(|((event_id, routing_key), body)| PendingEvent {
                    event_id,
                    routing_key,
                    body,
                })
                .collect();
            PendingBatch {
                id: row.get(0),
                events,
            }
        })
        .collect())
}

/// Removes published rows.
pub async fn delete_batches(client: &impl GenericClient, ids: &[i64]) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/profile_events/delete.sql"))
        .await?;
    client.execute(&statement, &[&ids]).await?;
    Ok(())
}

/// How many events wait in the outbox.
pub async fn pending_events(client: &impl GenericClient) -> Result<i64, StoreError> {
    let row = client
        .query_one(
            include_str!("../queries/profile_events/pending_count.sql"),
            &[],
        )
        .await?;
    Ok(row.get(0))
}
