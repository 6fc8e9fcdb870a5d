//! The retention sweeper: every worker process deletes the before-images of tasks completed
//! more than `retention.revert_days` ago (they can no longer be reverted), expires completed
//! tasks older than
//! `retention.task_days` (their results and errors are deleted; their status answers
//! `"expired": true` and downloads `410`) and deletes task rows `retention.expired_task_days`
//! after that, deletes webhook deliveries older than `retention.webhook_delivery_days` and
//! uploads past their expiry (incomplete ones after `gateway.upload_expiry_hours`, complete ones
//! twice that after they were begun), in small batches (`SKIP LOCKED` keeps sweepers of several
//! processes apart).

use serde::{Deserialize, Serialize};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use userhub_store::retention::{
    expire_completed_tasks, forget_expired_tasks, forget_webhook_deliveries,
};
use userhub_store::reverts::expire_before_images;
use userhub_store::uploads::expire_uploads;
use userhub_store::{Pool, StoreError};

/// Tasks handled per statement.
const TASKS_PER_BATCH: i64 = 100;
/// Webhook deliveries deleted per statement.
const DELIVERIES_PER_BATCH: i64 = 1_000;
/// Expired uploads deleted per statement (each with its parts).
const UPLOADS_PER_BATCH: i64 = 100;
/// Batches per round, so that one round ends even with a large backlog.
const BATCHES_PER_ROUND: usize = 50;

/// `[retention]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RetentionSettings {
    /// Days after completion until a task's results and errors are deleted.
    pub task_days: u32,
    /// Days after expiry until the task row itself is deleted (its id then answers `404`).
    pub expired_task_days: u32,
    /// How often each worker process sweeps.
    pub sweep_interval_ms: u64,
    /// Days after completion until a task's before-images are deleted (a revert then answers
    /// `410`).
    #[serde(default = "default_revert_days")]
    pub revert_days: u32,
    /// Days after its creation until a webhook delivery (and its payload) is deleted, once its
    /// 24-hour window is over.
    #[serde(default = "default_webhook_delivery_days")]
    pub webhook_delivery_days: u32,
}

fn default_revert_days() -> u32 {
    7
}

fn default_webhook_delivery_days() -> u32 {
    14
}

impl Default for RetentionSettings {
    fn default() -> Self {
        RetentionSettings {
            task_days: 30,
            expired_task_days: 335,
            sweep_interval_ms: 10 * 60 * 1000,
            revert_days: default_revert_days(),
            webhook_delivery_days: default_webhook_delivery_days(),
        }
    }
}

impl RetentionSettings {
    /// Checks the section.
    pub fn validate(&self) -> Result<(), userhub_domain::InvalidSetting> {
        if self.task_days == 0
            || self.task_days > MAX_RETENTION_DAYS
            || self.revert_days == 0
            || self.revert_days > MAX_RETENTION_DAYS
            || self.expired_task_days > MAX_RETENTION_DAYS
            || self.webhook_delivery_days == 0
            || self.webhook_delivery_days > MAX_RETENTION_DAYS
        {
            return Err(userhub_domain::InvalidSetting::new(
                "retention.task_days",
                format!(
                    "retention periods (task_days, revert_days, webhook_delivery_days) must be 1 \
                     to {MAX_RETENTION_DAYS} days (expired_task_days may be 0)"
                ),
            ));
        }
        if u64::from(self.revert_days)
            > u64::from(self.task_days) + u64::from(self.expired_task_days)
        {
            return Err(userhub_domain::InvalidSetting::new(
                "retention.revert_days",
                "must not exceed task_days + expired_task_days: before-images are deleted with \
                 their task at the latest",
            ));
        }
        Ok(())
    }
}

/// Most days a retention setting may hold (100 years), so that no date computed from it
/// leaves PostgreSQL's range.
pub const MAX_RETENTION_DAYS: u32 = 36_500;

/// Sweeps every `sweep_interval_ms` until `shutdown`.
pub async fn run_retention_sweeper(
    pool: Pool,
    settings: RetentionSettings,
    shutdown: CancellationToken,
) {
    let interval = Duration::from_millis(settings.sweep_interval_ms.max(100));
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = shutdown.cancelled() => return,
        }
        match sweep(&pool, &settings).await {
            Ok((0, 0)) => {}
            Ok((expired, forgotten)) => {
                tracing::info!(expired, forgotten, "retention: tasks expired and deleted");
            }
            Err(error) => tracing::warn!(%error, "retention sweep failed; trying again later"),
        }
    }
}

/// One round: deletes expired before-images and old webhook deliveries, expires outcomes, then
/// forgets tasks, in bounded batches; returns the counts of tasks expired and forgotten.
pub async fn sweep(pool: &Pool, settings: &RetentionSettings) -> Result<(u64, u64), StoreError> {
    let client = pool.get().await?;
    let mut deliveries = 0;
    for _ in 0..BATCHES_PER_ROUND {
        let days = settings.webhook_delivery_days;
        let done = forget_webhook_deliveries(&client, days, DELIVERIES_PER_BATCH).await?;
        deliveries += done;
        if done < DELIVERIES_PER_BATCH as u64 {
            break;
        }
    }
    if deliveries > 0 {
        tracing::info!(deliveries, "retention: webhook deliveries deleted");
    }
    for _ in 0..BATCHES_PER_ROUND {
        let done = expire_uploads(&client, UPLOADS_PER_BATCH).await?;
        if done > 0 {
            tracing::info!(uploads = done, "retention: expired uploads deleted");
        }
        if done < UPLOADS_PER_BATCH as u64 {
            break;
        }
    }
    for _ in 0..BATCHES_PER_ROUND {
        let done = expire_before_images(&client, settings.revert_days, TASKS_PER_BATCH).await?;
        if done > 0 {
            tracing::info!(tasks = done, "retention: before-images deleted");
        }
        if done < TASKS_PER_BATCH as u64 {
            break;
        }
    }
    let mut expired = 0;
    for _ in 0..BATCHES_PER_ROUND {
        let done = expire_completed_tasks(&client, settings.task_days, TASKS_PER_BATCH).await?;
        expired += done;
        if done < TASKS_PER_BATCH as u64 {
            break;
        }
    }
    let mut forgotten = 0;
    for _ in 0..BATCHES_PER_ROUND {
        let done =
            forget_expired_tasks(&client, settings.expired_task_days, TASKS_PER_BATCH).await?;
        forgotten += done;
        if done < TASKS_PER_BATCH as u64 {
            break;
        }
    }
    Ok((expired, forgotten))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn before_images_may_not_outlive_their_task() {
        assert!(RetentionSettings::default().validate().is_ok());
        let outliving = RetentionSettings {
            task_days: 10,
            expired_task_days: 5,
            revert_days: 16,
            ..RetentionSettings::default()
        };
        let error = outliving.validate().unwrap_err().to_string();
        assert!(error.contains("revert_days"), "{error}");
        let zero = RetentionSettings {
            revert_days: 0,
            ..RetentionSettings::default()
        };
        assert!(zero.validate().is_err());
    }
}
