//! EXT task control: `POST /v2/{domain}/identity/bulk_actions/{task_id}/retry` creates a child
//! task holding the records of a completed task that failed with a retryable code (every failed
//! record with `?all_failed=true`), read back from its errors file; each keeps its index and
//! line, and the two tasks name each other. Retrying the same task again answers the same child.

use crate::Gateway;
use crate::error::GatewayError;
use crate::request::ParsedRequest;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use userhub_domain::limits::MAX_ECHOED_INPUT_BYTES;
use userhub_domain::{FieldError, TaskId, TaskKey, TaskState};
use userhub_http_common::decode::{PayloadFormat, RawRecord, RecordContent};
use userhub_http_common::schema::{ActionName, StateName};
use userhub_http_common::{ApiError, ErrorBody, Principal};
use userhub_store::PooledClient;
use userhub_store::ledger::OutcomeKind;
use userhub_store::tasks::{TaskRecord, find_task};
use userhub_tasks::intake::idempotency::RETRY_KEY_PREFIX;
use userhub_tasks::readback::for_each_line;
use utoipa::ToSchema;

/// EXT: the answer to a retry request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RetryCreated {
    /// The child task.
    #[schema(maximum = 9007199254740991_u64)]
    pub task_id: u64,
    #[schema(maximum = 9007199254740991_u64)]
    pub parent_task_id: u64,
    #[schema(value_type = StateName)]
    pub state: String,
    #[schema(value_type = ActionName)]
    pub action: String,
    /// Records the child holds.
    pub total: i64,
    /// `true` when this task was retried before with the same choice: the answer names the
    /// child made then.
    pub replayed: bool,
    /// Failed records the child cannot hold because the errors file keeps only their first
    /// 4 KiB; send them again yourself.
    pub not_retried: Vec<NotRetried>,
}

/// A failed record left out of the child.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct NotRetried {
    pub index: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    pub reason: String,
}

/// An errors-file line as far as a retry reads it.
#[derive(Deserialize)]
struct FailedRecord<'a> {
    index: u32,
    line: Option<u32>,
    #[serde(borrow)]
    input: &'a RawValue,
    errors: Vec<FieldError>,
}

/// What a retry takes from the parent.
struct Picked {
    records: Vec<RawRecord>,
    not_retried: Vec<NotRetried>,
}

fn all_failed(uri: &Uri) -> Result<bool, ApiError> {
    let mut all = None;
    for (name, value) in form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes()) {
        let invalid = |message: String| {
            ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER", message)
                .with_details(serde_json::json!({ "parameter": name }))
        };
        match name.as_ref() {
            "all_failed" if all.is_none() => {
                all = Some(
                    crate::options::flag("all_failed", Some(&value))
                        .map_err(|error| invalid(error.to_string()))?,
                );
            }
            "all_failed" => return Err(invalid("`all_failed` is given twice".to_owned())),
            other => return Err(invalid(format!("unknown parameter `{other}`"))),
        }
    }
    Ok(all.unwrap_or(false))
}

/// The parent's failed records to retry, in index order.
async fn pick(
    client: &PooledClient,
    task: TaskKey,
    all_failed: bool,
) -> Result<Picked, GatewayError> {
    let task_id = task.task_id;
    let mut picked = Picked {
        records: Vec::new(),
        not_retried: Vec::new(),
    };
    for_each_line(client, task, OutcomeKind::Errors, |line| {
        let failed: FailedRecord<'_> = serde_json::from_str(line.text())
            .map_err(|source| userhub_tasks::TaskError::StoredOutcomeLine { task_id, source })?;
        let retryable = failed.errors.iter().all(|error| error.code.is_retryable());
        if all_failed || retryable {
            take(&mut picked, failed);
        }
        Ok(())
    })
    .await?;
    picked.records.sort_by_key(|record| record.index);
    Ok(picked)
}

/// Adds a failed record to the child: its JSON as the errors file echoed it, or its text when
/// it was not JSON and was kept whole.
fn take(picked: &mut Picked, failed: FailedRecord<'_>) {
    let content = match serde_json::from_str::<String>(failed.input.get()) {
        Err(_) => Some(RecordContent::Json(failed.input.to_owned())),
        // The echo of a record that is not JSON, or of one over the echo limit, cut there.
        Ok(text) if text.len() + 4 <= MAX_ECHOED_INPUT_BYTES => failed
            .errors
            .into_iter()
            .next()
            .map(|error| RecordContent::Broken { raw: text, error }),
        Ok(_) => None,
    };
    match content {
        Some(content) => picked.records.push(RawRecord {
            index: failed.index,
            line: failed.line,
            content,
        }),
        None => picked.not_retried.push(NotRetried {
            index: failed.index,
            line: failed.line,
            reason: format!(
                "the errors file keeps only the first {MAX_ECHOED_INPUT_BYTES} bytes of this \
                 record"
            ),
        }),
    }
}

