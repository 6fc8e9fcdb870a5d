//! Stall detection (invariant 4): a task with no committed chunk for `stall_after_ms` is marked
//! stalled with the reason in its status and the logs. A task still `created` without a gateway
//! holding it was abandoned mid-acceptance and is failed. A stalled task whose chunks are in no
//! queue any more after `stall_fail_after_ms` is completed: the records of its missing chunks
//! (known from the task's chunk manifest) are failed with `PROCESSING_FAILED`. Every worker
//! process runs a detector; row locks with `SKIP LOCKED` keep them from doing the same work.

use crate::apply::ChunkError;
use crate::lost::{Loss, fail_chunks};
use crate::settings::WorkerSettings;
use crate::transport::ChunkTransport;
use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use userhub_domain::TaskState;
use userhub_store::ledger::applied_chunk_numbers;
use userhub_store::tasks::{
    StalledTask, claim_idle_tasks, fail_unaccepted_task, mark_stalled, set_failure_reason,
};
use userhub_store::{Pool, StoreError, Transaction};

/// Tasks examined per round.
const TASKS_PER_ROUND: i64 = 50;

/// Runs the detector until `shutdown`.
pub async fn run_stall_detector(
    pool: Pool,
    transport: Arc<dyn ChunkTransport>,
    settings: WorkerSettings,
    shutdown: CancellationToken,
) {
    let interval = Duration::from_millis(settings.stall_check_interval_ms.max(100));
    loop {
        tokio::select! {
            () = tokio::time::sleep(interval) => {}
            () = shutdown.cancelled() => return,
        }
        if let Err(error) = check_stalled_tasks(&pool, transport.as_ref(), &settings).await {
            tracing::warn!(%error, "stall check failed; trying again later");
        }
        if let Err(error) = crate::jobs::ordered::release_forgotten(&pool, transport.as_ref()).await
        {
            tracing::warn!(%error, "releasing deferred chunks failed; trying again later");
        }
    }
}

/// One round: marks, fails or completes the idle tasks it can lock; returns how many it saw.
pub async fn check_stalled_tasks(
    pool: &Pool,
    transport: &dyn ChunkTransport,
    settings: &WorkerSettings,
) -> Result<usize, ChunkError> {
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let transaction = client.transaction().await.map_err(StoreError::from)?;
    let idle = claim_idle_tasks(
        &transaction,
        settings.stall_after_ms as i64,
        TASKS_PER_ROUND,
    )
    .await?;
    for task in &idle {
        if task.state == TaskState::Created {
            let reason = "the task's acceptance was interrupted (the gateway stopped before all of its records \
                          were queued); nothing was applied";
            fail_unaccepted_task(&transaction, task.task, reason).await?;
            tracing::warn!(task_id = %task.task, "abandoned task failed");
            continue;
        }
        let waiting = transport.ready_messages(task.action).await;
        let queues = match &waiting {
            Ok(0) => format!("no `{}` chunk is waiting in the queues", task.action),
            Ok(ready) => format!("{ready} `{}` chunks are waiting in the queues", task.action),
            Err(_) => "the message broker is unreachable".to_owned(),
        };
        let reason = format!(
            "no chunk committed for {} s; {} of {} chunks done; {queues}",
            task.idle_seconds, task.chunks_done, task.chunks_total
        );
        let lost = matches!(waiting, Ok(0))
            && task.idle_seconds as u64 * 1000 >= settings.stall_fail_after_ms;
        if lost {
            complete_lost_chunks(&transaction, task, &reason).await?;
            tracing::error!(task_id = %task.task, %reason, "stalled task completed; its missing chunks were lost");
        } else {
            mark_stalled(&transaction, task.task, &reason).await?;
            if !task.already_marked {
                tracing::warn!(task_id = %task.task, %reason, "task stalled");
            }
        }
    }
    transaction.commit().await.map_err(StoreError::from)?;
    Ok(idle.len())
}

/// Writes the missing chunks' ledger rows with every record failed, which completes the task.
async fn complete_lost_chunks(
    transaction: &Transaction<'_>,
    task: &StalledTask,
    reason: &str,
) -> Result<(), ChunkError> {
    let applied: HashSet<i32> = applied_chunk_numbers(transaction, task.task)
        .await?
        .into_iter()
        .collect();
    let missing = (0..task.chunks_total).filter(|chunk_no| !applied.contains(chunk_no));
    let loss = Loss {
        message: "the record's chunk was lost before it was processed",
        reason,
    };
    fail_chunks(
        transaction,
        task.task,
        task.manifest.as_ref(),
        missing,
        &loss,
    )
    .await?;
    let failure = format!(
        "some chunks were lost ({reason}); their records are reported as PROCESSING_FAILED"
    );
    set_failure_reason(transaction, task.task, &failure).await?;
    Ok(())
}
