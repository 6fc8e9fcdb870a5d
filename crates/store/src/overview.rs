//! Cross-domain reads for the operator dashboard: the open and recently completed tasks with
//! their domain, uploads under way, and records committed per time bucket.

use crate::error::StoreError;
use crate::tasks::{TaskRecord, task_of};
use deadpool_postgres::GenericClient;

/// A task with the name of its domain.
#[derive(Debug, Clone)]
pub struct DomainTask {
    pub domain: String,
    pub task: TaskRecord,
}

/// Every open task and the tasks completed in the last `recent_seconds`, open ones first, newest
/// first within each group; at most `limit`.
pub async fn open_and_recent_tasks(
    client: &impl GenericClient,
    recent_seconds: f64,
    limit: i64,
) -> Result<Vec<DomainTask>, StoreError> {
    let statement = client
        .prepare_cached(include_str!(
            "../queries/overview/open_and_recent_tasks.sql"
        ))
        .await?;
    let rows = client.query(&statement, &[&recent_seconds, &limit]).await?;
    rows.iter()
        .map(|row| {
            Ok(DomainTask {
                domain: row.get("domain_name"),
                task: task_of(row)?,
            })
        })
        .collect()
}

/// An upload with the name of its domain, as the dashboard lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainUpload {
    pub domain: String,
    pub id: String,
    pub filename: Option<String>,
    pub received: i64,
    pub length: i64,
    pub task_id: Option<i64>,
    pub created_at: chrono::DateTime<chrono::Utc>,
}

/// Every upload not yet made into a task and those begun in the last `recent_seconds`, newest
/// first; at most `limit`.
pub async fn open_and_recent_uploads(
    client: &impl GenericClient,
    recent_seconds: f64,
    limit: i64,
) -> Result<Vec<DomainUpload>, StoreError> {
    let statement = client
        .prepare_cached(include_str!(
            "../queries/overview/open_and_recent_uploads.sql"
        ))
        .await?;
    let rows = client.query(&statement, &[&recent_seconds, &limit]).await?;
    Ok(rows
        .iter()
        .map(|row| DomainUpload {
            domain: row.get("domain_name"),
            id: row.get("id"),
            filename: row.get("filename"),
            received: row.get("received"),
            length: row.get("length"),
            task_id: row.get("task_id"),
            created_at: row.get("created_at"),
        })
        .collect())
}

/// Records committed in one time bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThroughputPoint {
    /// Start of the bucket, seconds since the epoch.
    pub bucket_start: i64,
    pub records: i64,
}

/// Records committed per `bucket_seconds` over the last `window_seconds`, every bucket present
/// (zero where nothing committed), oldest first.
pub async fn throughput(
    client: &impl GenericClient,
    bucket_seconds: i64,
    window_seconds: i64,
) -> Result<Vec<ThroughputPoint>, StoreError> {
    let bucket = bucket_seconds.max(1);
    let statement = client
        .prepare_cached(include_str!("../queries/overview/throughput.sql"))
        .await?;
    let rows = client
        .query(&statement, &[&bucket, &(window_seconds as f64)])
        .await?;
    let now: i64 = match rows.first() {
        Some(row) => row.get("now_seconds"),
        None => {
            let row = client
                .query_one(include_str!("../queries/overview/now_seconds.sql"), &[])
                .await?;
            row.get(0)
        }
    };
    let last = now.div_euclid(bucket) * bucket;
    let count = (window_seconds / bucket).max(1);
    let first = last - (count - 1) * bucket;
    let mut points: Vec<ThroughputPoint> = (0..count)
        .map(|step| ThroughputPoint {
            bucket_start: first + step * bucket,
            records: 0,
        })
        .collect();
    for row in &rows {
        let start: i64 = row.get("bucket_start");
        if start >= first && start <= last {
            let slot = ((start - first) / bucket) as usize;
            points[slot].records += row.get::<_, i64>("records");
        }
    }
    Ok(points)
}
