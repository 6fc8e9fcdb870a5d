//! EXT task control: `POST /v2/{domain}/identity/bulk_actions/{task_id}/cancel` asks an open
//! task to stop (`userhub_tasks::control::cancel` says what that means).

use crate::Gateway;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Serialize};
use userhub_domain::TaskId;
use userhub_http_common::schema::StateName;
use userhub_http_common::{ApiError, ErrorBody, Principal};
use userhub_tasks::control::cancel_own;
use utoipa::ToSchema;

/// EXT: the answer to a cancel request.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CancelRequested {
    #[schema(maximum = 9007199254740991_u64)]
    pub task_id: u64,
    /// The task's state now (`queued` or `processing`; `completed` once its chunks are through).
    #[schema(value_type = StateName)]
    pub state: String,
    /// When the cancel was first requested (ISO 8601, UTC).
    pub cancel_requested_at: String,
}

fn timestamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Cancels an open task of the caller's domain.
#[utoipa::path(
    post,
    path = "/v2/{domain}/identity/bulk_actions/{task_id}/cancel",
    tag = "tasks",
    params(
        ("domain" = String, Path, description = "The tenant"),
        ("task_id" = String, Path, description = "The task's id"),
    ),
    responses(
        (status = 202, description = "EXT: the cancel is recorded (again, for a repeat); chunks not applied yet end with `CANCELED`", body = CancelRequested),
        (status = 400, description = "`INVALID_TASK_ID`", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 403, description = "A read-only key", body = ErrorBody),
        (status = 404, description = "`TASK_NOT_FOUND` (also for other domains' tasks)", body = ErrorBody),
        (status = 409, description = "`TASK_COMPLETED`: the task has already completed", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn cancel_task(
    State(gateway): State<Gateway>,
    Extension(principal): Extension<Principal>,
    Path((_domain, task_id)): Path<(String, String)>,
) -> Result<(StatusCode, Json<CancelRequested>), ApiError> {
    let task_id: TaskId = task_id.parse().map_err(ApiError::from)?;
    let requested = cancel_own(&gateway.submitter(&principal), task_id).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(CancelRequested {
            task_id: task_id.get(),
            state: requested.state.as_str().to_owned(),
            cancel_requested_at: timestamp(requested.requested_at),
        }),
    ))
}
