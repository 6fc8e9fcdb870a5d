//! Tasks from a file read as a stream (an upload) rather than from records in memory. The file
//! is read twice: once to count its records and plan its chunks (keeping only a key hash and a
//! size per record), and once to store each chunk's records as soon as the chunk is whole,
//! publishing them a batch at a time while the rest is read. Records that must share a chunk
//! may lie far apart in the file, so the second reading keeps open chunks in memory up to a
//! budget and, past it, reads the file once more per group of chunks.

mod passes;
mod store;

use super::idempotency::{self, Idempotency};
use super::{Created, Intake, Submitted, Submitter, assign_chunks, replay};
use crate::error::TaskError;
use crate::intake::ChunkLimits;
use crate::intake::validate::KeyGrouper;
use std::future::Future;
use userhub_domain::record::is_selector;
use userhub_domain::record::raw::{PayloadFormat, RawRecord, RecordContent};
use userhub_domain::{TaskAction, TaskKey, TaskOptions, TaskState};
use userhub_store::Transaction;

/// Reads a file's records from its start.
pub trait RecordReader: Send {
    type Error: From<TaskError> + Send;
    /// The next records in input order (their `index` counting from 0), `None` at the end.
    fn next_records(
        &mut self,
    ) -> impl Future<Output = Result<Option<Vec<RawRecord>>, Self::Error>> + Send;
    /// The layout the file turned out to have (once the end is reached).
    fn format(&self) -> PayloadFormat;
}

/// A file whose records become one task; it reads the same every time it is opened.
pub trait RecordSource: Sync {
    type Error: From<TaskError> + Send;
    type Reader: RecordReader<Error = Self::Error>;
    /// Starts reading the file from its first byte.
    fn open(&self) -> impl Future<Output = Result<Self::Reader, Self::Error>> + Send;
    /// Marks the file used by `task`, or refuses (the file is gone, incomplete or already a
    /// task). This commits before the file is read to store its chunks, so that no other task
    /// claims it meanwhile; withdrawing the task frees it again.
    fn claim(
        &self,
        transaction: &Transaction<'_>,
        task: TaskKey,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
    /// Lets go of the file's bytes, in the transaction that marks the task `queued` (its chunks
    /// hold every record by then).
    fn consumed(
        &self,
        transaction: &Transaction<'_>,
    ) -> impl Future<Output = Result<(), Self::Error>> + Send;
}

/// A task to make of a file: what to do with its records, and the file.
#[derive(Debug)]
pub struct StreamedTask<S> {
    pub action: TaskAction,
    pub options: TaskOptions,
    /// What names the file for `Idempotency-Key` (its content cannot change).
    pub source_id: String,
    pub source: S,
}

/// What the first reading learnt: how many records, in which chunks.
#[derive(Debug)]
pub(crate) struct FilePlan {
    pub format: PayloadFormat,
    pub total: usize,
    /// Each chunk's record indexes, increasing.
    pub chunks: Vec<Vec<usize>>,
    /// Each record's size in memory, by index.
    pub sizes: Vec<u32>,
}

/// Reads the file once: checks what the gateway checks of records, groups them and cuts chunks.
async fn plan_file<S: RecordSource>(
    source: &S,
    action: TaskAction,
    options: &TaskOptions,
    limits: ChunkLimits,
) -> Result<FilePlan, S::Error> {
    let export = matches!(
        action,
        TaskAction::GetCoreProfiles | TaskAction::GetAppProfiles
    );
    let mut grouper = KeyGrouper::new(action, options.match_by.as_ref());
    let threads = std::thread::available_parallelism().map_or(1, std::num::NonZero::get);
    let mut sizes: Vec<u32> = Vec::new();
    let mut reader = source.open().await?;
    while let Some(records) = reader.next_records().await? {
        let hashes = grouper.hashes_of(&records, threads);
        for (record, hashes) in records.iter().zip(&hashes) {
            let size = match &record.content {
                RecordContent::Json(json) => {
                    if export && is_selector(json.get()) {
                        return Err(TaskError::SelectorNotAlone.into());
                    }
                    json.get().len()
                }
                RecordContent::Broken { raw, .. } => raw.len(),
            };
            grouper.push_hashes(hashes);
            sizes.push(u32::try_from(size).unwrap_or(u32::MAX));
        }
    }
    let keys = grouper.finish();
    let chunks = assign_chunks(
        keys.into_iter()
            .zip(sizes.iter().map(|&size| size as usize)),
        limits,
    );
    Ok(FilePlan {
        format: reader.format(),
        total: sizes.len(),
        chunks,
        sizes,
    })
}

impl Intake {
    /// Accepts the records of `task`'s file as one task of `submitter`'s domain, reading the file
    /// as a stream. `on_recorded` learns the task once its row exists (`created`); when this
    /// returns, every chunk is stored and confirmed and the task is `queued`.
    pub async fn submit_stream<S: RecordSource>(
        &self,
        submitter: &Submitter,
        task: StreamedTask<S>,
        idempotency_key: Option<String>,
        on_recorded: impl FnOnce(Created) + Send,
    ) -> Result<Submitted, S::Error> {
        let StreamedTask {
            action,
            options,
            source_id,
            source,
        } = task;
        if action.is_write() && submitter.read_only {
            return Err(TaskError::ReadOnlyKey(action.to_string()).into());
        }
        let idempotency = idempotency_key
            .filter(|_| !options.dry_run)
            .map(|key| Idempotency {
                key,
                request_hash: idempotency::upload_request_hash(action, &options, &source_id),
            });
        if let Some(idempotency) = &idempotency
            && let Some(replayed) = replay(submitter, idempotency, action).await?
        {
            return Ok(replayed);
        }
        let started = std::time::Instant::now();
        let limits = ChunkLimits {
            max_records: self.settings.chunk_records.max(1),
            max_bytes: self.settings.chunk_bytes.max(1),
        };
        let plan = plan_file(&source, action, &options, limits).await?;
        let planned = started.elapsed();
        let accepting = store::StreamAcceptance {
            intake: self,
            submitter,
            action,
            options: &options,
            plan: &plan,
            idempotency,
        };
        let total = plan.total as i64;
        let accepted = accepting
            .run(&source, move |task_id| {
                on_recorded(Created {
                    task_id,
                    state: TaskState::Created,
                    action,
                    total,
                });
            })
            .await?;
        let chunks = i32::try_from(plan.chunks.len()).unwrap_or(i32::MAX);
        self.count_accepted(submitter, action, accepted.task_id, total, chunks);
        Ok(Submitted {
            created: Created {
                task_id: accepted.task_id,
                state: accepted.state,
                action,
                total: plan.total as i64,
            },
            replayed: false,
            timings: super::AcceptTimings {
                validate: planned,
                ..accepted.timings
            },
        })
    }
}
