//! The task protocol with PostgreSQL and the in-memory transport: a domain, the intake, and
//! consume loops for the handlers a test names. A test submits records as the native API
//! would after decoding a body, waits for the task and reads its outcomes, controls it (cancel,
//! retry, revert), or drives deliveries itself.

use super::TestDatabase;
use crate::control::{self, CancelRequested, Retried};
use crate::error::TaskError;
use crate::intake::{Intake, IntakeSettings, Submission, Submitted, Submitter};
use crate::readback::{Awaited, Finished, RecordOutcome, await_task};
use crate::transport::memory::InMemoryTransport;
use crate::{TaskHandler, WorkerSettings, run_worker};
use serde_json::value::RawValue;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use userhub_domain::record::raw::{PayloadFormat, RawRecord, RecordContent};
use userhub_domain::{DomainId, ErrorCode, FieldError, TaskAction, TaskId, TaskOptions};
use userhub_store::{Pool, SharedPool};
use userhub_telemetry::Metrics;

/// How a test's protocol is set up.
#[derive(Debug, Clone)]
pub struct ProtocolOptions {
    /// Most records of one chunk (small, so that tasks have several).
    pub chunk_records: usize,
    /// Chunks a consume loop applies at once.
    pub prefetch: usize,
    /// A task from a file: bytes of chunks stored and published at a time.
    pub batch_bytes: usize,
    pub worker: WorkerSettings,
}

impl Default for ProtocolOptions {
    fn default() -> Self {
        ProtocolOptions {
            chunk_records: 3,
            prefetch: 4,
            batch_bytes: 8 << 20,
            worker: WorkerSettings {
                shutdown_grace_ms: 2_000,
                export_chunk_records: 3,
                ..WorkerSettings::default()
            },
        }
    }
}

/// One test's protocol: its database, domain, transport, intake and consume loops.
pub struct Protocol {
    pub database: TestDatabase,
    pub transport: InMemoryTransport,
    pub intake: Intake,
    /// The test domain's writer.
    pub submitter: Submitter,
    settings: WorkerSettings,
    shutdown: CancellationToken,
    workers: JoinSet<()>,
}

impl Protocol {
    /// A protocol with the default options.
    pub async fn start() -> Protocol {
        Protocol::start_with(ProtocolOptions::default()).await
    }

    pub async fn start_with(options: ProtocolOptions) -> Protocol {
        let database = TestDatabase::create().await;
        let client = database.pool.get().await.expect("a connection");
        let domain = userhub_store::domains::create_domain(&client, "protocol-test")
            .await
            .expect("create the test domain");
        drop(client);
        let retry_delays = vec![Duration::from_millis(50), Duration::from_millis(100)];
        let transport = InMemoryTransport::new(retry_delays, options.prefetch);
        let intake = Intake {
            transport: Arc::new(transport.clone()),
            settings: IntakeSettings {
                chunk_records: options.chunk_records,
                chunk_bytes: 1 << 20,
                open_chunk_bytes: 64 << 20,
                batch_bytes: options.batch_bytes,
                crash_before_queued: false,
            },
            metrics: Metrics::new(),
        };
        let submitter = Submitter {
            domain_id: domain.id,
            domain: domain.name.clone(),
            read_only: false,
            database: SharedPool::new(database.pool.clone(), 100).for_domain(domain.id),
        };
        Protocol {
            database,
            transport,
            intake,
            submitter,
            settings: options.worker,
            shutdown: CancellationToken::new(),
            workers: JoinSet::new(),
        }
    }

    pub fn pool(&self) -> &Pool {
        &self.database.pool
    }

    pub fn domain_id(&self) -> DomainId {
        self.submitter.domain_id
    }

    /// Starts a consume loop applying `handler`'s task type.
    pub fn run<H: TaskHandler>(&mut self, handler: H) {
        self.workers.spawn(run_worker(
            Arc::new(handler),
            self.database.pool.clone(),
            None,
            Arc::new(self.transport.clone()),
            self.settings.clone(),
            Metrics::new(),
            self.shutdown.clone(),
        ));
    }

    /// Stops every consume loop (in-flight chunks finish first).
    pub async fn stop_workers(&mut self) {
        self.shutdown.cancel();
        while self.workers.join_next().await.is_some() {}
        self.shutdown = CancellationToken::new();
    }

