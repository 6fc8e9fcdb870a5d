//! `/ops/api/overview`: open and recent tasks across domains, uploads under way, throughput per
//! bucket, queue depths and dead-lettered chunks, in one JSON document.

use super::Dashboard;
use crate::view::{TaskStatus, status_body};
use chrono::{SecondsFormat, Utc};
use serde::Serialize;
use userhub_domain::TaskAction;
use userhub_http_common::ApiError;
use userhub_store::overview::{
    DomainUpload, open_and_recent_tasks, open_and_recent_uploads, throughput,
};

/// How long completed tasks stay on the dashboard.
const RECENT_SECONDS: f64 = 15.0 * 60.0;
/// At most this many tasks are listed.
const MAX_TASKS: i64 = 100;
const BUCKET_SECONDS: i64 = 10;
const WINDOW_SECONDS: i64 = 15 * 60;

/// A task and its domain.
#[derive(Debug, Serialize)]
pub struct DashboardTask {
    pub domain: String,
    #[serde(flatten)]
    pub status: TaskStatus,
}

/// An upload and how much of it has arrived.
#[derive(Debug, Serialize)]
pub struct DashboardUpload {
    pub domain: String,
    pub upload_id: String,
    pub filename: Option<String>,
    pub received: i64,
    pub length: i64,
    /// Whole percent of the bytes received (100 once complete).
    pub progress_percentage: i64,
    /// The task it became.
    pub task_id: Option<u64>,
    pub created_at: String,
}

impl From<&DomainUpload> for DashboardUpload {
    fn from(upload: &DomainUpload) -> Self {
        let progress_percentage = if upload.length == 0 {
            100
        } else {
            (i128::from(upload.received) * 100 / i128::from(upload.length)) as i64
        };
        DashboardUpload {
            domain: upload.domain.clone(),
            upload_id: upload.id.clone(),
            filename: upload.filename.clone(),
            received: upload.received,
            length: upload.length,
            progress_percentage,
            task_id: upload.task_id.map(|id| id as u64),
            created_at: upload
                .created_at
                .to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }
}

/// One task type's queues.
#[derive(Debug, Serialize)]
pub struct QueueRow {
    pub action: &'static str,
    pub work: u32,
    pub retry: u32,
    pub dead: u32,
}

/// Records committed per bucket, oldest first.
#[derive(Debug, Serialize)]
pub struct ThroughputSeries {
    pub bucket_seconds: i64,
    /// `[bucket start (seconds since the epoch), records]` pairs.
    pub points: Vec<(i64, i64)>,
}

/// The whole dashboard document.
#[derive(Debug, Serialize)]
pub struct Overview {
    pub generated_at: String,
    /// `up`, `down` (queue depths unknown) or `unused` (this process has no broker).
    pub broker: &'static str,
    pub tasks: Vec<DashboardTask>,
    /// Uploads not yet a task, and those begun in the last 15 minutes.
    pub uploads: Vec<DashboardUpload>,
    pub open_tasks: usize,
    pub stalled_tasks: usize,
    pub throughput: ThroughputSeries,
    pub queues: Vec<QueueRow>,
    pub dead_lettered_chunks: u64,
}

async fn queue_rows(dashboard: &Dashboard) -> (&'static str, Vec<QueueRow>) {
    let Some(source) = &dashboard.queue_depths else {
        return ("unused", Vec::new());
    };
    let mut rows = Vec::new();
    for action in TaskAction::ALL {
        match source.queue_counts(action).await {
            Some(counts) => rows.push(QueueRow {
                action: action.as_str(),
                work: counts.work,
                retry: counts.retry,
                dead: counts.dead,
            }),
            None => return ("down", Vec::new()),
        }
    }
    ("up", rows)
}

pub async fn collect(dashboard: &Dashboard) -> Result<Overview, ApiError> {
    let client = dashboard
        .pool
        .get()
        .await
        .map_err(userhub_store::StoreError::from)?;
    let now = Utc::now();
    let mut found = open_and_recent_tasks(&client, RECENT_SECONDS, MAX_TASKS)
        .await
        .map_err(ApiError::from)?;
    found.sort_by_key(|entry| {
        (
            entry.task.state == userhub_domain::TaskState::Completed,
            std::cmp::Reverse(entry.task.id),
        )
    });
    let tasks: Vec<DashboardTask> = found
        .iter()
        .map(|entry| DashboardTask {
            domain: entry.domain.clone(),
            status: status_body(&entry.task, now),
        })
        .collect();
    let uploads = open_and_recent_uploads(&client, RECENT_SECONDS, MAX_TASKS)
        .await
        .map_err(ApiError::from)?;
    let points = throughput(&client, BUCKET_SECONDS, WINDOW_SECONDS)
        .await
        .map_err(ApiError::from)?;
    drop(client);
    let (broker, queues) = queue_rows(dashboard).await;
    Ok(Overview {
        generated_at: now.to_rfc3339_opts(SecondsFormat::Millis, true),
        broker,
        open_tasks: tasks
            .iter()
            .filter(|task| task.status.state != "completed")
            .count(),
        stalled_tasks: tasks
            .iter()
            .filter(|task| task.status.stalled == Some(true))
            .count(),
        dead_lettered_chunks: queues.iter().map(|row| u64::from(row.dead)).sum(),
        tasks,
        uploads: uploads.iter().map(DashboardUpload::from).collect(),
        throughput: ThroughputSeries {
            bucket_seconds: BUCKET_SECONDS,
            points: points
                .iter()
                .map(|point| (point.bucket_start, point.records))
                .collect(),
        },
        queues,
    })
}
