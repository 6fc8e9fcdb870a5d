//! EXT task control: `POST /v2/{domain}/identity/bulk_actions/{task_id}/revert` makes a
//! `revert_profiles` task undoing what a completed create, update or upsert task changed
//! (`userhub_tasks::control::revert`).

use crate::Gateway;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use userhub_domain::TaskId;
use userhub_http_common::schema::StateName;
use userhub_http_common::{ApiError, ErrorBody, Principal};
use userhub_tasks::control::revert;
use utoipa::ToSchema;

/// EXT: the answer to a revert request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct RevertCreated {
    /// The revert task (action `revert_profiles`).
    #[schema(maximum = 9007199254740991_u64)]
    pub task_id: u64,
    /// The task it reverts.
    #[schema(maximum = 9007199254740991_u64)]
    pub parent_task_id: u64,
    #[schema(value_type = StateName)]
    pub state: String,
    /// Profiles to revert: one record each.
    pub total: i64,
    /// `true` when the same revert was asked for just before: the answer names it.
    pub replayed: bool,
}

/// Creates a task reverting a completed task.
#[utoipa::path(
    post,
    path = "/v2/{domain}/identity/bulk_actions/{task_id}/revert",
    tag = "tasks",
    params(
        ("domain" = String, Path, description = "The tenant"),
        ("task_id" = String, Path, description = "The completed create, update or upsert task to revert"),
    ),
    responses(
        (status = 201, description = "EXT: the revert task (`revert_profiles`), accepted like any task; its results say per profile `deleted` or `restored`, and a profile a later task changed fails with `CONFLICT` naming that task", body = RevertCreated),
        (status = 400, description = "`INVALID_TASK_ID`", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 403, description = "A read-only key", body = ErrorBody),
        (status = 404, description = "`TASK_NOT_FOUND` (also for other domains' tasks)", body = ErrorBody),
        (status = 409, description = "`TASK_NOT_COMPLETED`, `NOT_REVERTIBLE` (an export, a dry run or a revert), `ALREADY_REVERTED` (naming the revert task), `NOTHING_TO_REVERT`, or `CHILD_TASK_IN_PROGRESS` (another revert has been accepting for over 30 s)", body = ErrorBody),
        (status = 410, description = "`REVERT_EXPIRED`: the task's before-images were deleted after the retention period (`retention.revert_days`, 7 by default)", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`", body = ErrorBody),
        (status = 503, description = "The database or the broker is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn revert_task(
    State(gateway): State<Gateway>,
    Extension(principal): Extension<Principal>,
    Path((_domain, task_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<RevertCreated>), ApiError> {
    let task_id: TaskId = task_id.parse().map_err(ApiError::from)?;
    let submitted = revert(&gateway.intake, &gateway.submitter(&principal), task_id).await?;
    Ok((
        StatusCode::CREATED,
        Json(RevertCreated {
            task_id: submitted.created.task_id.get(),
            parent_task_id: task_id.get(),
            state: submitted.created.state.as_str().to_owned(),
            total: submitted.created.total,
            replayed: submitted.replayed,
        }),
    ))
}
