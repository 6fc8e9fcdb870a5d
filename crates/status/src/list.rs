//! `GET /v2/{domain}/identity/bulk_actions` (EXT): the domain's tasks, newest first, filtered by
//! state and action, paged with an opaque cursor.

use crate::view::{TaskList, status_body};
use axum::Json;
use axum::extract::{Extension, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;
use userhub_domain::{TaskAction, TaskId, TaskState};
use userhub_http_common::schema::{ActionName, StateName};
use userhub_http_common::{ApiContext, ApiError, ErrorBody, Principal, QueryParams};
use userhub_store::tasks::TaskFilter;

const DEFAULT_PAGE: i64 = 20;
const MAX_PAGE: i64 = 100;

#[derive(Debug, Deserialize)]
pub struct ListQuery {
    state: Option<String>,
    action: Option<String>,
    limit: Option<String>,
    cursor: Option<String>,
}

fn invalid(parameter: &'static str, message: String) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER", message)
        .with_details(json!({ "parameter": parameter }))
}

fn filter_of(query: &ListQuery) -> Result<TaskFilter, ApiError> {
    let state = match query.state.as_deref() {
        None => None,
        Some(text) => Some(text.parse::<TaskState>().map_err(|_| {
            invalid(
                "state",
                format!("`{text}` is not a state: created, queued, processing or completed"),
            )
        })?),
    };
    let action = match query.action.as_deref() {
        None => None,
        Some(text) => Some(
            text.parse::<TaskAction>()
                .map_err(|_| invalid("action", format!("`{text}` is not a task type")))?,
        ),
    };
    let limit = match query.limit.as_deref() {
        None => DEFAULT_PAGE,
        Some(text) => text
            .parse::<i64>()
            .ok()
            .filter(|limit| (1..=MAX_PAGE).contains(limit))
            .ok_or_else(|| invalid("limit", format!("`limit` must be between 1 and {MAX_PAGE}")))?,
    };
    let before = match query.cursor.as_deref() {
        None => None,
        Some(text) => Some(
            text.parse::<TaskId>()
                .map_err(|_| invalid("cursor", "`cursor` is not valid".to_owned()))?,
        ),
    };
    Ok(TaskFilter {
        state,
        action,
        before,
        limit,
    })
}

/// EXT: the domain's tasks, newest first.
#[utoipa::path(
    get,
    path = "/v2/{domain}/identity/bulk_actions",
    tag = "tasks",
    params(
        ("domain" = String, Path, description = "The tenant"),
        ("state" = Option<StateName>, Query, description = "Only tasks in this state"),
        ("action" = Option<ActionName>, Query, description = "Only tasks of this type"),
        ("limit" = Option<i64>, Query, minimum = 1, maximum = 100, description = "Page size, default 20"),
        ("cursor" = Option<u64>, Query, minimum = 0, maximum = 9007199254740991_u64, description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "A page of tasks", body = TaskList),
        (status = 400, description = "`INVALID_PARAMETER`", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn list(
    State(context): State<ApiContext>,
    Extension(principal): Extension<Principal>,
    QueryParams(query): QueryParams<ListQuery>,
) -> Result<Json<TaskList>, ApiError> {
    let mut filter = filter_of(&query)?;
    let page = filter.limit;
    filter.limit = page + 1;
    let mut tasks = crate::replica::read_tasks(&context, &principal, &filter).await?;
    let more = tasks.len() as i64 > page;
    tasks.truncate(page as usize);
    let next_cursor = if more {
        tasks.last().map(|task| task.id.to_string())
    } else {
        None
    };
    let now = chrono::Utc::now();
    Ok(Json(TaskList {
        tasks: tasks.iter().map(|task| status_body(task, now)).collect(),
        next_cursor,
    }))
}
