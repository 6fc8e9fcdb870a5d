//! Waiting for tasks: polls their status (through the task list when there are many, so that one
//! request covers up to 100 tasks) until every one is completed, moving a progress bar of
//! processed records and reporting stalls.

use crate::api::{ApiClient, ApiError, TaskStatus};
use crate::ui::{Bar, Ui};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

/// Polling stays well inside the default 60 requests a minute.
const POLL_EVERY: Duration = Duration::from_secs(2);
/// A single task is polled directly; more through the list (one request for up to 100).
const POLL_SINGLY_UP_TO: usize = 1;
const PAGE: u32 = 100;

/// Polls the tasks once; returns the statuses it saw.
async fn poll(
    client: &ApiClient,
    open: &BTreeSet<u64>,
) -> Result<BTreeMap<u64, TaskStatus>, ApiError> {
    let mut seen = BTreeMap::new();
    if open.len() <= POLL_SINGLY_UP_TO {
        for task_id in open {
            seen.insert(*task_id, client.status(*task_id).await?);
        }
        return Ok(seen);
    }
    let oldest = open.first().copied().unwrap_or(0);
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("limit", PAGE.to_string())];
        if let Some(cursor) = &cursor {
            query.push(("cursor", cursor.clone()));
        }
        let page = client.list(&query).await?;
        let reached_oldest = page.tasks.iter().any(|task| task.task_id <= oldest);
        for task in page.tasks {
            if open.contains(&task.task_id) {
                seen.insert(task.task_id, task);
            }
        }
        if seen.len() == open.len() || reached_oldest {
            break;
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    // Tasks the list did not show (e.g. newer ones created meanwhile hid them): ask directly.
    let missing: Vec<u64> = open
        .iter()
        .filter(|id| !seen.contains_key(id))
        .copied()
        .collect();
    for task_id in missing {
        seen.insert(task_id, client.status(task_id).await?);
    }
    Ok(seen)
}

/// Waits until every task is completed; the bar shows processed records of all of them.
pub async fn wait_for(
    client: &ApiClient,
    ui: &Ui,
    bar: &Bar<'_>,
    task_ids: &[u64],
) -> Result<BTreeMap<u64, TaskStatus>, ApiError> {
    let mut latest: BTreeMap<u64, TaskStatus> = BTreeMap::new();
    let mut open: BTreeSet<u64> = task_ids.iter().copied().collect();
    let mut reported_stalls = BTreeSet::new();
    loop {
        for (task_id, status) in poll(client, &open).await? {
            if status.stalled == Some(true) && reported_stalls.insert(task_id) {
                ui.line(format!(
                    "task {task_id} is stalled: {}",
                    status.stall_reason.as_deref().unwrap_or("no progress")
                ));
            }
            if status.is_completed() {
                open.remove(&task_id);
            }
            latest.insert(task_id, status);
        }
        bar.set_total(latest.values().map(|status| status.total).sum());
        bar.set_position(latest.values().map(|status| status.processed).sum());
        let done = task_ids.len() - open.len();
        bar.set_message(format!("{done}/{} tasks completed", task_ids.len()));
        if open.is_empty() {
            bar.finish();
            return Ok(latest);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}
