//! The profile-event outbox: a chunk's events are inserted as one compact row in the
//! transaction of the change they describe and removed by the relay once the broker confirmed
//! them.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;
use tokio_postgres::Row;
use userhub_domain::events::{ChunkEvents, EventChange, ProfileChange};
use userhub_domain::values::Version;
use userhub_domain::{CoreProfileId, DomainId, TaskId};

/// One event waiting to be published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingEvent {
    pub event_id: String,
    pub routing_key: String,
    pub body: String,
}

/// A locked outbox row: one chunk's events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingBatch {
    pub domain_id: DomainId,
    pub id: i64,
    /// The domain of the chunk's events (rows written before the compact layout: unknown).
    pub domain: Option<String>,
    pub events: Vec<PendingEvent>,
}

/// Adds a chunk's events (of domain `domain_id`) as one row (nothing if there are none).
pub async fn insert_events(
    client: &impl GenericClient,
    domain_id: DomainId,
    chunk: &ChunkEvents,
) -> Result<(), StoreError> {
    if chunk.changes.is_empty() {
        return Ok(());
    }
    let changes = &chunk.changes;
    let profile_ids: Vec<CoreProfileId> = changes.iter().map(|c| c.core_profile_id).collect();
    // `created` holds the action: true created, false updated, NULL deleted (by a revert).
    let created: Vec<Option<bool>> = changes
        .iter()
        .map(|c| match c.action {
            ProfileChange::Created => Some(true),
            ProfileChange::Updated => Some(false),
            ProfileChange::Deleted => None,
        })
        .collect();
    let mut field_lists: Vec<&str> = Vec::new();
    let field_list_of: Vec<i16> = changes
        .iter()
        .map(|change| list_number(&mut field_lists, &change.changed_fields))
        .collect::<Result<_, _>>()?;
    let pids: Vec<Option<&str>> = changes
        .iter()
        .map(|c| c.app.as_ref().map(|(pid, _)| pid.as_str()))
        .collect();
    let app_ids: Vec<Option<&str>> = changes
        .iter()
        .map(|c| c.app.as_ref().map(|(_, app_id)| app_id.as_str()))
        .collect();
    // Versions only when some profile of the chunk has one (most chunks carry none).
    let versions: Option<Vec<Option<i64>>> =
        changes.iter().any(|c| c.version.is_some()).then(|| {
            changes
                .iter()
                .map(|c| c.version.map(Version::get))
                .collect()
        });
    let statement = client
        .prepare_cached(include_str!("../queries/profile_events/insert.sql"))
        .await?;
    client
        .execute(
            &statement,
            &[
                &domain_id.as_i64(),
                &chunk.task_id.as_i64(),
                &(chunk.chunk_no as i32),
                &chunk.domain,
                &chunk.workflow_id,
                &chunk.occurred_at,
                &profile_ids,
                &created,
                &field_lists,
                &field_list_of,
                &pids,
                &app_ids,
                &versions,
            ],
        )
        .await?;
    Ok(())
}

/// The number of `list` among the chunk's distinct field lists, added if new.
fn list_number<'a>(lists: &mut Vec<&'a str>, list: &'a str) -> Result<i16, StoreError> {
    let position = match lists.iter().position(|known| *known == list) {
        Some(position) => position,
        None => {
            lists.push(list);
            lists.len() - 1
        }
    };
    i16::try_from(position).map_err(|_| {
        StoreError::Corrupt("a chunk's events have more distinct field lists than fit".into())
    })
}

/// Locks and returns up to `limit` of the oldest rows no other relay holds (a row that cannot be
/// read is logged and left out); call inside a transaction and [`delete_batches`] once their
/// events are published.
pub async fn lock_pending(
    client: &impl GenericClient,
    limit: i64,
) -> Result<Vec<PendingBatch>, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/profile_events/lock_pending.sql"))
        .await?;
    let rows = client.query(&statement, &[&limit]).await?;
    let mut batches = Vec::with_capacity(rows.len());
    for row in &rows {
        let id: i64 = row.get("id");
        let domain_id = DomainId::new(row.get("domain_id"));
        let domain: Option<String> = row.get("domain");
        match events_of(row) {
            Ok(events) => batches.push(PendingBatch {
                domain_id,
                id,
                domain,
                events,
            }),
            // One unreadable row must not hold back every later event: it stays in the outbox,
            // counted as pending, for an operator to look at.
            Err(error) => {
                tracing::error!(outbox_row = id, %error, "an outbox row cannot be read; skipped")
            }
        }
    }
    Ok(batches)
}

