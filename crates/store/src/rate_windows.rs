//! Rate-limit windows kept in PostgreSQL, so that every gateway and status replica counts
//! against the same limit. Processes lease batches of a window's requests (one atomic upsert
//! per lease) and spend them in memory.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;

/// A lease of a counter's requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lease {
    /// Requests this lease may spend (0: the window is spent).
    pub granted: u32,
    /// Requests leased in the current window by every process, this lease included.
    pub used: u32,
    /// When the window ends, epoch milliseconds (the database's clock).
    pub window_end_ms: i64,
    /// The database's time now, epoch milliseconds.
    pub now_ms: i64,
}

/// Leases requests of counter `key` whose limit is `limit`: a sixteenth of what remains in its
/// window, at least one and at most `max_batch`, never more than remains.
pub async fn lease(
    client: &impl GenericClient,
    key: &str,
    limit: u32,
    max_batch: u32,
) -> Result<Lease, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/rate_windows/lease.sql"))
        .await?;
    let limit = i32::try_from(limit).unwrap_or(i32::MAX);
    let max_batch = i32::try_from(max_batch.max(1)).unwrap_or(i32::MAX);
    let row = client
        .query_one(&statement, &[&key, &limit, &max_batch])
        .await?;
    let count = |value: i32| u32::try_from(value).unwrap_or(0);
    Ok(Lease {
        granted: count(row.get(0)),
        used: count(row.get(1)),
        window_end_ms: row.get(2),
        now_ms: row.get(3),
    })
}
