//! The gate a chunk passes in its transaction before any record is touched — the one place
//! the apply path and the export planner ask: is the task accepted and still open, was this
//! chunk applied already, is it its turn (tasks applied in order), was the task canceled?
//! A stopped chunk says why ([`Stop`]); an open one says whether its records end as `CANCELED`.

use crate::apply::{ChunkDisposition, ChunkError};
use userhub_domain::{TaskKey, TaskState};
use userhub_store::deferred::predecessors_applied;
use userhub_store::ledger::chunk_applied;
use userhub_store::tasks::{fail_unaccepted_task, lock_task_state, state_for_chunk};
use userhub_store::{StoreError, Transaction};

/// How the chunk holds the task row while it is applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowLock {
    /// Chunks apply side by side (the row is share-locked).
    Shared,
    /// One chunk at a time (tasks applied in order, export plans): the row is locked
    /// exclusively, so that a check of the predecessors cannot miss a commit.
    Exclusive,
}

/// The gate's answer.
#[derive(Debug)]
pub enum Passage {
    /// Apply the chunk; `canceled`: a cancel committed before, every record ends `CANCELED`.
    Open {
        canceled: bool,
    },
    Stopped(Stop),
}

/// Why a chunk goes no further, and whether the transaction has something to commit.
#[derive(Debug)]
pub struct Stop {
    pub disposition: ChunkDisposition,
    commit: bool,
}

impl Stop {
    fn drop(reason: &'static str) -> Passage {
        Passage::Stopped(Stop {
            disposition: ChunkDisposition::Dropped(reason),
            commit: false,
        })
    }

    /// Ends the chunk's transaction (committing what the gate wrote) and says what happened.
    pub async fn finish(
        self,
        transaction: Transaction<'_>,
    ) -> Result<ChunkDisposition, ChunkError> {
        if self.commit {
            transaction.commit().await.map_err(StoreError::from)?;
        }
        Ok(self.disposition)
    }
}

/// Checks chunk `chunk_no` of `task` under the task row's lock.
pub async fn check(
    transaction: &Transaction<'_>,
    task: TaskKey,
    chunk_no: i32,
    lock: RowLock,
) -> Result<Passage, ChunkError> {
    let gate = match lock {
        RowLock::Exclusive => lock_task_state(transaction, task).await?,
        RowLock::Shared => state_for_chunk(transaction, task).await?,
    };
    let Some(gate) = gate else {
        return Ok(Stop::drop("the task was withdrawn before it was accepted"));
    };
    match gate.state {
        TaskState::Created => {
            let reason =
                "the task's acceptance was interrupted before all of its records were queued";
            fail_unaccepted_task(transaction, task, reason).await?;
            tracing::warn!(task_id = %task.task_id, "task found half-accepted; reported as failed");
            return Ok(Passage::Stopped(Stop {
                disposition: ChunkDisposition::Dropped("the task's acceptance was interrupted"),
                commit: true,
            }));
        }
        TaskState::Completed => return Ok(Stop::drop("the task is already completed")),
        TaskState::Queued | TaskState::Processing => {}
    }
    // Checked under the task's lock: a chunk being replayed has its ledger row removed by a
    // transaction that holds the task row until it commits.
    if chunk_applied(transaction, task, chunk_no).await? {
        return Ok(Passage::Stopped(Stop {
            disposition: ChunkDisposition::Duplicate,
            commit: false,
        }));
    }
    Ok(Passage::Open {
        canceled: gate.canceled,
    })
}

/// Whether every chunk before `chunk_no` of an in-order task is applied (checked under the
/// exclusive row lock).
pub async fn in_turn(
    transaction: &Transaction<'_>,
    task: TaskKey,
    chunk_no: i32,
) -> Result<bool, ChunkError> {
    Ok(predecessors_applied(transaction, task, chunk_no).await?)
}
