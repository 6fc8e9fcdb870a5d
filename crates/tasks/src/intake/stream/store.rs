//! The durable acceptance of a task from a file, as `accept` does it for records in memory: the
//! task row is committed as `created`; then, holding its lock, the file is claimed, each chunk's
//! records are stored as soon as the chunk is whole, a claim check per chunk is published with
//! confirms, and the task becomes `queued` in the same transaction. Any failure withdraws the
//! task and leaves the file unclaimed.

use super::passes::{chunk_of_records, chunk_spans, plan_passes};
use super::{FilePlan, RecordReader, RecordSource};
use crate::error::TaskError;
use crate::intake::accept::{insert_with_fresh_id, publish};
use crate::intake::idempotency::Idempotency;
use crate::intake::messages::{TaskHeader, reference_messages, stored_chunk};
use crate::intake::{AcceptTimings, Accepted, Intake, Submitter, TaskToAccept};
use crate::transport::{TransportError, priority_for_backlog};
use std::ops::Range;
use std::time::Instant;
use userhub_domain::manifest::ChunkManifest;
use userhub_domain::record::raw::RawRecord;
use userhub_domain::{TaskAction, TaskId, TaskKey, TaskOptions, TaskState};
use userhub_store::chunk_bodies::store_numbered_bodies;
use userhub_store::tasks::{delete_task, domain_backlog, lock_task, mark_queued};
use userhub_store::{StoreError, Transaction};

/// Stored chunk bodies are written in batches of about this many bytes.
const BODY_BATCH_BYTES: usize = 8 * 1024 * 1024;

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

/// Chunk bodies waiting to be written.
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

    async fn write(
        &mut self,
        transaction: &Transaction<'_>,
        task: TaskKey,
    ) -> Result<(), StoreError> {
        if !self.bodies.is_empty() {
            store_numbered_bodies(transaction, task, &self.chunk_nos, &self.bodies).await?;
        }
        *self = BodyBatch::default();
        Ok(())
    }
}

impl StreamAcceptance<'_> {
    fn task_row(&self) -> TaskToAccept {
        let manifest = ChunkManifest::from_chunks(
            self.plan
                .chunks
                .iter()
                .map(|indexes| indexes.iter().map(|&at| at as u32).collect::<Vec<u32>>())
                .collect::<Vec<_>>()
                .iter()
                .map(Vec::as_slice),
        );
        TaskToAccept {
            domain_id: self.submitter.domain_id,
            action: self.action,
            input_format: self.plan.format.as_str(),
            total: self.plan.total as i64,
            chunks_total: self.plan.chunks.len().max(1) as i32,
            manifest,
            idempotency: self.idempotency.clone(),
            options: self.options.clone(),
            parent_task_id: None,
        }
    }

    /// Accepts the task; `on_recorded` learns its id once the row exists.
    pub async fn run<S: RecordSource>(
        &self,
        source: &S,
        on_recorded: impl FnOnce(TaskId) + Send,
    ) -> Result<Accepted, S::Error> {
        let transport = self.intake.transport.as_ref();
        if !transport.is_up() {
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
        let key = TaskKey::new(self.submitter.domain_id, task_id);
        let mut timings = AcceptTimings {
            record: started.elapsed(),
            ..AcceptTimings::default()
        };
        match self.fill(&mut client, key, source, &mut timings).await {
            Ok(state) => Ok(Accepted {
                task_id,
                state,
                timings,
            }),
            Err(error) => {
                let _ = delete_task(&*client, key).await;
                Err(error)
            }
        }
    }

    /// Claims the file, stores every chunk, publishes, and marks the task queued.
    async fn fill<S: RecordSource>(
        &self,
        client: &mut userhub_store::PooledClient,
        key: TaskKey,
        source: &S,
        timings: &mut AcceptTimings,
    ) -> Result<TaskState, S::Error> {
        let transaction = client
            .transaction()
            .await
            .map_err(|error| store_error::<S::Error>(StoreError::from(error)))?;
        lock_task(&transaction, key)
            .await
            .map_err(store_error::<S::Error>)?;
        source.claim(&transaction, key).await?;
        let backlog = domain_backlog(&transaction, key.domain_id)
            .await
            .map_err(store_error::<S::Error>)?;
        let step = Instant::now();
        self.store_chunks(&transaction, key, source).await?;
        timings.store = step.elapsed();
        let header = TaskHeader {
            task_id: key.task_id,
            domain_id: key.domain_id,
            domain: &self.submitter.domain,
            action: self.action,
            options: self.options,
        };
        let messages = reference_messages(header, self.plan.chunks.len() as u32)
            .map_err(TaskError::ChunkEncoding)?;
        let step = Instant::now();
        let priority = priority_for_backlog(backlog);
        let published = publish(
            self.intake.transport.as_ref(),
            self.action,
            key,
            priority,
            messages,
        )
        .await;
        timings.publish = step.elapsed();
        if let Err(error) = published {
            // Workers that already received a chunk wait on our lock and then find no task.
            if delete_task(&transaction, key).await.is_ok() {
                let _ = transaction.commit().await;
            }
            return Err(TaskError::from(error).into());
        }
        let step = Instant::now();
        let state = mark_queued(&transaction, key)
            .await
            .map_err(store_error::<S::Error>)?;
        transaction
            .commit()
            .await
            .map_err(|error| store_error::<S::Error>(StoreError::from(error)))?;
        timings.queued = step.elapsed();
        Ok(state.unwrap_or(TaskState::Queued))
    }

    /// Reads the file as often as the memory budget needs and stores every chunk's records.
    async fn store_chunks<S: RecordSource>(
        &self,
        transaction: &Transaction<'_>,
        key: TaskKey,
        source: &S,
    ) -> Result<(), S::Error> {
        let plan = self.plan;
        let chunk_of = chunk_of_records(&plan.chunks, plan.total);
        let spans = chunk_spans(&plan.chunks, &plan.sizes);
        let budget = self.intake.settings.open_chunk_bytes.max(1);
        for pass in plan_passes(&chunk_of, &spans, &plan.sizes, budget) {
            self.store_pass(transaction, key, source, &chunk_of, pass)
                .await?;
        }
        Ok(())
    }

    /// One reading of the file, storing chunks `pass` as each becomes whole.
    async fn store_pass<S: RecordSource>(
        &self,
        transaction: &Transaction<'_>,
        key: TaskKey,
        source: &S,
        chunk_of: &[u32],
        pass: Range<usize>,
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
                if batch.bytes >= BODY_BATCH_BYTES {
                    batch
                        .write(transaction, key)
                        .await
                        .map_err(store_error::<S::Error>)?;
                }
            }
        }
        if chunks_left > 0 {
            return Err(TaskError::SourceChanged.into());
        }
        batch
            .write(transaction, key)
            .await
            .map_err(store_error::<S::Error>)?;
        Ok(())
    }
}
