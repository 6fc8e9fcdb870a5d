//! The operator's cancel from the dashboard (EXT task control): `POST
//! /ops/api/tasks/{task_id}/cancel` with the operator token stops an open task of any domain,
//! with the same effect as the domain's own `POST .../{task_id}/cancel`.

use super::Dashboard;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use userhub_domain::TaskId;
use userhub_http_common::ApiError;
use userhub_store::StoreError;
use userhub_store::tasks::{CancelRequest, request_cancel, task_state};

/// The answer to the operator's cancel.
#[derive(Debug, Serialize)]
pub struct CancelRequested {
    pub task_id: u64,
    pub state: &'static str,
    pub cancel_requested_at: String,
}

pub async fn cancel_task(
    State(dashboard): State<Dashboard>,
    Path(task_id): Path<String>,
) -> Result<(StatusCode, Json<CancelRequested>), ApiError> {
    let task_id: TaskId = task_id.parse().map_err(ApiError::from)?;
    let client = dashboard.pool.get().await.map_err(StoreError::from)?;
    match request_cancel(&client, None, task_id).await? {
        CancelRequest::Requested {
            state,
            requested_at,
        } => {
            tracing::info!(%task_id, "an operator canceled the task");
            Ok((
                StatusCode::ACCEPTED,
                Json(CancelRequested {
                    task_id: task_id.get(),
                    state: state.as_str(),
                    cancel_requested_at: crate::view::timestamp(requested_at),
                }),
            ))
        }
        CancelRequest::NotOpen => match task_state(&client, task_id).await? {
            None => Err(ApiError::task_not_found(task_id)),
            Some(_) => Err(ApiError::task_completed(task_id)),
        },
    }
}
