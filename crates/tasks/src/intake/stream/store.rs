//! The durable acceptance of a task from a file, in batches: the task row is committed as
//! `created` (marked accepted in batches) and the file claimed; then each batch of whole chunks
//! is stored in a transaction of its own and its claim checks published with confirms, so that
//! workers apply the first chunks while the rest of the file is read; the last transaction drops
//! the file's bytes and marks the task `queued` (unless workers moved it on). A failure before
//! any chunk was applied withdraws the task and frees the file; after, the chunks not yet
//! queued are failed with `PROCESSING_FAILED` and the task completes with the rest.

use super::passes::{chunk_of_records, chunk_spans, plan_passes};
use super::{FilePlan, RecordReader, RecordSource};
use crate::apply::ChunkError;
use crate::error::TaskError;
use crate::intake::accept::{insert_with_fresh_id, publish};
use crate::intake::idempotency::Idempotency;
use crate::intake::messages::{TaskHeader, reference_message, stored_chunk};
use crate::intake::{AcceptTimings, Accepted, Intake, Submitter, TaskToAccept};
use crate::lost::{Loss, fail_chunks};
use crate::transport::{TransportError, priority_for_backlog};
use std::ops::Range;
use std::time::{Duration, Instant};
use userhub_domain::manifest::ChunkManifest;
use userhub_domain::record::raw::RawRecord;
use userhub_domain::{TaskAction, TaskId, TaskKey, TaskOptions, TaskState};
use userhub_store::chunk_bodies::store_numbered_bodies;
use userhub_store::tasks::{
    delete_task, domain_backlog, lock_task_state, mark_queued, note_acceptance_progress,
    set_failure_reason,
};
use userhub_store::{PooledClient, StoreError};

/// One task being accepted from a file.
pub(super) struct StreamAcceptance<'a> {
    pub intake: &'a Intake,
    pub submitter: &'a Submitter,
    pub action: TaskAction,
    pub options: &'a TaskOptions,
    pub plan: &'a FilePlan,
    pub idempotency: Option<Idempotency>,
}

fn store_error<E: From<TaskError>>(error: StoreError) -> E {
    E::from(TaskError::from(error))
}

/// Where the acceptance is: the task, the priority of its messages, and which chunks are queued.
struct Filling {
    key: TaskKey,
    priority: u8,
    /// Whether each chunk's claim check is confirmed by the broker.
    queued: Vec<bool>,
    /// When the stall detector last learnt that the acceptance goes on.
    noted: Instant,
    timings: AcceptTimings,
}

/// How often an acceptance in batches tells the stall detector it goes on (far below its
/// timeout, five minutes by default).
const NOTE_PROGRESS_EVERY: Duration = Duration::from_secs(1);

/// Whole chunks waiting to be stored and published.
#[derive(Default)]
struct BodyBatch {
    chunk_nos: Vec<i32>,
    bodies: Vec<Vec<u8>>,
    bytes: usize,
}

impl BodyBatch {
    fn push(&mut self, chunk_no: usize, body: Vec<u8>) {
        self.bytes += body.len();
        self.chunk_nos.push(chunk_no as i32);
        self.bodies.push(body);
    }
}

