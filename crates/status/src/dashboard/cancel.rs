//! The operator's cancel from the dashboard (EXT task control): `POST
//! /ops/api/tasks/{task_id}/cancel` with the operator token stops an open task of any domain,
//! with the same effect as the domain's own `POST .../{task_id}/cancel`. The task's domain is
//! looked up by its id; an id two domains share is refused as ambiguous.

use super::Dashboard;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Serialize;
use userhub_domain::{TaskId, TaskKey};
use userhub_http_common::ApiError;
use userhub_store::StoreError;
use userhub_store::tasks::domains_of_task;
use userhub_tasks::control::cancel;

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
    let task = match domains_of_task(&client, task_id).await?.as_slice() {
        [] => return Err(ApiError::task_not_found(task_id)),
        [domain_id] => TaskKey::new(*domain_id, task_id),
        [..] => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "AMBIGUOUS_TASK_ID",
                format!("several domains have a task {task_id}; cancel it with the domain's key"),
            ));
        }
    };
    let requested = cancel(&client, task).await?;
    tracing::info!(%task_id, "an operator canceled the task");
    Ok((
        StatusCode::ACCEPTED,
        Json(CancelRequested {
            task_id: task_id.get(),
            state: requested.state.as_str(),
            cancel_requested_at: crate::view::timestamp(requested.requested_at),
        }),
    ))
}
