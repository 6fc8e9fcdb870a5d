//! The profile-event relay: publishes outbox events to the profile-events exchange with
//! publisher confirms — a message per chunk and routing key, or per event — and deletes them in
//! the same transaction that locked them. At least once: a crash between the broker's confirm
//! and the commit publishes those events again (same `event_id`, same `batch_id`). Relays of
//! several processes share the outbox through `SKIP LOCKED`. In the same transaction each
//! chunk's events are queued as one `profile.changed` webhook delivery for the endpoints of its
//! domain that subscribed to them.

use crate::apply::ChunkError;
use crate::settings::WorkerSettings;
use crate::transport::{ChunkTransport, MessageHeaders, Outgoing, Route};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use userhub_domain::events::{EventMessages, batch_body};
use userhub_store::profile_events::{PendingBatch, PendingEvent, delete_batches, lock_pending};
use userhub_store::webhooks::{
    ProfileEventsBatch, domains_with_profile_hooks, enqueue_profile_events,
};
use userhub_store::{Pool, StoreError, Transaction};
use userhub_telemetry::Metrics;

/// Outbox rows (one chunk's events each) published per round of confirms.
const ROWS_PER_ROUND: i64 = 8;
/// The longest pause after a failure.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// Runs the relay until `shutdown`.
pub async fn run_event_relay(
    pool: Pool,
    transport: Arc<dyn ChunkTransport>,
    settings: WorkerSettings,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let idle = Duration::from_millis(settings.event_poll_interval_ms.max(10));
    let mut backoff = Duration::from_millis(200);
    loop {
        let round = relay_round(&pool, transport.as_ref(), settings.profile_event_messages);
        let pause = match round.await {
            Ok(0) => idle,
            Ok(published) => {
                metrics.profile_events_published.inc_by(published as u64);
                backoff = Duration::from_millis(200);
                Duration::ZERO
            }
            Err(error) => {
                tracing::warn!(%error, "publishing profile events failed; trying again later");
                backoff = (backoff * 2).min(MAX_BACKOFF);
                backoff
            }
        };
        tokio::select! {
            () = tokio::time::sleep(pause) => {}
            () = shutdown.cancelled() => break,
        }
    }
}

/// Publishes one batch of the oldest unpublished events; returns how many events.
pub async fn relay_round(
    pool: &Pool,
    transport: &dyn ChunkTransport,
    form: EventMessages,
) -> Result<usize, ChunkError> {
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let transaction = client.transaction().await.map_err(StoreError::from)?;
    let batches = lock_pending(&transaction, ROWS_PER_ROUND).await?;
    if batches.is_empty() {
        return Ok(0);
    }
    let events = batches.iter().map(|batch| batch.events.len()).sum();
    let messages: Vec<Outgoing> = match form {
        EventMessages::Single => batches
            .iter()
            .flat_map(|batch| batch.events.iter())
            .map(|event| {
                message(
                    &event.routing_key,
                    event.event_id.clone(),
                    event.body.clone(),
                )
            })
            .collect(),
        EventMessages::Batch => batches.iter().flat_map(batch_messages).collect(),
    };
    transport.publish(&messages).await?;
    let hooks = webhook_batches(&transaction, &batches).await?;
    let queued: Vec<ProfileEventsBatch<'_>> = hooks
        .iter()
        .map(|(domain, batch_id, body)| ProfileEventsBatch {
            domain,
            batch_id,
            body,
        })
        .collect();
    enqueue_profile_events(&transaction, &queued).await?;
    delete_batches(&transaction, &batches).await?;
    transaction.commit().await.map_err(StoreError::from)?;
    Ok(events)
}

fn message(routing_key: &str, message_id: String, body: String) -> Outgoing {
    Outgoing {
        route: Route::ProfileEvent {
            routing_key: routing_key.to_owned(),
        },
        message_id,
        body: body.into_bytes(),
        headers: MessageHeaders::default(),
        priority: 0,
    }
}

/// Each chunk's events as one `userhub.profile_event_batch.v1` body, for the webhook endpoints
/// that subscribed to `profile.changed`: (domain, batch id, body). Only the chunks of domains
/// with such an endpoint are spelled out (an endpoint added meanwhile sees the events that are
/// relayed after this transaction, as if it had been added after it).
async fn webhook_batches<'a>(
    transaction: &Transaction<'_>,
    batches: &'a [PendingBatch],
) -> Result<Vec<(&'a str, String, String)>, StoreError> {
    let mut domains: Vec<&str> = batches
        .iter()
        .filter_map(|batch| batch.domain.as_deref())
        .collect();
    domains.sort_unstable();
    domains.dedup();
    let subscribed = domains_with_profile_hooks(transaction, &domains).await?;
    Ok(batches
        .iter()
        .filter_map(|batch| {
            let domain = batch.domain.as_deref()?;
            if !subscribed.iter().any(|name| name == domain) {
                return None;
            }
            let first = &batch.events.first()?.event_id;
            let last = &batch.events.last()?.event_id;
            let batch_id = format!("{first}..{last}");
            let bodies: Vec<&str> = batch
                .events
                .iter()
                .map(|event| event.body.as_str())
                .collect();
            let body = batch_body(&batch_id, &bodies);
            Some((domain, batch_id, body))
        })
        .collect())
}

/// One outbox row (one chunk's events) as a message per routing key, its events in order.
fn batch_messages(batch: &PendingBatch) -> Vec<Outgoing> {
    let mut groups: Vec<(&str, Vec<&PendingEvent>)> = Vec::new();
    for event in &batch.events {
        match groups.iter_mut().find(|(key, _)| *key == event.routing_key) {
            Some((_, events)) => events.push(event),
            None => groups.push((&event.routing_key, vec![event])),
        }
    }
    groups
        .into_iter()
        .map(|(routing_key, events)| {
            let first = &events[0].event_id;
            let last = &events[events.len() - 1].event_id;
            let batch_id = format!("{first}..{last}");
            let bodies: Vec<&str> = events.iter().map(|event| event.body.as_str()).collect();
            let body = batch_body(&batch_id, &bodies);
            message(routing_key, batch_id, body)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32, routing_key: &str) -> PendingEvent {
        PendingEvent {
            event_id: format!("7.1.{n}"),
            routing_key: routing_key.to_owned(),
            body: format!("{{\"n\":{n}}}"),
        }
    }

    #[test]
    fn a_chunk_becomes_one_message_per_routing_key_in_record_order() {
        let batch = PendingBatch {
            domain_id: userhub_domain::DomainId::new(1),
            id: 1,
            domain: Some("demo".into()),
            events: vec![
                event(0, "demo.created"),
                event(1, "demo.updated"),
                event(2, "demo.created"),
                event(3, "demo.app.updated"),
            ],
        };
        let messages = batch_messages(&batch);
        let summary: Vec<(String, String, String)> = messages
            .iter()
            .map(|message| {
                let Route::ProfileEvent { routing_key: key } = &message.route else {
                    panic!("not a profile event")
                };
                (
                    key.clone(),
                    message.message_id.clone(),
                    String::from_utf8(message.body.clone()).unwrap(),
                )
            })
            .collect();
        assert_eq!(summary.len(), 3);
        assert_eq!(summary[0].0, "demo.created");
        assert_eq!(summary[0].1, "7.1.0..7.1.2");
        assert!(
            summary[0]
                .2
                .ends_with("\"count\":2,\"events\":[{\"n\":0},{\"n\":2}]}")
        );
        assert_eq!(summary[1].0, "demo.updated");
        assert_eq!(summary[2].1, "7.1.3..7.1.3");
    }
}
