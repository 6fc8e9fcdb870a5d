//! Accepting a parsed request as a task: validation, idempotency, chunking, the task row and
//! confirmed publishing. Shared by the native endpoint and the compatible endpoints (`userhub-compat`).

use crate::Gateway;
use crate::accept::{TaskToAccept, accept_task};
use crate::chunking::{ChunkLimits, assign_chunks};
use crate::error::GatewayError;
use crate::idempotency::{self, Idempotency, Prior};
use crate::messages::{TaskHeader, chunk_messages, selector_message};
use crate::request::ParsedRequest;
use crate::validate::{Plan, Verdict, validate_records};
use tracing::Instrument;
use userhub_domain::manifest::ChunkManifest;
use userhub_domain::{TaskAction, TaskId, TaskState};
use userhub_http_common::Principal;
use userhub_http_common::decode::RecordContent;

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
}

/// The chunks of a record-by-record task, as positions into the request's records.
fn plan_chunks(
    gateway: &Gateway,
    request: &ParsedRequest,
    verdicts: &[Verdict],
) -> Vec<Vec<usize>> {
    let sizes = request.records.iter().map(|record| match &record.content {
        RecordContent::Json(json) => json.get().len(),
        RecordContent::Broken { raw, .. } => raw.len(),
    });
    let limits = ChunkLimits {
        max_records: gateway.settings.chunk_records.max(1),
        max_bytes: gateway.settings.chunk_bytes.max(1),
    };
    assign_chunks(
        verdicts.iter().map(|verdict| verdict.key).zip(sizes),
        limits,
    )
}

/// Validates `request` and accepts it as a task of `principal`'s domain: once this returns, the
/// task row is committed and every chunk is confirmed by the broker.
pub async fn submit(
    gateway: &Gateway,
    principal: &Principal,
    request: ParsedRequest,
    idempotency_key: Option<String>,
) -> Result<Submitted, GatewayError> {
    submit_task(gateway, principal, request, idempotency_key, None).await
}

/// [`submit`] for a task that retries `parent`'s failed records.
pub(crate) async fn submit_task(
    gateway: &Gateway,
    principal: &Principal,
    request: ParsedRequest,
    idempotency_key: Option<String>,
    parent_task_id: Option<TaskId>,
) -> Result<Submitted, GatewayError> {
    let action = request.action;
    if action.is_write() && principal.read_only {
        return Err(GatewayError::ReadOnlyKey(action.to_string()));
    }
    let plan = validate_records(action, request.options.match_by.as_ref(), &request.records)?;
    let idempotency = idempotency_key.map(|key| Idempotency {
        key,
        request_hash: idempotency::request_hash(action, &request.options, &request.records),
    });
    if let Some(idempotency) = &idempotency {
        let prior = idempotency::check(
            &gateway.context.database(principal),
            principal.domain.id,
            idempotency,
        )
        .await?;
        if let Prior::Replay(task) = prior {
            let accepted = Created {
                task_id: task.id,
                state: task.state,
                action,
                total: task.total,
            };
            return Ok(Submitted {
                created: accepted,
                replayed: true,
            });
        }
    }
    let (total, chunks) = match &plan {
        // A selector's size is known once a worker has planned the export.
        Plan::Selector(_) => (0, Vec::new()),
        Plan::Records(verdicts) => (
            request.records.len() as i64,
            plan_chunks(gateway, &request, verdicts),
        ),
    };
    let chunk_indexes: Vec<Vec<u32>> = chunks
        .iter()
        .map(|positions| {
            positions
                .iter()
                .map(|&at| request.records[at].index)
                .collect()
        })
        .collect();
    let manifest = match &plan {
        Plan::Selector(_) => ChunkManifest::from_chunks([&[][..]]),
        Plan::Records(_) => ChunkManifest::from_chunks(chunk_indexes.iter().map(Vec::as_slice)),
    };
    let task = TaskToAccept {
        domain_id: principal.domain.id,
        action,
        input_format: request.format.as_str(),
        total,
        chunks_total: chunks.len().max(1) as i32,
        manifest,
        idempotency,
        options: request.options.clone(),
        parent_task_id,
    };
    let render = |task_id: TaskId| {
        let header = TaskHeader {
            task_id,
            domain_id: principal.domain.id,
            domain: &principal.domain.name,
            action,
            options: &request.options,
        };
        let rendered = match &plan {
            Plan::Selector(selector) => selector_message(header, selector).map(|body| vec![body]),
            Plan::Records(verdicts) => chunk_messages(header, &request.records, verdicts, &chunks),
        };
        rendered.map_err(GatewayError::ChunkEncoding)
    };
    let crash = gateway.settings.crash_before_queued();
    let span = tracing::info_span!(
        "accept_task",
        domain = %principal.domain.name,
        %action,
        records = task.total,
        task_id = tracing::field::Empty,
    );
    let accepted = accept_task(
        &gateway.context.database(principal),
        gateway.transport.as_ref(),
        &task,
        crash,
        render,
    )
    .instrument(span.clone())
    .await?;
    span.record("task_id", tracing::field::display(accepted.task_id));
    let labels = userhub_telemetry::ActionLabels {
        action: action.as_str().to_owned(),
    };
    gateway
        .context
        .metrics
        .tasks_accepted
        .get_or_create(&labels)
        .inc();
    tracing::info!(
        task_id = %accepted.task_id,
        domain = %principal.domain.name,
        %action,
        records = task.total,
        chunks = task.chunks_total,
        "task accepted"
    );
    let created = Created {
        task_id: accepted.task_id,
        state: accepted.state,
        action,
        total: task.total,
    };
    Ok(Submitted {
        created,
        replayed: false,
    })
}
