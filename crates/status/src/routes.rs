//! Status, results and errors of one task; other domains' tasks are answered `404`.

use crate::download::{DownloadFormat, stream_outcomes};
use crate::view::status_body;
use axum::Json;
use axum::extract::{Extension, Path, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use userhub_domain::{TaskId, TaskState};
use userhub_http_common::{ApiContext, ApiError, Principal};
use userhub_store::ledger::OutcomeKind;
use userhub_store::tasks::{TaskRecord, find_task};

fn parse_task_id(text: &str) -> Result<TaskId, ApiError> {
    text.parse()
        .map_err(|error: userhub_domain::ids::InvalidTaskId| {
            ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_TASK_ID",
                error.to_string(),
            )
        })
}

async fn load_task(
    context: &ApiContext,
    principal: &Principal,
    task_id: &str,
) -> Result<TaskRecord, ApiError> {
    let task_id = parse_task_id(task_id)?;
    let client = context.pool.get().await.map_err(|error| {
        tracing::warn!(%error, "database unavailable");
        ApiError::unavailable("database")
    })?;
    let task = find_task(&client, principal.domain.id, task_id)
        .await
        .map_err(|error| {
            if error.is_transient() {
                ApiError::unavailable("database")
            } else {
                ApiError::internal(&error)
            }
        })?;
    task.ok_or_else(|| {
        ApiError::not_found(
            "TASK_NOT_FOUND",
            format!("there is no task {task_id} in this domain"),
        )
    })
}

pub async fn get_status(
    State(context): State<ApiContext>,
    Extension(principal): Extension<Principal>,
    Path((_domain, task_id)): Path<(String, String)>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let task = load_task(&context, &principal, &task_id).await?;
    Ok(Json(status_body(&task, chrono::Utc::now())))
}

#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    format: Option<String>,
}

fn download_format(headers: &HeaderMap, query: &DownloadQuery) -> DownloadFormat {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let wants_ndjson =
        query.format.as_deref() == Some("ndjson") || accept.contains("application/x-ndjson");
    if !wants_ndjson {
        return DownloadFormat::Zip;
    }
    let encodings = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    DownloadFormat::Ndjson {
        gzip: encodings
            .split(',')
            .any(|coding| coding.trim().starts_with("gzip")),
    }
}

async fn download(
    context: ApiContext,
    principal: Principal,
    task_id: String,
    headers: HeaderMap,
    query: DownloadQuery,
    kind: OutcomeKind,
) -> Result<Response, ApiError> {
    let task = load_task(&context, &principal, &task_id).await?;
    if task.state != TaskState::Completed {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "TASK_NOT_COMPLETED",
            format!(
                "task {} is {}; results and errors are available once it is completed",
                task.id,
                task.state.as_str()
            ),
        ));
    }
    let format = download_format(&headers, &query);
    let name = if kind == OutcomeKind::Results {
        "results"
    } else {
        "errors"
    };
    let body = stream_outcomes(context.pool.clone(), task.id, kind, format);
    let mut response = body.into_response();
    let headers = response.headers_mut();
    let (content_type, extension) = match format {
        DownloadFormat::Zip => ("application/zip", "zip"),
        DownloadFormat::Ndjson { .. } => ("application/x-ndjson", "ndjson"),
    };
    headers.insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static(content_type),
    );
    if format == (DownloadFormat::Ndjson { gzip: true }) {
        headers.insert(
            header::CONTENT_ENCODING,
            header::HeaderValue::from_static("gzip"),
        );
    }
    if let Ok(value) = header::HeaderValue::from_str(&format!(
        "attachment; filename=\"{}-{name}.{extension}\"",
        task.id
    )) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

pub async fn get_results(
    State(context): State<ApiContext>,
    Extension(principal): Extension<Principal>,
    Path((_domain, task_id)): Path<(String, String)>,
    Query(query): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    download(
        context,
        principal,
        task_id,
        headers,
        query,
        OutcomeKind::Results,
    )
    .await
}

pub async fn get_errors(
    State(context): State<ApiContext>,
    Extension(principal): Extension<Principal>,
    Path((_domain, task_id)): Path<(String, String)>,
    Query(query): Query<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    download(
        context,
        principal,
        task_id,
        headers,
        query,
        OutcomeKind::Errors,
    )
    .await
}
