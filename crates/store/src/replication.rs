//! Streaming replication positions: where the primary's log ends, and whether a read replica
//! has replayed up to a position (so that it shows every change committed before it).

use crate::error::StoreError;
use deadpool_postgres::GenericClient;

/// A position in the primary's write-ahead log (`pg_lsn` as text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalPosition(String);

/// The end of the primary's log now: every committed change lies before it.
pub async fn log_end(primary: &impl GenericClient) -> Result<WalPosition, StoreError> {
    let statement = primary
        .prepare_cached(include_str!("../queries/replication/insert_lsn.sql"))
        .await?;
    Ok(WalPosition(
        primary.query_one(&statement, &[]).await?.get(0),
    ))
}

/// Whether `replica` has replayed the log up to `position` (always true of a primary).
pub async fn replayed(
    replica: &impl GenericClient,
    position: &WalPosition,
) -> Result<bool, StoreError> {
    let statement = replica
        .prepare_cached(include_str!("../queries/replication/replayed.sql"))
        .await?;
    Ok(replica.query_one(&statement, &[&position.0]).await?.get(0))
}
