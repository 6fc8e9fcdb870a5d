//! EXT task control: `POST /v2/{domain}/identity/bulk_actions/{task_id}/retry` creates a child
//! task holding a completed task's failed records (`userhub_tasks::control::retry`); the query
//! parameter `all_failed=true` takes every failed record, not only the retryable ones.

use crate::Gateway;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{StatusCode, Uri};
use serde::{Deserialize, Serialize};
use userhub_domain::TaskId;
use userhub_http_common::schema::{ActionName, StateName};
use userhub_http_common::{ApiError, ErrorBody, Principal};
use userhub_tasks::control::retry;
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
        (status = 409, description = "`TASK_NOT_COMPLETED`, `NOTHING_TO_RETRY` (no failed record qualifies), or `CHILD_TASK_IN_PROGRESS` (an identical retry has been accepting the child for over 30 s; ask again)", body = ErrorBody),
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
    let task_id: TaskId = task_id.parse().map_err(ApiError::from)?;
    let all_failed = all_failed(&uri)?;
    let submitter = gateway.submitter(&principal);
    let retried = retry(&gateway.intake, &submitter, task_id, all_failed).await?;
    let created = retried.submitted.created;
    Ok((
        StatusCode::CREATED,
        Json(RetryCreated {
            task_id: created.task_id.get(),
            parent_task_id: task_id.get(),
            state: created.state.as_str().to_owned(),
            action: created.action.as_str().to_owned(),
            total: created.total,
            replayed: retried.submitted.replayed,
            not_retried: retried
                .not_retried
                .into_iter()
                .map(|left| NotRetried {
                    index: left.index,
                    line: left.line,
                    reason: left.reason,
                })
                .collect(),
        }),
    ))
}
