//! Rate-limit windows kept in PostgreSQL, so that every gateway and status replica counts
//! against the same limit: one atomic upsert per request.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;

/// A counter after one more request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowCount {
    /// Requests in the current window, this one included.
    pub used: i32,
    /// When the window ends, epoch milliseconds.
    pub window_end_ms: i64,
    /// The database's time now, epoch milliseconds.
    pub now_ms: i64,
}

/// Counts one request against `key`.
pub async fn take(client: &impl GenericClient, key: &str) -> Result<WindowCount, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/rate_windows/take.sql"))
        .await?;
    let row = client.query_one(&statement, &[&key]).await?;
    Ok(WindowCount {
        used: row.get(0),
        window_end_ms: row.get(1),
        now_ms: row.get(2),
    })
}
