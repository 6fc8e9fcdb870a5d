//! Intake: from parsed records to a committed task and its published chunks. The records are
//! validated (which share a chunk, whether it is an export by selector), an `Idempotency-Key`
//! is honoured, the records are grouped into chunks, and the task is accepted durably — its
//! row committed and every chunk confirmed by the transport — before the caller answers `201`.
//! Shared by the native API and the compatible endpoints.

mod accept;
mod chunking;
pub mod idempotency;
mod messages;
mod stream;
pub mod validate;

pub use accept::{AcceptTimings, Accepted, TaskToAccept, accept_task};
pub use chunking::{ChunkLimits, assign_chunks};
pub use messages::{RenderedTask, TaskHeader, chunk_messages, selector_message};
pub use stream::{RecordReader, RecordSource, StreamedTask};

use crate::error::TaskError;
use crate::transport::ChunkTransport;
use idempotency::{Idempotency, Prior};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use tracing::Instrument;
use userhub_domain::manifest::ChunkManifest;
use userhub_domain::record::raw::{PayloadFormat, RawRecord, RecordContent};
use userhub_domain::{DomainId, TaskAction, TaskId, TaskOptions, TaskState};
use userhub_store::TenantPool;
use userhub_telemetry::Metrics;
use validate::{Plan, Verdict, validate_records};

/// How tasks are cut into chunks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct IntakeSettings {
    /// Most records of one chunk.
    pub chunk_records: usize,
    /// Most bytes of one chunk's records.
    pub chunk_bytes: usize,
    /// A task from a file: most memory its open chunks may hold while the file is read to
    /// store them (past it, the file is read once more per group of chunks).
    pub open_chunk_bytes: usize,
    /// A task from a file: its chunks are stored and published in batches of about this many
    /// bytes, so that workers start on the first while the rest of the file is read.
    pub batch_bytes: usize,
    /// Fault tests only: the process dies after publishing, before the task is queued.
    pub crash_before_queued: bool,
}

/// Takes tasks: where their chunks go, how they are cut, what is counted.
#[derive(Clone)]
pub struct Intake {
    pub transport: Arc<dyn ChunkTransport>,
    pub settings: IntakeSettings,
    pub metrics: Metrics,
}

impl std::fmt::Debug for Intake {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Intake")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// Who submits a task: the domain, whether its key may write, and its connections.
#[derive(Debug, Clone)]
pub struct Submitter {
    pub domain_id: DomainId,
    pub domain: String,
    pub read_only: bool,
    pub database: TenantPool,
}

/// A task's request, parsed: what to do, with which options, and its records.
#[derive(Debug)]
pub struct Submission {
    pub action: TaskAction,
    pub options: TaskOptions,
    pub format: PayloadFormat,
    pub records: Vec<RawRecord>,
}

/// What a `201` reports.
#[derive(Debug, Clone, Copy)]
pub struct Created {
    pub task_id: TaskId,
    pub state: TaskState,
    pub action: TaskAction,
    pub total: i64,
}

/// An accepted task, and whether it is an idempotent repeat of an earlier request.
#[derive(Debug, Clone, Copy)]
pub struct Submitted {
    pub created: Created,
    pub replayed: bool,
    /// Where the time of accepting it went (zero for a replay).
    pub timings: AcceptTimings,
}

/// The chunks of a record-by-record task, as positions into the request's records.
fn plan_chunks(
    settings: &IntakeSettings,
    request: &Submission,
    verdicts: &[Verdict],
) -> Vec<Vec<usize>> {
    let sizes = request.records.iter().map(|record| match &record.content {
        RecordContent::Json(json) => json.get().len(),
        RecordContent::Broken { raw, .. } => raw.len(),
    });
    let limits = ChunkLimits {
        max_records: settings.chunk_records.max(1),
        max_bytes: settings.chunk_bytes.max(1),
    };
    assign_chunks(
        verdicts.iter().map(|verdict| verdict.key).zip(sizes),
        limits,
    )
}

impl Intake {
    /// Validates `request` and accepts it as a task of `submitter`'s domain: once this returns,
    /// the task row is committed and every chunk is confirmed by the transport.
    pub async fn submit(
        &self,
        submitter: &Submitter,
        request: Submission,
        idempotency_key: Option<String>,
    ) -> Result<Submitted, TaskError> {
        self.submit_child(submitter, request, idempotency_key, None)
            .await
    }

