//! `userhub-server admin dlq list|replay`: what is in the dead-letter queues, and sending
//! chunks back to work once their cause is fixed. Replaying takes the chunk's failed outcomes
//! out of its task (which reopens) before the chunk is published again, under the task's row
//! lock, so the task completes again with the new outcome and nothing is counted twice.

use serde_json::Value;
use userhub_broker::{Broker, BrokerError, DeadLetter, DeadLetterQueue};
use userhub_domain::{DomainId, TaskAction, TaskId, TaskKey};
use userhub_store::ledger::remove_chunk;
use userhub_store::tasks::{lock_task_state, reopen_for_replay};
use userhub_store::{Pool, StoreError};
use userhub_tasks::transport::{
    ChunkTransport, MessageHeaders, Outgoing, Route, TransportError, priority_for_backlog,
};

/// A dead-letter queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum DeadLetterError {
    #[error(transparent)]
    Broker(#[from] BrokerError),
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A dead-lettered chunk as operators see it.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetterSummary {
    pub action: TaskAction,
    /// The chunk's domain (0 when the letter does not say).
    pub domain_id: i64,
    pub task_id: Option<TaskId>,
    pub chunk_no: Option<i32>,
    pub records: usize,
    pub attempts: i64,
    pub reason: String,
}

fn summarize(action: TaskAction, letter: &DeadLetter) -> DeadLetterSummary {
    let message: Option<Value> = serde_json::from_slice(&letter.body).ok();
    let field = |name: &str| {
        message
            .as_ref()
            .and_then(|message| message.get(name))
            .and_then(Value::as_i64)
    };
    DeadLetterSummary {
        action,
        domain_id: field("domain_id").unwrap_or(0),
        task_id: field("task_id").map(TaskId::from),
        chunk_no: field("chunk_no").map(|chunk| chunk as i32),
        records: message
            .as_ref()
            .and_then(|message| message.get("records")?.as_array().map(Vec::len))
            .unwrap_or(0),
        attempts: letter.headers.attempts,
        reason: letter.headers.failure.clone().unwrap_or_default(),
    }
}

/// Every dead-lettered chunk of the given task types (nothing is removed).
pub async fn list(
    broker: &Broker,
    actions: &[TaskAction],
) -> Result<Vec<DeadLetterSummary>, DeadLetterError> {
    let mut letters = Vec::new();
    for action in actions {
        let queue = DeadLetterQueue::open(broker, *action).await?;
        while let Some(letter) = queue.next().await? {
            letters.push(summarize(*action, &letter));
        }
        queue.close().await;
    }
    Ok(letters)
}

/// Sends dead-lettered chunks (of one task, or all) back to their work queue; returns how many.
pub async fn replay(
    pool: &Pool,
    broker: &Broker,
    actions: &[TaskAction],
    only_task: Option<TaskId>,
) -> Result<Vec<DeadLetterSummary>, DeadLetterError> {
    let mut replayed = Vec::new();
    for action in actions {
        let queue = DeadLetterQueue::open(broker, *action).await?;
        while let Some(letter) = queue.next().await? {
            let summary = summarize(*action, &letter);
            if only_task.is_some() && summary.task_id != only_task {
                continue;
            }
            replay_one(pool, broker, *action, &letter, &summary).await?;
            queue.remove(&letter).await?;
            replayed.push(summary);
        }
        queue.close().await;
    }
    Ok(replayed)
}

async fn replay_one(
    pool: &Pool,
    broker: &Broker,
    action: TaskAction,
    letter: &DeadLetter,
    summary: &DeadLetterSummary,
) -> Result<(), DeadLetterError> {
    let message = Outgoing {
        route: Route::Work {
            action,
            domain_id: DomainId::new(summary.domain_id),
        },
        message_id: letter.message_id.clone().unwrap_or_default(),
        body: letter.body.clone(),
        headers: MessageHeaders::default(),
        priority: priority_for_backlog(summary.records as i64),
    };
    let publish = || broker.publish(std::slice::from_ref(&message));
    let (Some(task_id), Some(chunk_no)) = (summary.task_id, summary.chunk_no) else {
        publish().await?;
        return Ok(());
    };
    let mut client = pool.get().await.map_err(StoreError::from)?;
    let transaction = client.transaction().await.map_err(StoreError::from)?;
    let task = TaskKey::new(DomainId::new(summary.domain_id), task_id);
    if lock_task_state(&transaction, task).await?.is_some() {
        let removed = remove_chunk(&transaction, task, chunk_no).await?;
        reopen_for_replay(&transaction, task, removed).await?;
    }
    publish().await?;
    transaction.commit().await.map_err(StoreError::from)?;
    Ok(())
}
