//! `POST /v2/{domain}/identity/bulk_actions`: read, validate, chunk, accept, answer `201`.

use crate::Gateway;
use crate::accept::{TaskToAccept, accept_task};
use crate::chunking::{ChunkLimits, assign_chunks};
use crate::error::GatewayError;
use crate::idempotency::{self, Idempotency, Prior};
use crate::messages::{TaskHeader, chunk_messages, selector_message};
use crate::payload::RecordContent;
use crate::request::{ParsedRequest, inspect_headers, read_request};
use crate::validate::{Plan, Verdict, validate_records};
use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use userhub_domain::manifest::ChunkManifest;
use userhub_domain::{TaskAction, TaskId, TaskState};
use userhub_http_common::schema::{ActionName, StateName};
use userhub_http_common::{ApiError, ErrorBody, Principal, after_draining};
use utoipa::ToSchema;

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

/// A created task, as the `201` answer shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedTask {
    /// The task's id, a JSON integer below 2^53.
    #[schema(example = 2537897885211136_u64, maximum = 9007199254740991_u64)]
    pub task_id: u64,
    /// `created` or `queued`: the task's real state at that moment.
    #[schema(value_type = StateName, example = "queued")]
    pub state: String,
    /// EXT: the task type.
    #[schema(value_type = ActionName, example = "create_core_profiles")]
    pub action: String,
    /// EXT: records in the request (0 for an export by selector until it is planned).
    pub total: i64,
}

/// The url-encoded form of the original API.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTaskForm {
    /// The task type.
    #[schema(value_type = ActionName, example = "create_core_profiles")]
    pub action: String,
    /// The records as a JSON array (text).
    #[schema(
        example = "[{\"identities\":[{\"uid\":\"uid-1\"}],\"last_country\":\"India\",\"last_city\":\"Pune\"}]"
    )]
    pub payload: String,
}

/// A multipart upload: `payload` is a JSONL file (or a JSON array).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTaskUpload {
    #[schema(value_type = ActionName)]
    pub action: String,
    #[schema(format = Binary, value_type = String)]
    pub payload: Vec<u8>,
}

/// EXT: the JSON body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTaskJson {
    #[schema(value_type = ActionName)]
    pub action: String,
    #[schema(value_type = Vec<Object>, min_items = 1)]
    pub payload: Vec<serde_json::Value>,
}

/// Creates a bulk task: validates the request, queues its records, answers once they are durable.
#[utoipa::path(
    post,
    path = "/v2/{domain}/identity/bulk_actions",
    tag = "tasks",
    params(
        ("domain" = String, Path, description = "The tenant"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$",
            description = "EXT: 1 to 255 visible ASCII characters; a retry with the same key and body returns the original task"),
    ),
    request_body(content(
        (CreateTaskForm = "application/x-www-form-urlencoded"),
        (CreateTaskUpload = "multipart/form-data"),
        (CreateTaskJson = "application/json"),
    )),
    responses(
        (status = 201, description = "The task is accepted; `Location` names its status", body = CreatedTask),
        (status = 400, description = "`INVALID_ACTION`, `INVALID_PAYLOAD` or `INVALID_IDEMPOTENCY_KEY`", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 403, description = "A read-only key and a write task", body = ErrorBody),
        (status = 409, description = "`IDEMPOTENCY_KEY_IN_USE`", body = ErrorBody),
        (status = 413, description = "`TOO_MANY_RECORDS` or `PAYLOAD_TOO_LARGE`", body = ErrorBody),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorBody),
        (status = 422, description = "`IDEMPOTENCY_KEY_REUSED`", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`", body = ErrorBody),
        (status = 503, description = "The database or the broker is unavailable; nothing was stored", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn create_task(
    State(gateway): State<Gateway>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let settings = &gateway.settings;
    // Errors the headers show are answered after reading the body, so that the client, still
    // sending it, gets the answer rather than a broken pipe.
    let checked = idempotency::key_of(&headers)
        .and_then(|key| Ok((key, inspect_headers(&headers, settings)?)));
    let (idempotency_key, spec) = match checked {
        Ok(checked) => checked,
        Err(error) => {
            let response = ApiError::from(error).into_response();
            return Ok(after_draining(body, response).await);
        }
    };
    let record_limit = principal
        .domain
        .record_limit
        .map_or(settings.records_per_task, |limit| limit.max(1) as usize);
    let request = read_request(spec, body, settings, record_limit).await?;
    let action = request.action;
    if action.is_write() && principal.read_only {
        return Err(GatewayError::ReadOnlyKey(action.to_string()).into());
    }
    let plan = validate_records(action, request.options.match_by.as_ref(), &request.records)?;
    let idempotency = idempotency_key.map(|key| Idempotency {
        key,
        request_hash: idempotency::request_hash(action, &request.options, &request.records),
    });
    if let Some(idempotency) = &idempotency {
        let prior =
            idempotency::check(&gateway.context.pool, principal.domain.id, idempotency).await?;
        if let Prior::Replay(task) = prior {
            let accepted = Created {
                task_id: task.id,
                state: task.state,
                action,
                total: task.total,
            };
            return Ok(created_response(&principal.domain.name, &accepted, true));
        }
    }
    let (total, chunks) = match &plan {
        // A selector's size is known once a worker has planned the export.
        Plan::Selector(_) => (0, Vec::new()),
        Plan::Records(verdicts) => (
            request.records.len() as i64,
            plan_chunks(&gateway, &request, verdicts),
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
        rendered.map_err(|error| GatewayError::Internal(error.to_string()))
    };
    let crash = settings.crash_before_queued;
    let span = tracing::info_span!(
        "accept_task",
        domain = %principal.domain.name,
        %action,
        records = task.total,
        task_id = tracing::field::Empty,
    );
    let accepted = accept_task(&gateway.context.pool, &gateway.broker, &task, crash, render)
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
    Ok(created_response(&principal.domain.name, &created, false))
}

/// What a `201` reports.
struct Created {
    task_id: TaskId,
    state: TaskState,
    action: TaskAction,
    total: i64,
}

/// `201` with the task and its `Location`; `replayed` for an idempotent repeat.
fn created_response(domain: &str, created: &Created, replayed: bool) -> Response {
    let location = format!("/v2/{domain}/identity/bulk_actions/{}", created.task_id);
    let body = CreatedTask {
        task_id: created.task_id.get(),
        state: created.state.as_str().to_owned(),
        action: created.action.as_str().to_owned(),
        total: created.total,
    };
    let mut response = (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response();
    if replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            header::HeaderValue::from_static("true"),
        );
    }
    response
}