impl StreamAcceptance<'_> {
    fn manifest(&self) -> ChunkManifest {
        let chunks: Vec<Vec<u32>> = self
            .plan
            .chunks
            .iter()
            .map(|indexes| indexes.iter().map(|&at| at as u32).collect())
            .collect();
        ChunkManifest::from_chunks(chunks.iter().map(Vec::as_slice))
    }

    fn task_row(&self) -> TaskToAccept {
        TaskToAccept {
            domain_id: self.submitter.domain_id,
            action: self.action,
            input_format: self.plan.format.as_str(),
            total: self.plan.total as i64,
            chunks_total: self.chunks_total() as i32,
            manifest: self.manifest(),
            idempotency: self.idempotency.clone(),
            options: self.options.clone(),
            parent_task_id: None,
            accepted_in_batches: true,
        }
    }

    fn chunks_total(&self) -> usize {
        self.plan.chunks.len().max(1)
    }

    /// Accepts the task; `on_recorded` learns its id once the row exists.
    pub async fn run<S: RecordSource>(
        &self,
        source: &S,
        on_recorded: impl FnOnce(TaskId) + Send,
    ) -> Result<Accepted, S::Error> {
        if !self.intake.transport.is_up() {
            return Err(TaskError::Transport(TransportError::Unavailable).into());
        }
        let started = Instant::now();
        let mut client = self
            .submitter
            .database
            .get()
            .await
            .map_err(TaskError::from)?;
        let task_id = insert_with_fresh_id(&client, &self.task_row()).await?;
        on_recorded(task_id);
        let mut filling = Filling {
            key: TaskKey::new(self.submitter.domain_id, task_id),
            priority: 0,
            queued: vec![false; self.plan.chunks.len()],
            noted: started,
            timings: AcceptTimings {
                record: started.elapsed(),
                ..AcceptTimings::default()
            },
        };
        match self.fill(&mut client, source, &mut filling).await {
            Ok(state) => Ok(Accepted {
                task_id,
                state,
                timings: filling.timings,
            }),
            Err(error) => match self.after_failure(&mut client, &filling).await {
                // Workers applied some of its chunks: the task stands, with the rest failed.
                Some(state) => Ok(Accepted {
                    task_id,
                    state,
                    timings: filling.timings,
                }),
                None => Err(error),
            },
        }
    }

    /// Claims the file, stores and publishes every chunk, and marks the task queued.
    async fn fill<S: RecordSource>(
        &self,
        client: &mut PooledClient,
        source: &S,
        filling: &mut Filling,
    ) -> Result<TaskState, S::Error> {
        let key = filling.key;
        let transaction = client.transaction().await.map_err(StoreError::from);
        let transaction = transaction.map_err(store_error::<S::Error>)?;
        source.claim(&transaction, key).await?;
        let backlog = domain_backlog(&transaction, key.domain_id).await;
        filling.priority = priority_for_backlog(backlog.map_err(store_error::<S::Error>)?);
        transaction
            .commit()
            .await
            .map_err(|error| store_error::<S::Error>(StoreError::from(error)))?;
        self.store_chunks(client, source, filling).await?;
        let step = Instant::now();
        let transaction = client.transaction().await.map_err(StoreError::from);
        let transaction = transaction.map_err(store_error::<S::Error>)?;
        source.consumed(&transaction).await?;
        let state = mark_queued(&transaction, key)
            .await
            .map_err(store_error::<S::Error>)?;
        transaction
            .commit()
            .await
            .map_err(|error| store_error::<S::Error>(StoreError::from(error)))?;
        filling.timings.queued = step.elapsed();
        Ok(state.unwrap_or(TaskState::Queued))
    }

    /// After a failure, under the task's lock (chunks being applied finish first): a task
    /// nothing of which was applied is withdrawn (`None`: workers that receive one of its
    /// chunks find no task); otherwise its chunks not queued are failed and its state returned.
    /// If even that fails, the stall detector ends the task later.
    async fn after_failure(
        &self,
        client: &mut PooledClient,
        filling: &Filling,
    ) -> Option<TaskState> {
        let ended = async {
            let transaction = client.transaction().await.map_err(StoreError::from)?;
            let gate = lock_task_state(&transaction, filling.key).await?;
            let state = match gate {
                Some(gate) if gate.state != TaskState::Created => gate.state,
                _ => {
                    delete_task(&transaction, filling.key).await?;
                    transaction.commit().await.map_err(StoreError::from)?;
                    return Ok(None);
                }
            };
            let never_queued = (0..self.plan.chunks.len())
                .filter(|&chunk_no| !filling.queued[chunk_no])
                .map(|chunk_no| chunk_no as i32);
            let reason = "the task's acceptance failed before these records were queued";
            let loss = Loss {
                message: "the record was never queued: the task's acceptance failed",
                reason,
            };
            let manifest = self.manifest();
            fail_chunks(
                &transaction,
                filling.key,
                Some(&manifest),
                never_queued,
                &loss,
            )
            .await?;
            let failure = format!("{reason}; they are reported as PROCESSING_FAILED");
            set_failure_reason(&transaction, filling.key, &failure).await?;
            transaction.commit().await.map_err(StoreError::from)?;
            Ok::<_, ChunkError>(Some(state))
        };
        match ended.await {
            Ok(state) => state,
            Err(error) => {
                tracing::warn!(task_id = %filling.key.task_id, %error, "a failed acceptance is left to the stall detector");
                None
            }
        }
    }

    /// Reads the file as often as the memory budget needs, storing and publishing every chunk.
    async fn store_chunks<S: RecordSource>(
        &self,
        client: &mut PooledClient,
        source: &S,
        filling: &mut Filling,
    ) -> Result<(), S::Error> {
        let plan = self.plan;
        let chunk_of = chunk_of_records(&plan.chunks, plan.total);
        let spans = chunk_spans(&plan.chunks, &plan.sizes);
        let budget = self.intake.settings.open_chunk_bytes.max(1);
        for pass in plan_passes(&chunk_of, &spans, &plan.sizes, budget) {
            self.store_pass(client, source, &chunk_of, pass, filling)
                .await?;
        }
        Ok(())
    }

    /// One reading of the file, storing and publishing chunks `pass` as they become whole.
    async fn store_pass<S: RecordSource>(
        &self,
        client: &mut PooledClient,
        source: &S,
        chunk_of: &[u32],
        pass: Range<usize>,
        filling: &mut Filling,
    ) -> Result<(), S::Error> {
        let chunks = &self.plan.chunks[pass.clone()];
        let mut open: Vec<Vec<RawRecord>> = chunks.iter().map(|_| Vec::new()).collect();
        let mut missing: Vec<usize> = chunks.iter().map(Vec::len).collect();
        let mut chunks_left = chunks.len();
        let mut batch = BodyBatch::default();
        let mut reader = source.open().await?;
        while chunks_left > 0 {
            let Some(records) = reader.next_records().await? else {
                break;
            };
            for record in records {
                let Some(&chunk) = chunk_of.get(record.index as usize) else {
                    continue;
                };
                let chunk = chunk as usize;
                if !pass.contains(&chunk) {
                    continue;
                }
                let at = chunk - pass.start;
                open[at].push(record);
                missing[at] -= 1;
                if missing[at] > 0 {
                    continue;
                }
                let body = stored_chunk(&std::mem::take(&mut open[at]))
                    .map_err(TaskError::ChunkEncoding)?;
                batch.push(chunk, body);
                chunks_left -= 1;
                if batch.bytes >= self.intake.settings.batch_bytes {
                    self.queue_batch(client, std::mem::take(&mut batch), filling)
                        .await?;
                }
            }
        }
        if chunks_left > 0 {
            return Err(TaskError::SourceChanged.into());
        }
        self.queue_batch(client, batch, filling).await?;
        Ok(())
    }

    /// Stores `batch` in a transaction of its own, then publishes its claim checks.
    async fn queue_batch(
        &self,
        client: &mut PooledClient,
        batch: BodyBatch,
        filling: &mut Filling,
    ) -> Result<(), TaskError> {
        if batch.bodies.is_empty() {
            return Ok(());
        }
        let key = filling.key;
        let step = Instant::now();
        let transaction = client.transaction().await.map_err(StoreError::from)?;
        store_numbered_bodies(&transaction, key, &batch.chunk_nos, &batch.bodies).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        // Apart from the batch's transaction, whose commit flushes megabytes: the task row's
        // lock is not held that long (workers count their chunks on it).
        if filling.noted.elapsed() >= NOTE_PROGRESS_EVERY {
            note_acceptance_progress(&*client, key).await?;
            filling.noted = Instant::now();
        }
        filling.timings.store += step.elapsed();
        let step = Instant::now();
        let header = TaskHeader {
            task_id: key.task_id,
            domain_id: key.domain_id,
            domain: &self.submitter.domain,
            action: self.action,
            options: self.options,
        };
        let chunks_total = self.chunks_total() as u32;
        let messages = batch
            .chunk_nos
            .iter()
            .map(|&chunk_no| {
                let chunk_no = chunk_no as u32;
                Ok((
                    chunk_no,
                    reference_message(&header, chunk_no, chunks_total)?,
                ))
            })
            .collect::<Result<Vec<_>, serde_json::Error>>()
            .map_err(TaskError::ChunkEncoding)?;
        let transport = self.intake.transport.as_ref();
        publish(transport, self.action, key, filling.priority, messages).await?;
        for &chunk_no in &batch.chunk_nos {
            filling.queued[chunk_no as usize] = true;
        }
        filling.timings.publish += step.elapsed();
        Ok(())
    }
}
