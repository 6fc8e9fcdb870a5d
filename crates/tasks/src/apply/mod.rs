//! Applying one chunk exactly once: the task's state is checked under a share lock, the
//! handler's effects, the per-record outcomes, the ledger row and the task counters are written
//! in one transaction, with the chunk's profile events in the outbox (and, for a revertible
//! task, its before-images); a chunk whose ledger row exists is skipped. A claim check takes
//! its stored records in that transaction, so they are gone exactly when the chunk is applied.

pub(crate) mod dry_run;
pub(crate) mod events;
pub(crate) mod outcomes;

use crate::envelope::{ReceivedChunk, decode_records, encode};
use crate::gate::{self, Passage, RowLock};
use crate::replica::ReplicaReads;
use crate::{ChunkContext, Outcome, TaskHandler, Work};
use dry_run::ResultLine;
use events::chunk_events;
use outcomes::ChunkOutcomes;
pub use outcomes::OutcomeWriter;
use serde_json::json;
use std::borrow::Cow;
use tracing::Instrument;
use userhub_domain::echo::EchoedInput;
use userhub_domain::events::ChunkEvents;
use userhub_domain::{ErrorCode, FieldError, TaskAction, TaskKey, TaskState};
use userhub_store::chunk_bodies::{read_body, take_body};
use userhub_store::deferred::defer_chunk;
use userhub_store::ledger::{ChunkEntry, insert_chunk};
use userhub_store::profile_events::insert_events;
use userhub_store::reverts::{capture_changes, record_created};
use userhub_store::tasks::{fail_task, record_chunk_progress, start_processing, state_for_chunk};
use userhub_store::{Pool, StoreError, Transaction};

/// What happened to a delivered chunk; every variant means "acknowledge it".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChunkDisposition {
    /// Applied now; `completed_task` if it was the task's last chunk.
    Applied {
        completed_task: bool,
        succeeded: u32,
        failed: u32,
    },
    /// A redelivery of a chunk already applied.
    Duplicate,
    /// A chunk of an in-order task that came before its predecessor: kept until then.
    Deferred,
    /// Nothing to do, with the reason (e.g. the task was withdrawn).
    Dropped(&'static str),
}

