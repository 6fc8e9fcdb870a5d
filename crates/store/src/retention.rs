//! Retention of completed tasks (outcomes expire after a period, task rows a period later) and
//! of webhook deliveries.
//! Each call does one bounded batch, so sweeping never holds long locks.

use crate::error::StoreError;
use deadpool_postgres::GenericClient;

/// Expires up to `batch` tasks completed more than `days` ago (their results and errors are
/// deleted, their idempotency keys freed); returns how many.
pub async fn expire_completed_tasks(
    client: &impl GenericClient,
    days: u32,
    batch: i64,
) -> Result<u64, StoreError> {
    let sql = include_str!("../queries/retention/expire_tasks.sql");
    run_batch(client, sql, days, batch).await
}

/// Deletes up to `batch` task rows that expired more than `days` ago; returns how many.
pub async fn forget_expired_tasks(
    client: &impl GenericClient,
    days: u32,
    batch: i64,
) -> Result<u64, StoreError> {
    let sql = include_str!("../queries/retention/forget_tasks.sql");
    run_batch(client, sql, days, batch).await
}

/// Deletes up to `batch` webhook deliveries created more than `days` ago whose 24-hour window
/// is over; returns how many.
pub async fn forget_webhook_deliveries(
    client: &impl GenericClient,
    days: u32,
    batch: i64,
) -> Result<u64, StoreError> {
    let sql = include_str!("../queries/retention/forget_webhook_deliveries.sql");
    run_batch(client, sql, days, batch).await
}

/// Runs one batch statement taking `(days, batch)`.
async fn run_batch(
    client: &impl GenericClient,
    sql: &str,
    days: u32,
    batch: i64,
) -> Result<u64, StoreError> {
    let days = i32::try_from(days).unwrap_or(i32::MAX);
    let statement = client.prepare_cached(sql).await?;
    Ok(client.execute(&statement, &[&days, &batch]).await?)
}
