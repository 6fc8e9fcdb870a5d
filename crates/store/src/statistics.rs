//! Planner statistics after bulk writes. Autovacuum analyses a table only after its naptime (a
//! minute by default); until then PostgreSQL plans for the profile tables' old sizes, and right
//! after a large import that made exports and updates scan a whole table or a domain's whole
//! index for every chunk (measured: 50-90 ms instead of 2-3 ms per 1 000 profiles). So when a
//! write task completes and the profile table has doubled since its last analysis, the profile
//! tables are analysed at once, by one process at a time (a growth from nothing to a million
//! profiles costs about seven analyses).

use crate::error::StoreError;
use deadpool_postgres::GenericClient;

const OUTGROWN: &str = include_str!("../queries/statistics/outgrown.sql");
const ANALYZE: &str = include_str!("../queries/statistics/analyze_profile_tables.sql");
const TRY_LOCK: &str = include_str!("../queries/advisory/try_lock.sql");
const UNLOCK: &str = include_str!("../queries/advisory/unlock.sql");

/// An arbitrary constant naming the advisory lock held while analysing.
const ANALYZE_LOCK_KEY: i64 = 0x0075_7365_7273_7461;

/// Analyses the profile tables if they outgrew their statistics and no other process is
/// analysing them; returns whether it did.
pub async fn analyze_if_outgrown(client: &impl GenericClient) -> Result<bool, StoreError> {
    let outgrown = client
        .query_opt(OUTGROWN, &[])
        .await?
        .is_some_and(|row| row.get::<_, Option<bool>>(0).unwrap_or(false));
    if !outgrown {
        return Ok(false);
    }
    let locked: bool = client
        .query_one(TRY_LOCK, &[&ANALYZE_LOCK_KEY])
        .await?
        .get(0);
    if !locked {
        return Ok(false);
    }
    let analysed = client.batch_execute(ANALYZE).await;
    client.execute(UNLOCK, &[&ANALYZE_LOCK_KEY]).await?;
    analysed?;
    Ok(true)
}