/// The events of one outbox row, in either layout.
fn events_of(row: &Row) -> Result<Vec<PendingEvent>, StoreError> {
    match row.get::<_, Option<Vec<String>>>("bodies") {
        Some(bodies) => Ok(spelled_out(row, bodies)),
        None => chunk_of(row)?
            .published()
            .map(|event| {
                let event = event.map_err(|error| StoreError::Corrupt(error.to_string()))?;
                Ok(PendingEvent {
                    event_id: event.event_id,
                    routing_key: event.routing_key,
                    body: event.body,
                })
            })
            .collect(),
    }
}

/// The events of a row written before the compact layout.
fn spelled_out(row: &Row, bodies: Vec<String>) -> Vec<PendingEvent> {
    let event_ids: Vec<String> = row.get("event_ids");
    let routing_keys: Vec<String> = row.get("routing_keys");
    event_ids
        .into_iter()
        .zip(routing_keys)
        .zip(bodies)
        .map(|((event_id, routing_key), body)| PendingEvent {
            event_id,
            routing_key,
            body,
        })
        .collect()
}

/// A compact row's chunk.
fn chunk_of(row: &Row) -> Result<ChunkEvents, StoreError> {
    let profile_ids: Vec<CoreProfileId> = row.get("profile_ids");
    let created: Vec<Option<bool>> = row.get("created");
    let field_lists: Vec<String> = row.get("field_lists");
    let field_list_of: Vec<i16> = row.get("field_list_of");
    let pids: Vec<Option<String>> = row.get("pids");
    let app_ids: Vec<Option<String>> = row.get("app_ids");
    let versions: Option<Vec<Option<i64>>> = row.get("versions");
    let consistent = [
        created.len(),
        field_list_of.len(),
        pids.len(),
        app_ids.len(),
    ]
    .iter()
    .all(|len| *len == profile_ids.len())
        && versions
            .as_ref()
            .is_none_or(|versions| versions.len() == profile_ids.len());
    let corrupt = || StoreError::Corrupt("an outbox row's event arrays disagree".into());
    if !consistent {
        return Err(corrupt());
    }
    let changes = (0..profile_ids.len())
        .map(|n| {
            let list = usize::try_from(field_list_of[n]).map_err(|_| corrupt())?;
            Ok(EventChange {
                core_profile_id: profile_ids[n],
                action: match created[n] {
                    Some(true) => ProfileChange::Created,
                    Some(false) => ProfileChange::Updated,
                    None => ProfileChange::Deleted,
                },
                changed_fields: field_lists.get(list).ok_or_else(corrupt)?.clone(),
                app: pids[n].clone().zip(app_ids[n].clone()),
                version: versions
                    .as_ref()
                    .and_then(|versions| versions[n])
                    .and_then(Version::new),
            })
        })
        .collect::<Result<_, StoreError>>()?;
    Ok(ChunkEvents {
        task_id: TaskId::from(row.get::<_, i64>("task_id")),
        chunk_no: u32::try_from(row.get::<_, i32>("chunk_no")).map_err(|_| corrupt())?,
        domain: row.get("domain"),
        workflow_id: row.get("workflow_id"),
        occurred_at: row.get("occurred_at"),
        changes,
    })
}

/// Removes published rows.
pub async fn delete_batches(
    client: &impl GenericClient,
    batches: &[PendingBatch],
) -> Result<(), StoreError> {
    let domains: Vec<i64> = batches
        .iter()
        .map(|batch| batch.domain_id.as_i64())
        .collect();
    let ids: Vec<i64> = batches.iter().map(|batch| batch.id).collect();
    let statement = client
        .prepare_cached(include_str!("../queries/profile_events/delete.sql"))
        .await?;
    client.execute(&statement, &[&domains, &ids]).await?;
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
