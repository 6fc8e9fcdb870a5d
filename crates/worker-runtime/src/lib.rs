//! What every worker shares: the consume loop with reconnects and bounded concurrency, the
//! chunk transaction (effects + outcomes + counters + ledger row, then ack), retries with
//! backoff, dead-lettering with `PROCESSING_FAILED`, and graceful shutdown. A task type only
//! implements [`TaskHandler`].

mod apply;
mod consume;
mod events;
mod outcomes;
mod plan;
mod relay;
mod settings;
mod stall;

pub use apply::{ChunkDisposition, ChunkError, apply_chunk, apply_chunk_with_hook, fail_chunk};
pub use consume::run_worker;
pub use outcomes::OutcomeWriter;
pub use relay::{relay_round, run_event_relay};
pub use settings::{CrashPoint, WorkerSettings};
pub use stall::{check_stalled_tasks, run_stall_detector};

use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::future::Future;
use userhub_domain::{FieldError, TaskAction, TaskId, TaskOptions};
use userhub_store::exports::ExportKind;
use userhub_store::{StoreError, Transaction};

/// Which chunk is being applied.
#[derive(Debug, Clone)]
pub struct ChunkContext {
    pub task_id: TaskId,
    pub domain_id: i64,
    pub domain: String,
    pub chunk_no: u32,
    /// The task's options (EXT), e.g. an upsert's `match_by`.
    pub options: TaskOptions,
}

/// A record that passed the gateway's checks and awaits processing.
#[derive(Debug)]
pub struct WorkRecord {
    pub index: u32,
    pub line: Option<u32>,
    pub input: Box<RawValue>,
}

impl WorkRecord {
    /// The record's JSON, or `INVALID_JSON` if it cannot be read as a value (e.g. too deep).
    pub fn value(&self) -> Result<Value, Vec<FieldError>> {
        serde_json::from_str(self.input.get()).map_err(|error| {
            vec![FieldError::new(
                "",
                userhub_domain::ErrorCode::InvalidJson,
                error.to_string(),
            )]
        })
    }
}

/// The outcome of one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// The fields of its results-file entry (besides `index` and `line`).
    Succeeded(Map<String, Value>),
    /// The same, already rendered as a JSON object text (exports build it in SQL).
    SucceededJson(String),
    Failed(Vec<FieldError>),
}

/// One task type's processing of a chunk, inside the chunk's transaction.
pub trait TaskHandler: Send + Sync + 'static {
    fn action(&self) -> TaskAction;

    /// Applies `records` with set-based SQL and returns one outcome per record, in order.
    /// Must not commit: the runtime commits effects, outcomes and progress together.
    fn apply<'a>(
        &'a self,
        transaction: &'a Transaction<'a>,
        chunk: &'a ChunkContext,
        records: &'a [WorkRecord],
    ) -> impl Future<Output = Result<Vec<Outcome>, StoreError>> + Send + 'a;

    /// For export task types: what an export selector reads. `None`: selectors are not
    /// supported by this task type.
    fn export_kind(&self) -> Option<ExportKind> {
        None
    }
}
