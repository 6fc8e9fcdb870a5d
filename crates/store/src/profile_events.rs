//! The profile-event outbox: events are inserted in the transaction of the change they describe
//! and removed by the relay once the broker confirmed them.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;

/// One event waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    pub id: i64,
    pub event_id: String,
    pub routing_key: String,
    pub body: String,
}

/// An event to add: `(event_id, routing_key, body)`.
pub type NewEvent = (String, String, String);

/// Adds events with one statement.
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
        .prepare_cached(
            "INSERT INTO profile_event_outbox (event_id, routing_key, body) \
             SELECT * FROM UNNEST($1::text[], $2::text[], $3::text[])",
        )
        .await?;
    client
        .execute(&statement, &[&event_ids, &routing_keys, &bodies])
        .await?;
    Ok(())
}

/// Locks and returns up to `limit` of the oldest events no other relay holds; call inside a
/// transaction and [`delete_events`] once they are published.
pub async fn lock_pending(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<PendingEvent>, StoreError> {
    let statement = client
        .prepare_cached(
            "SELECT id, event_id, routing_key, body FROM profile_event_outbox \
             ORDER BY id LIMIT $1 FOR UPDATE SKIP LOCKED",
        )
        .await?;
    let rows = client.query(&statement, &[&limit]).await?;
    Ok(rows
        .iter()
        .map(|row| PendingEvent {
            id: row.get(0),
            event_id: row.get(1),
            routing_key: row.get(2),
            body: row.get(3),
        })
        .collect())
}

/// Removes published events.
pub async fn delete_events(client: &impl GenericClient, ids: &[i64]) -> Result<(), StoreError> {
    let statement = client
        .prepare_cached("DELETE FROM profile_event_outbox WHERE id = ANY($1)")
        .await?;
    client.execute(&statement, &[&ids]).await?;
    Ok(())
}

/// How many events wait to be published.
pub async fn pending_count(client: &impl GenericClient) -> Result<i64, StoreError> {
    let row = client
        .query_one("SELECT count(*) FROM profile_event_outbox", &[])
        .await?;
    Ok(row.get(0))
}
