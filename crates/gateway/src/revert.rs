//! EXT task control: `POST /v2/{domain}/identity/bulk_actions/{task_id}/revert` makes a
//! `revert_profiles` task undoing what a completed create, update or upsert task changed — one
//! record per core profile it touched, from the before-images its chunks kept. The two tasks
//! name each other; a task is reverted once.

use crate::Gateway;
use crate::error::GatewayError;
use crate::request::ParsedRequest;
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use userhub_domain::{TaskAction, TaskId, TaskOptions, TaskState};
use userhub_http_common::decode::{PayloadFormat, RawRecord, RecordContent};
use userhub_http_common::schema::StateName;
use userhub_http_common::{ApiError, ErrorBody, Principal};
use userhub_store::reverts::{Touched, images_expired, revert_task_of, touched_profiles};
use userhub_store::tasks::{TaskRecord, find_task};
use userhub_tasks::intake::idempotency::RETRY_KEY_PREFIX;
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

fn refuse(status: StatusCode, code: &'static str, message: String) -> ApiError {
    ApiError::new(status, code, message)
}

/// Why `task` cannot be reverted, if it cannot.
fn check_revertible(task: &TaskRecord) -> Result<(), ApiError> {
    if !task.action.is_revertible() || task.options.dry_run {
        let what = if task.options.dry_run {
            "a dry run, which changed nothing".to_owned()
        } else {
            format!("a {} task", task.action)
        };
        return Err(refuse(
            StatusCode::CONFLICT,
            "NOT_REVERTIBLE",
            format!(
                "task {} is {what}; only create, update and upsert tasks can be reverted",
                task.id
            ),
        ));
    }
    if task.state != TaskState::Completed {
        return Err(refuse(
            StatusCode::CONFLICT,
            "TASK_NOT_COMPLETED",
            format!(
                "task {} is {}; revert it once it has completed (or cancel it first)",
                task.id,
                task.state.as_str()
            ),
        ));
    }
    Ok(())
}

/// A revert task's record for one profile.
fn record(index: u32, touched: Touched) -> RawRecord {
    let text = format!(
        "{{\"core-profile-id\":{},\"created\":{}}}",
        touched.core_profile_id, touched.created
    );
    let json = RawValue::from_string(text).expect("a revert record is JSON");
    RawRecord {
        index,
        line: None,
        content: RecordContent::Json(json),
    }
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
        (status = 409, description = "`TASK_NOT_COMPLETED`, `NOT_REVERTIBLE` (an export, a dry run or a revert), `ALREADY_REVERTED` (naming the revert task) or `NOTHING_TO_REVERT`", body = ErrorBody),
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
    if principal.read_only {
        return Err(ApiError::forbidden(
            "this API key is read-only and cannot revert tasks",
        ));
    }
    let task_id: TaskId = task_id.parse().map_err(ApiError::from)?;
    let domain_id = principal.domain.id;
    let client = gateway.context.database(&principal).get().await?;
    let parent = find_task(&*client, domain_id, task_id)
        .await?
        .ok_or_else(|| ApiError::task_not_found(task_id))?;
    check_revertible(&parent)?;
    if images_expired(&*client, domain_id, task_id).await? {
        return Err(refuse(
            StatusCode::GONE,
            "REVERT_EXPIRED",
            format!(
                "the before-images of task {task_id} were deleted after the retention period; \
                 it can no longer be reverted"
            ),
        ));
    }
    if let Some(revert) = revert_task_of(&*client, domain_id, task_id).await? {
        return Err(refuse(
            StatusCode::CONFLICT,
            "ALREADY_REVERTED",
            format!(
                "task {task_id} was reverted by task {revert}; to retry the profiles that \
                 revert could not undo, retry task {revert}"
            ),
        )
        .with_details(serde_json::json!({ "revert_task_id": revert.to_string() })));
    }
    let touched = touched_profiles(&*client, domain_id, task_id).await?;
    drop(client);
    if touched.is_empty() {
        return Err(refuse(
            StatusCode::CONFLICT,
            "NOTHING_TO_REVERT",
            format!("task {task_id} created and changed no profile"),
        ));
    }
    let records = touched
        .into_iter()
        .enumerate()
        .map(|(index, touched)| record(index as u32, touched))
        .collect();
    let request = ParsedRequest {
        action: TaskAction::RevertProfiles,
        options: TaskOptions {
            reverts: Some(task_id),
            ..TaskOptions::default()
        },
        format: PayloadFormat::JsonArray,
        records,
    };
    let key = format!("{RETRY_KEY_PREFIX}{task_id}:revert");
    let submitter = gateway.submitter(&principal);
    let submitted = gateway
        .intake
        .submit_child(&submitter, request, Some(key), Some(task_id))
        .await
        .map_err(GatewayError::from)?;
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