    /// Submits one record per line of `lines` (a line that is not JSON is a broken record).
    pub async fn submit(
        &self,
        action: TaskAction,
        options: TaskOptions,
        lines: &str,
    ) -> Result<Submitted, TaskError> {
        let request = Submission {
            action,
            options,
            format: PayloadFormat::JsonLines,
            records: records(lines),
        };
        self.intake.submit(&self.submitter, request, None).await
    }

    /// [`Protocol::submit`] that must be accepted; the task's id.
    pub async fn accepted(&self, action: TaskAction, options: TaskOptions, lines: &str) -> TaskId {
        self.submit(action, options, lines)
            .await
            .expect("the task is accepted")
            .created
            .task_id
    }

    /// Waits (up to 30 s) for the task to complete and reads every record's outcome.
    pub async fn finished(&self, task_id: TaskId) -> Finished {
        let awaited = await_task(
            &self.submitter.database,
            self.submitter.domain_id,
            task_id,
            Duration::from_secs(30),
            100_000,
        )
        .await
        .expect("the task can be read");
        match awaited {
            Awaited::Finished(finished) => finished,
            Awaited::Running(state) => panic!("task {task_id} is still {}", state.as_str()),
            Awaited::TooLarge => panic!("task {task_id} is too large to read back"),
        }
    }

    /// Runs a task to its end: submits it and returns its outcomes.
    pub async fn run_task(
        &self,
        action: TaskAction,
        options: TaskOptions,
        lines: &str,
    ) -> Finished {
        let task_id = self.accepted(action, options, lines).await;
        self.finished(task_id).await
    }

    pub async fn cancel(&self, task_id: TaskId) -> Result<CancelRequested, TaskError> {
        control::cancel_own(&self.submitter, task_id).await
    }

    pub async fn retry(&self, task_id: TaskId, all_failed: bool) -> Result<Retried, TaskError> {
        control::retry(&self.intake, &self.submitter, task_id, all_failed).await
    }

    pub async fn revert(&self, task_id: TaskId) -> Result<Submitted, TaskError> {
        control::revert(&self.intake, &self.submitter, task_id).await
    }

    /// Runs `sql` and returns the first column of its first row as text.
    pub async fn query_text(&self, sql: &str) -> Option<String> {
        let client = self.database.pool.get().await.expect("a connection");
        let row = client.query_opt(sql, &[]).await.expect("the query runs")?;
        row.get(0)
    }
}

impl Drop for Protocol {
    fn drop(&mut self) {
        self.shutdown.cancel();
        self.workers.abort_all();
    }
}

/// The records of `lines`, one per non-blank line, as a JSONL body decodes them.
pub fn records(lines: &str) -> Vec<RawRecord> {
    lines
        .lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .enumerate()
        .map(|(index, (line_index, line))| {
            let line = line.trim();
            let content = match RawValue::from_string(line.to_owned()) {
                Ok(json) => RecordContent::Json(json),
                Err(error) => RecordContent::Broken {
                    raw: line.to_owned(),
                    error: FieldError::new("", ErrorCode::InvalidJson, error.to_string()),
                },
            };
            RawRecord {
                index: index as u32,
                line: Some(line_index as u32 + 1),
                content,
            }
        })
        .collect()
}

/// Test helpers on a finished task's outcomes.
pub trait OutcomesExt {
    /// Each record's outcome as `Ok(results line)` or `Err(first error code)`, by index.
    fn summary(&self) -> Vec<Result<serde_json::Value, ErrorCode>>;
    /// The errors-file lines, by index.
    fn failures(&self) -> Vec<serde_json::Value>;
}

impl OutcomesExt for Finished {
    fn summary(&self) -> Vec<Result<serde_json::Value, ErrorCode>> {
        self.outcomes
            .iter()
            .map(|outcome| match outcome {
                Some(RecordOutcome::Succeeded(entry)) => {
                    Ok(serde_json::from_str(entry.line.get()).expect("a results line is JSON"))
                }
                Some(RecordOutcome::Failed(entry)) => Err(entry.members.errors[0].code),
                None => panic!("a record of a completed task has no outcome"),
            })
            .collect()
    }

    fn failures(&self) -> Vec<serde_json::Value> {
        self.outcomes
            .iter()
            .filter_map(|outcome| match outcome {
                Some(RecordOutcome::Failed(entry)) => {
                    Some(serde_json::from_str(entry.line.get()).expect("an errors line is JSON"))
                }
                _ => None,
            })
            .collect()
    }
}