    /// [`Intake::submit`] for a task that retries (or reverts) task `parent_task_id`; its key
    /// starts with [`idempotency::RETRY_KEY_PREFIX`].
    pub async fn submit_child(
        &self,
        submitter: &Submitter,
        request: Submission,
        idempotency_key: Option<String>,
        parent_task_id: Option<TaskId>,
    ) -> Result<Submitted, TaskError> {
        let action = request.action;
        if action.is_write() && submitter.read_only {
            return Err(TaskError::ReadOnlyKey(action.to_string()));
        }
        let started = std::time::Instant::now();
        let plan = validate_records(action, request.options.match_by.as_ref(), &request.records)?;
        // A dry run writes nothing and must judge the data as it is now: its key is neither
        // recorded nor replayed, and stays free for the real run.
        let idempotency_key = idempotency_key.filter(|_| !request.options.dry_run);
        let idempotency = idempotency_key.map(|key| Idempotency {
            key,
            request_hash: idempotency::request_hash(action, &request.options, &request.records),
        });
        if let Some(idempotency) = &idempotency
            && let Some(replayed) = replay(submitter, idempotency, action).await?
        {
            return Ok(replayed);
        }
        let chunks = match &plan {
            // A selector's size is known once a worker has planned the export.
            Plan::Selector(_) => Vec::new(),
            Plan::Records(verdicts) => plan_chunks(&self.settings, &request, verdicts),
        };
        let task = task_to_accept(
            submitter,
            &request,
            &plan,
            &chunks,
            idempotency,
            parent_task_id,
        );
        let render = |task_id: TaskId| {
            let header = TaskHeader {
                task_id,
                domain_id: submitter.domain_id,
                domain: &submitter.domain,
                action,
                options: &request.options,
            };
            render_messages(header, &request.records, &plan, &chunks)
        };
        let validated = started.elapsed();
        let accepted = self.accept(submitter, &task, render).await?;
        Ok(Submitted {
            created: Created {
                task_id: accepted.task_id,
                state: accepted.state,
                action,
                total: task.total,
            },
            replayed: false,
            timings: AcceptTimings {
                validate: validated,
                ..accepted.timings
            },
        })
    }

    /// Accepts `task` durably, publishing what `render` makes of it, and counts and logs it.
    async fn accept(
        &self,
        submitter: &Submitter,
        task: &TaskToAccept,
        render: impl Fn(TaskId) -> Result<RenderedTask, TaskError>,
    ) -> Result<Accepted, TaskError> {
        let action = task.action;
        let span = tracing::info_span!(
            "accept_task",
            domain = %submitter.domain,
            %action,
            records = task.total,
            task_id = tracing::field::Empty,
        );
        let accepted = accept_task(
            &submitter.database,
            self.transport.as_ref(),
            task,
            self.settings.crash_before_queued,
            render,
        )
        .instrument(span.clone())
        .await?;
        span.record("task_id", tracing::field::display(accepted.task_id));
        self.count_accepted(
            submitter,
            action,
            accepted.task_id,
            task.total,
            task.chunks_total,
        );
        Ok(accepted)
    }

    /// Counts and logs an accepted task.
    fn count_accepted(
        &self,
        submitter: &Submitter,
        action: TaskAction,
        task_id: TaskId,
        records: i64,
        chunks: i32,
    ) {
        let labels = userhub_telemetry::ActionLabels {
            action: action.as_str().to_owned(),
        };
        self.metrics.tasks_accepted.get_or_create(&labels).inc();
        tracing::info!(
            %task_id,
            domain = %submitter.domain,
            %action,
            records,
            chunks,
            "task accepted"
        );
    }
}

/// The task an earlier request with the same `Idempotency-Key` made, if there is one.
async fn replay(
    submitter: &Submitter,
    idempotency: &Idempotency,
    action: TaskAction,
) -> Result<Option<Submitted>, TaskError> {
    let prior = idempotency::check(&submitter.database, submitter.domain_id, idempotency).await?;
    let Prior::Replay(task) = prior else {
        return Ok(None);
    };
    Ok(Some(Submitted {
        created: Created {
            task_id: task.id,
            state: task.state,
            action,
            total: task.total,
        },
        replayed: true,
        timings: AcceptTimings::default(),
    }))
}

/// The task row to commit for `request`, cut into `chunks`.
fn task_to_accept(
    submitter: &Submitter,
    request: &Submission,
    plan: &Plan,
    chunks: &[Vec<usize>],
    idempotency: Option<Idempotency>,
    parent_task_id: Option<TaskId>,
) -> TaskToAccept {
    let (total, manifest) = match plan {
        Plan::Selector(_) => (0, ChunkManifest::from_chunks([&[][..]])),
        Plan::Records(_) => {
            let indexes: Vec<Vec<u32>> = chunks
                .iter()
                .map(|positions| {
                    positions
                        .iter()
                        .map(|&at| request.records[at].index)
                        .collect()
                })
                .collect();
            let manifest = ChunkManifest::from_chunks(indexes.iter().map(Vec::as_slice));
            (request.records.len() as i64, manifest)
        }
    };
    TaskToAccept {
        domain_id: submitter.domain_id,
        action: request.action,
        input_format: request.format.as_str(),
        total,
        chunks_total: chunks.len().max(1) as i32,
        manifest,
        idempotency,
        options: request.options.clone(),
        parent_task_id,
        accepted_in_batches: false,
    }
}

/// The message bodies of the task: one per chunk, or the selector's single message.
fn render_messages(
    header: TaskHeader<'_>,
    records: &[RawRecord],
    plan: &Plan,
    chunks: &[Vec<usize>],
) -> Result<RenderedTask, TaskError> {
    let rendered = match plan {
        Plan::Selector(selector) => selector_message(header, selector),
        Plan::Records(verdicts) => chunk_messages(header, records, verdicts, chunks),
    };
    rendered.map_err(TaskError::ChunkEncoding)
}
