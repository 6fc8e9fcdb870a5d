//! The profile-event relay: publishes outbox events to the profile-events exchange with
//! publisher confirms and deletes them in the same transaction that locked them. At least once:
//! a crash between the broker's confirm and the commit publishes those events again (same
//! `event_id`). Relays of several processes share the outbox through `SKIP LOCKED`.

use crate::apply::ChunkError;
use crate::settings::WorkerSettings;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use userhub_broker::{Broker, Destination, FieldTable, OutgoingMessage, Publisher};
use userhub_store::profile_events::{delete_batches, lock_pending};
use userhub_store::{Pool, StoreError};
use userhub_telemetry::Metrics;

/// Outbox rows (one chunk's events each) published per round of confirms.
const ROWS_PER_ROUND: i64 = 8;
/// The longest pause after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Runs the relay until `shutdown`.
pub async fn run_event_relay(
    pool: Pool,
    broker: Broker,
    settings: WorkerSettings,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let idle = Duration::from_millis(settings.event_poll_interval_ms.max(10));
    let mut publisher: Option<Publisher> = None;
    let mut backoff = Duration::from_millis(200);
    loop {
        let pause = match relay_round(&pool, &broker, &mut publisher).await {
            Ok(0) => idle,
            Ok(published) => {
                metrics.profile_events_published.inc_by(published as u64);
                backoff = Duration::from_millis(200);
                Duration::ZERO
            }
            Err(error) => {
                tracing::warn!(%error, "publishing profile events failed; trying again later");
                if let Some(publisher) = publisher.take() {
                    publisher.close().await;
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                backoff
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => break,
        }
    }
    if let Some(publisher) = publisher {
        publisher.close().await;
    }
}

/// Publishes one batch of the oldest unpublished events; returns how many.
pub async fn relay_round(
    pool: &Pool,
    broker: &Broker,
    publisher: &mut Option<Publisher>,
) -> Result<usize, ChunkError> {
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let transaction = client.transaction().await.map_err(StoreError::from)?;
    let batches = lock_pending(&transaction, ROWS_PER_ROUND).await?;
    if batches.is_empty() {
        return Ok(0);
    }
    let messages: Vec<OutgoingMessage> = batches
        .iter()
        .flat_map(|batch| batch.events.iter())
        .map(|event| OutgoingMessage {
            destination: Destination::ProfileEvent(event.routing_key.clone()),
            message_id: event.event_id.clone(),
            body: event.body.clone().into_bytes(),
            headers: FieldTable::default(),
            priority: 0,
        })
        .collect();
    if publisher.is_none() {
        *publisher = Some(broker.publisher().await?);
    }
    if let Some(publisher) = publisher.as_ref() {
        publisher.publish_all(&messages).await?;
    }
    let ids: Vec<i64> = batches.iter().map(|batch| batch.id).collect();
    delete_batches(&transaction, &ids).await?;
    transaction.commit().await.map_err(StoreError::from)?;
    Ok(messages.len())
}