/// Why a chunk could not be applied this time.
#[derive(Debug, thiserror::Error)]
pub enum ChunkError {
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The handler broke its contract or the outcomes could not be encoded.
    #[error("chunk processing failed: {0}")]
    Processing(String),
    /// The chunk's outcomes could not be encoded.
    #[error(transparent)]
    Outcomes(#[from] outcomes::OutcomeError),
    /// Publishing chunks or events failed.
    #[error(transparent)]
    Transport(#[from] crate::transport::TransportError),
    /// The task was canceled while the chunk was applied: its work was rolled back, and the
    /// chunk is to be delivered again (it then completes as canceled).
    #[error("the task was canceled while the chunk was applied")]
    CanceledMeanwhile,
    /// A claim check whose records are not stored (nothing can apply it, ever).
    #[error("the records of chunk {0} are not stored")]
    RecordsMissing(u32),
}

impl ChunkError {
    pub fn is_transient(&self) -> bool {
        match self {
            ChunkError::Store(error) => error.is_transient(),
            ChunkError::Transport(_) | ChunkError::CanceledMeanwhile => true,
            ChunkError::Processing(_) | ChunkError::Outcomes(_) | ChunkError::RecordsMissing(_) => {
                false
            }
        }
    }
}

/// How the records of a chunk end: by the handler, or all with one error.
enum Resolution<'h, H> {
    Handler(&'h H),
    FailAll(FieldError),
}

/// The error of a record that a cancel request stopped before it was applied.
fn canceled_error() -> FieldError {
    FieldError::new(
        "",
        ErrorCode::Canceled,
        "the task was canceled before this record was applied",
    )
}

/// Applies a chunk through `handler`.
pub async fn apply_chunk<H: TaskHandler>(
    handler: &H,
    pool: &Pool,
    message: ReceivedChunk,
) -> Result<ChunkDisposition, ChunkError> {
    run_chunk(
        Resolution::Handler(handler),
        pool,
        ChunkReads::default(),
        message,
        || {},
    )
    .await
}

/// [`apply_chunk`] with a read replica for exports and a hook called right before the chunk's
/// transaction commits.
pub async fn apply_chunk_with_hook<H: TaskHandler>(
    handler: &H,
    pool: &Pool,
    replica: Option<&ReplicaReads>,
    message: ReceivedChunk,
    before_commit: impl FnOnce(),
) -> Result<ChunkDisposition, ChunkError> {
    let reads = ChunkReads { replica };
    run_chunk(
        Resolution::Handler(handler),
        pool,
        reads,
        message,
        before_commit,
    )
    .await
}

/// Where a chunk's reads may go besides its transaction.
#[derive(Default)]
struct ChunkReads<'p> {
    replica: Option<&'p ReplicaReads>,
}

/// Completes a chunk that keeps failing: its records get `PROCESSING_FAILED` with `reason`.
/// (`H` only names the task type; no handler runs.)
pub async fn fail_chunk<H: TaskHandler>(
    pool: &Pool,
    message: ReceivedChunk,
    reason: &str,
) -> Result<ChunkDisposition, ChunkError> {
    if message.selector.is_some() {
        // An export that cannot even be planned has no records to fail: the task fails.
        let client = pool.get().await.map_err(StoreError::from)?;
        let reason = format!("the export could not be planned: {reason}");
        fail_task(
            &client,
            TaskKey::new(message.domain_id, message.task_id),
            &reason,
        )
        .await?;
        return Ok(ChunkDisposition::Dropped("the export could not be planned"));
    }
    let error = FieldError::new(
        "",
        ErrorCode::ProcessingFailed,
        "the record could not be processed after retries",
    )
    .with_details(json!({ "reason": reason }));
    let task = message.task();
    let failed = run_chunk::<H>(
        Resolution::FailAll(error),
        pool,
        ChunkReads::default(),
        message,
        || {},
    )
    .await;
    match failed {
        Err(ChunkError::RecordsMissing(chunk_no)) => {
            // Without its records the chunk cannot even be failed record by record: the task
            // fails as a whole.
            let client = pool.get().await.map_err(StoreError::from)?;
            let reason = format!("the records of chunk {chunk_no} are not stored");
            fail_task(&client, task, &reason).await?;
            Ok(ChunkDisposition::Dropped(
                "the chunk's records are not stored",
            ))
        }
        other => other,
    }
}

async fn run_chunk<H: TaskHandler>(
    resolution: Resolution<'_, H>,
    pool: &Pool,
    reads: ChunkReads<'_>,
    message: ReceivedChunk,
    before_commit: impl FnOnce(),
) -> Result<ChunkDisposition, ChunkError> {
    let task_id = message.task_id;
    let task = TaskKey::new(message.domain_id, task_id);
    let chunk_no = message.chunk_no as i32;
    let ordered = match &resolution {
        Resolution::Handler(handler) => handler.applies_in_order(),
        Resolution::FailAll(_) => false,
    };
    let mut client = pool.get().await.map_err(StoreError::from)?;
    // Waits while the gateway still publishes this task's chunks (it holds the row lock).
    // Wait (on the task row) until the gateway has finished accepting the task, so that the
    // transaction below starts from its committed state.
    state_for_chunk(&client, task).await?;
    start_processing(&client, task).await?;
    // Exports read from the replica once it shows what the primary had committed by now (asked
    // before the transaction, whose locks must not wait for the replica).
    let replica = match (&resolution, reads.replica) {
        (Resolution::Handler(handler), Some(replica)) if handler.export_kind().is_some() => {
            replica.caught_up(&client).await
        }
        _ => None,
    };
    let transaction = client.transaction().await.map_err(StoreError::from)?;
    // Chunks of an in-order task take the row exclusively: one applies at a time, and the check
    // for the predecessor below cannot miss a commit.
    let lock = if ordered {
        RowLock::Exclusive
    } else {
        RowLock::Shared
    };
    // A cancel request committed before the gate stops every record of the chunk; one that
    // comes later waits for this transaction (it updates the row this chunk locks).
    let canceled = match gate::check(&transaction, task, chunk_no, lock).await? {
        Passage::Open { canceled } => canceled,
        Passage::Stopped(stop) => return stop.finish(transaction).await,
    };
    // A chunk given up on keeps its stored records, so that a replay of its dead letter can
    // apply them.
    let keep_records = matches!(resolution, Resolution::FailAll(_));
    let message = with_stored_records(&transaction, task, message, keep_records).await?;
    if ordered && !gate::in_turn(&transaction, task, chunk_no).await? {
        let body = encode(&message).map_err(|error| ChunkError::Processing(error.to_string()))?;
        defer_chunk(&transaction, task, chunk_no, &body).await?;
        transaction.commit().await.map_err(StoreError::from)?;
        return Ok(ChunkDisposition::Deferred);
    }
    let resolution = if canceled {
        Resolution::FailAll(canceled_error())
    } else {
        resolution
    };
    let context = ChunkContext {
        task_id,
        domain_id: message.domain_id,
        domain: message.domain.to_string(),
        chunk_no: message.chunk_no,
        options: message.options.clone().into_owned(),
        replica,
    };
    let first_index = message
        .records
        .first()
        .map_or(0, |record| i64::from(record.index));
    let record_count = message.records.len() as i32;
    let (outcomes, events) = resolve(resolution, &transaction, &context, message)
        .instrument(tracing::info_span!(
            "sql.apply_records",
            records = record_count
        ))
        .await?;
    // The replica connection goes back to its pool before the ledger write and the commit.
    drop(context);
    let entry = ChunkEntry {
        task,
        chunk_no,
        first_index,
        records: record_count,
        succeeded: outcomes.succeeded,
        failed: outcomes.failed,
        results: outcomes.results.as_ref(),
        errors: outcomes.errors.as_ref(),
    };
    commit_chunk(
        transaction,
        &entry,
        events.as_ref(),
        canceled,
        before_commit,
    )
    .await
}

/// The chunk with its records: a claim check takes them from where the intake stored them (or
/// only reads them, when `keep`).
async fn with_stored_records(
    transaction: &Transaction<'_>,
    task: TaskKey,
    message: ReceivedChunk,
    keep: bool,
) -> Result<ReceivedChunk, ChunkError> {
    if !message.is_reference() {
        return Ok(message);
    }
    let chunk_no = message.chunk_no;
    let stored = if keep {
        read_body(transaction, task, chunk_no as i32).await?
    } else {
        take_body(transaction, task, chunk_no as i32).await?
    };
    let Some(stored) = stored else {
        return Err(ChunkError::RecordsMissing(chunk_no));
    };
    let records = decode_records(&stored)
        .map_err(|error| ChunkError::Processing(format!("chunk {chunk_no}: {error}")))?;
    Ok(message.with_records(records))
}

/// Writes the chunk's ledger row, its events and the task's progress, and commits — unless
/// another delivery of the chunk committed first, or a cancel committed meanwhile.
async fn commit_chunk(
    transaction: Transaction<'_>,
    entry: &ChunkEntry<'_>,
    events: Option<&ChunkEvents>,
    applied_as_canceled: bool,
    before_commit: impl FnOnce(),
) -> Result<ChunkDisposition, ChunkError> {
    let task = entry.task;
    if !insert_chunk(&transaction, entry).await? {
        // Another delivery of this chunk committed while we worked: ours must not count.
        transaction.rollback().await.map_err(StoreError::from)?;
        return Ok(ChunkDisposition::Duplicate);
    }
    if let Some(events) = events {
        insert_events(&transaction, task.domain_id, events).await?;
    }
    let progress = record_chunk_progress(
        &transaction,
        task,
        i64::from(entry.succeeded),
        i64::from(entry.failed),
    )
    .await?;
    if progress.canceled && !applied_as_canceled {
        // A cancel committed while this chunk was applied: undo it; the redelivery applies the
        // chunk as canceled, so that no record is applied after the cancel.
        transaction.rollback().await.map_err(StoreError::from)?;
        return Err(ChunkError::CanceledMeanwhile);
    }
    before_commit();
    transaction
        .commit()
        .instrument(tracing::info_span!("sql.commit"))
        .await
        .map_err(StoreError::from)?;
    Ok(ChunkDisposition::Applied {
        completed_task: progress.state == TaskState::Completed,
        succeeded: entry.succeeded as u32,
        failed: entry.failed as u32,
    })
}

/// A record the chunk reports without applying it: the gateway's verdict or a parse failure.
struct Refused {
    index: u32,
    line: Option<u32>,
    input: EchoedInput,
    errors: Vec<FieldError>,
}

/// The records of a chunk after parsing: those to hand to the handler (with their text, for
/// the errors file) and those it reports without applying them.
struct Parsed<I> {
    work: Vec<Work<I>>,
    texts: Vec<Box<serde_json::value::RawValue>>,
    refused: Vec<Refused>,
}

/// Decode → parse → handle → record outcomes, inside the chunk's transaction.
async fn resolve<H: TaskHandler>(
    resolution: Resolution<'_, H>,
    transaction: &Transaction<'_>,
    context: &ChunkContext,
    message: ReceivedChunk,
) -> Result<(ChunkOutcomes, Option<ChunkEvents>), ChunkError> {
    let mut parsed = parse(&resolution, context, message);
    let (outcomes, events) = match resolution {
        Resolution::Handler(handler) => handle(handler, transaction, context, &parsed.work).await?,
        Resolution::FailAll(error) => {
            for record in &mut parsed.refused {
                if record.errors.is_empty() {
                    record.errors.push(error.clone());
                }
            }
            (Vec::new(), None)
        }
    };
    Ok((record_outcomes(parsed, outcomes)?, events))
}

/// Parses each record that arrived without errors (every record is refused when the chunk
/// fails as a whole).
fn parse<H: TaskHandler>(
    resolution: &Resolution<'_, H>,
    context: &ChunkContext,
    message: ReceivedChunk,
) -> Parsed<H::Input> {
    let mut parsed = Parsed {
        work: Vec::new(),
        texts: Vec::new(),
        refused: Vec::new(),
    };
    for record in message.records {
        let input = record.input.map(Cow::into_owned);
        let errors = record.errors.into_owned();
        let outcome = match (resolution, input) {
            (Resolution::Handler(handler), Some(input)) if errors.is_empty() => {
                match handler.parse(context, input.get()) {
                    Ok(value) => Ok((value, input)),
                    Err(errors) => Err((Some(input), errors)),
                }
            }
            (Resolution::FailAll(_), Some(input)) if errors.is_empty() => {
                Err((Some(input), Vec::new()))
            }
            (_, input) => Err((input, errors)),
        };
        match outcome {
            Ok((input, text)) => {
                parsed.work.push(Work {
                    index: record.index,
                    line: record.line,
                    input,
                });
                parsed.texts.push(text);
            }
            Err((input, errors)) => parsed.refused.push(Refused {
                index: record.index,
                line: record.line,
                input: EchoedInput::of(input.as_deref(), record.raw.as_deref()),
                errors,
            }),
        }
    }
    parsed
}

/// The handler's outcomes as results lines, and the chunk's events: applied for real (keeping
/// before-images of a revertible task), or as a dry run rolled back to its savepoint.
async fn handle<H: TaskHandler>(
    handler: &H,
    transaction: &Transaction<'_>,
    context: &ChunkContext,
    work: &[Work<H::Input>],
) -> Result<(Vec<Outcome<ResultLine<H::Output>>>, Option<ChunkEvents>), ChunkError> {
    let dry_run = context.options.dry_run;
    let action = handler.action();
    let revertible = action.is_revertible() && !dry_run;
    if dry_run {
        dry_run::begin(transaction).await?;
    }
    // A create of core profiles changes no existing row: the ids it made are its whole
    // before-image, and its identity inserts skip the triggers' lookups.
    if revertible && action != TaskAction::CreateCoreProfiles {
        capture_changes(transaction, context.task_id).await?;
    }
    let handled = handler.apply(transaction, context, work).await?;
    if handled.outcomes.len() != work.len() {
        return Err(ChunkError::Processing(format!(
            "the handler returned {} outcomes for {} records",
            handled.outcomes.len(),
            work.len()
        )));
    }
    if dry_run {
        let outcomes =
            dry_run::finish(handler, transaction, context.domain_id, handled.outcomes).await?;
        return Ok((outcomes, None));
    }
    if revertible {
        let created: Vec<userhub_domain::CoreProfileId> = handled
            .changes
            .iter()
            .filter(|note| note.created_core_profile())
            .map(|note| note.core_profile_id)
            .collect();
        let (domain_id, task_id) = (context.domain_id, context.task_id);
        record_created(transaction, domain_id, task_id, context.chunk_no, &created).await?;
    }
    let events = chunk_events(context, &handled.changes);
    let outcomes = handled
        .outcomes
        .into_iter()
        .map(|outcome| match outcome {
            Outcome::Succeeded(output) => Outcome::Succeeded(ResultLine::Applied(output)),
            Outcome::Failed(errors) => Outcome::Failed(errors),
        })
        .collect();
    Ok((outcomes, Some(events)))
}

/// Merges the refused records and the handler's outcomes back into index order and writes
/// them as the chunk's results and errors.
fn record_outcomes<I, T: serde::Serialize>(
    parsed: Parsed<I>,
    outcomes: Vec<Outcome<T>>,
) -> Result<ChunkOutcomes, ChunkError> {
    let mut writer = OutcomeWriter::default();
    let mut handled = parsed
        .work
        .iter()
        .zip(parsed.texts.iter())
        .zip(outcomes)
        .peekable();
    let mut refused = parsed.refused.into_iter().peekable();
    loop {
        let take_handled = match (handled.peek(), refused.peek()) {
            (Some(((record, _), _)), Some(other)) => record.index < other.index,
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        if take_handled {
            let Some(((record, text), outcome)) = handled.next() else {
                break;
            };
            match outcome {
                Outcome::Succeeded(fields) => {
                    writer.add_result(record.index, record.line, &fields)?
                }
                Outcome::Failed(errors) => {
                    let echoed = EchoedInput::of(Some(text), None);
                    writer.add_error(record.index, record.line, &echoed, &errors)?;
                }
            }
        } else {
            let Some(record) = refused.next() else {
                break;
            };
            writer.add_error(record.index, record.line, &record.input, &record.errors)?;
        }
    }
    Ok(writer.finish()?)
}