fn check_retryable(task: &TaskRecord) -> Result<(), ApiError> {
    if task.state != TaskState::Completed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "TASK_NOT_COMPLETED",
            format!(
                "task {} is {}; retry its failed records once it has completed",
                task.id,
                task.state.as_str()
            ),
        ));
    }
    if task.expired_at.is_some() {
        return Err(ApiError::new(
            StatusCode::GONE,
            "RESULTS_EXPIRED",
            format!(
                "the outcomes of task {} were deleted after the retention period",
                task.id
            ),
        ));
    }
    Ok(())
}

/// Creates a task retrying a completed task's failed records.
#[utoipa::path(
    post,
    path = "/v2/{domain}/identity/bulk_actions/{task_id}/retry",
    tag = "tasks",
    params(
        ("domain" = String, Path, description = "The tenant"),
        ("task_id" = String, Path, description = "The completed task to retry"),
        ("all_failed" = Option<bool>, Query, description = "`true`: every failed record, not only those that failed with a retryable code (`PROCESSING_FAILED`, `CANCELED`, `NOT_FOUND`, `ALREADY_EXISTS`, `IDENTITY_CONFLICT`, `AMBIGUOUS_MATCH`)"),
    ),
    responses(
        (status = 201, description = "EXT: the child task, accepted like any task", body = RetryCreated),
        (status = 400, description = "`INVALID_TASK_ID` or `INVALID_PARAMETER`", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 403, description = "A read-only key", body = ErrorBody),
        (status = 404, description = "`TASK_NOT_FOUND` (also for other domains' tasks)", body = ErrorBody),
        (status = 409, description = "`TASK_NOT_COMPLETED`, or `NOTHING_TO_RETRY`: no failed record qualifies", body = ErrorBody),
        (status = 410, description = "`RESULTS_EXPIRED`: the task's outcomes were deleted after the retention period", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`", body = ErrorBody),
        (status = 503, description = "The database or the broker is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn retry_task(
    State(gateway): State<Gateway>,
    Extension(principal): Extension<Principal>,
    Path((_domain, task_id)): Path<(String, String)>,
    uri: Uri,
) -> Result<(StatusCode, Json<RetryCreated>), ApiError> {
    if principal.read_only {
        return Err(ApiError::forbidden(
            "this API key is read-only and cannot retry tasks",
        ));
    }
    let task_id: TaskId = task_id.parse().map_err(ApiError::from)?;
    let all_failed = all_failed(&uri)?;
    let client = gateway.context.database(&principal).get().await?;
    let parent = find_task(&*client, principal.domain.id, task_id)
        .await?
        .ok_or_else(|| ApiError::task_not_found(task_id))?;
    check_retryable(&parent)?;
    let picked = pick(&client, parent.key(), all_failed).await?;
    drop(client);
    if picked.records.is_empty() {
        let which = if all_failed {
            "failed"
        } else {
            "failed with a retryable code"
        };
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "NOTHING_TO_RETRY",
            format!("no record of task {task_id} {which} and can be sent again"),
        )
        .with_details(serde_json::json!({ "not_retried": picked.not_retried })));
    }
    let request = ParsedRequest {
        action: parent.action,
        options: parent.options.clone(),
        format: PayloadFormat::JsonArray,
        records: picked.records,
    };
    let choice = if all_failed { "all" } else { "retryable" };
    let key = format!("{RETRY_KEY_PREFIX}{task_id}:{choice}");
    let submitter = gateway.submitter(&principal);
    let submitted = gateway
        .intake
        .submit_child(&submitter, request, Some(key), Some(task_id))
        .await
        .map_err(GatewayError::from)?;
    Ok((
        StatusCode::CREATED,
        Json(RetryCreated {
            task_id: submitted.created.task_id.get(),
            parent_task_id: task_id.get(),
            state: submitted.created.state.as_str().to_owned(),
            action: submitted.created.action.as_str().to_owned(),
            total: submitted.created.total,
            replayed: submitted.replayed,
            not_retried: picked.not_retried,
        }),
    ))
}
