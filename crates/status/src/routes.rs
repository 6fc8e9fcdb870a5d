//! Status, results and errors of one task; other domains' tasks are answered `404`.

use crate::StatusState;
use crate::download::{DownloadFormat, DownloadStream, stream_outcomes};
use crate::negotiate::weight;
use crate::view::{TaskStatus, status_body};
use axum::Json;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use userhub_domain::{TaskId, TaskState};
use userhub_http_common::{ApiContext, ApiError, ErrorBody, Principal, QueryParams};
use userhub_store::ledger::OutcomeKind;
use userhub_store::tasks::{TaskRecord, find_task};
use utoipa::ToSchema;

fn parse_task_id(text: &str) -> Result<TaskId, ApiError> {
    Ok(text.parse()?)
}

async fn load_task(
    context: &ApiContext,
    principal: &Principal,
    task_id: &str,
) -> Result<TaskRecord, ApiError> {
    let task_id = parse_task_id(task_id)?;
    let client = context.database(principal).get().await?;
    let task = find_task(&*client, principal.domain.id, task_id).await?;
    task.ok_or_else(|| ApiError::task_not_found(task_id))
}

/// The status of a task read through the replica when there is one (downloads read the primary:
/// a lagging replica could serve a partial file).
async fn read_status_task(
    context: &ApiContext,
    principal: &Principal,
    task_id: &str,
) -> Result<TaskRecord, ApiError> {
    let task_id = parse_task_id(task_id)?;
    crate::replica::read_task(context, principal, task_id)
        .await?
        .ok_or_else(|| ApiError::task_not_found(task_id))
}

/// The status of a task.
#[utoipa::path(
    get,
    path = "/v2/{domain}/identity/bulk_actions/{task_id}",
    tag = "tasks",
    params(
        ("domain" = String, Path, description = "The tenant"),
        ("task_id" = u64, Path, minimum = 0, maximum = 9007199254740991_u64, description = "The task id"),
    ),
    responses(
        (status = 200, description = "The task's status", body = TaskStatus),
        (status = 400, description = "`INVALID_TASK_ID`", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "`TASK_NOT_FOUND` (also for other domains' tasks)", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn get_status(
    State(context): State<ApiContext>,
    Extension(principal): Extension<Principal>,
    Path((_domain, task_id)): Path<(String, String)>,
) -> Result<Json<TaskStatus>, ApiError> {
    let task = read_status_task(&context, &principal, &task_id).await?;
    Ok(Json(status_body(&task, chrono::Utc::now())))
}

#[derive(Debug, Deserialize)]
pub struct DownloadQuery {
    format: Option<String>,
}

/// The `format` query parameter of a download.
#[derive(ToSchema)]
#[schema(rename_all = "lowercase")]
pub enum DownloadFormatName {
    Zip,
    Ndjson,
}

fn download_format(headers: &HeaderMap, query: &DownloadQuery) -> Result<DownloadFormat, ApiError> {
    let accept = headers
        .get(header::ACCEPT)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    let wants_ndjson = match query.format.as_deref() {
        Some("ndjson") => true,
        Some("zip") => false,
        // NDJSON when the client prefers it to the zip (ties keep the original API's zip).
        None => {
            weight(accept, "application/x-ndjson") > 0.0
                && weight(accept, "application/x-ndjson") > weight(accept, "application/zip")
        }
        Some(other) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "INVALID_PARAMETER",
                format!("`{other}` is not a download format: zip or ndjson"),
            )
            .with_details(serde_json::json!({ "parameter": "format" })));
        }
    };
    if !wants_ndjson {
        return Ok(DownloadFormat::Zip);
    }
    let encodings = headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    Ok(DownloadFormat::Ndjson {
        gzip: weight(encodings, "gzip") > 0.0,
    })
}

/// The answer while the domain already runs its limit of downloads.
fn too_many_downloads(limit: usize) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "TOO_MANY_DOWNLOADS",
        format!("this domain already runs {limit} downloads; retry when one has finished"),
    )
    .with_details(serde_json::json!({ "downloads_per_domain": limit }))
    .with_header("retry-after", 5)
}

async fn download(
    state: StatusState,
    principal: Principal,
    task_id: String,
    headers: HeaderMap,
    query: DownloadQuery,
    kind: OutcomeKind,
) -> Result<Response, ApiError> {
    let context = &state.context;
    let task = load_task(context, &principal, &task_id).await?;
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
    if let Some(expired_at) = task.expired_at {
        return Err(ApiError::new(
            StatusCode::GONE,
            "RESULTS_EXPIRED",
            format!(
                "the results and errors of task {} were deleted at {} (retention period)",
                task.id,
                expired_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
        ));
    }
    let format = download_format(&headers, &query)?;
    let name = if kind == OutcomeKind::Results {
        "results"
    } else {
        "errors"
    };
    let slot = state
        .downloads
        .take(principal.domain.id)
        .ok_or_else(|| too_many_downloads(state.downloads.per_domain()))?;
    let stream = DownloadStream {
        pool: context.database(&principal),
        idle_timeout: state.download_idle_timeout,
        slot,
    };
    let body = stream_outcomes(stream, task.key(), kind, format);
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

/// The task's results: a zip holding `results.json` (a JSON array in input order), or NDJSON.
#[utoipa::path(
    get,
    path = "/v2/{domain}/identity/bulk_actions/{task_id}/results",
    tag = "tasks",
    params(
        ("domain" = String, Path, description = "The tenant"),
        ("task_id" = u64, Path, minimum = 0, maximum = 9007199254740991_u64, description = "The task id"),
        ("format" = Option<DownloadFormatName>, Query, description = "`ndjson` for NDJSON instead of the zip (also chosen by `Accept: application/x-ndjson`)"),
    ),
    responses(
        (status = 200, description = "The results", content(
            (Vec<u8> = "application/zip"),
            (String = "application/x-ndjson"),
        )),
        (status = 400, description = "`INVALID_TASK_ID`", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "`TASK_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`TASK_NOT_COMPLETED`", body = ErrorBody),
        (status = 410, description = "`RESULTS_EXPIRED`: deleted after the retention period", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`, or `TOO_MANY_DOWNLOADS` while the domain runs its limit of downloads", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn get_results(
    State(state): State<StatusState>,
    Extension(principal): Extension<Principal>,
    Path((_domain, task_id)): Path<(String, String)>,
    QueryParams(query): QueryParams<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    download(
        state,
        principal,
        task_id,
        headers,
        query,
        OutcomeKind::Results,
    )
    .await
}

/// The task's errors: a zip holding `errors.json` (a JSON array in input order), or NDJSON.
#[utoipa::path(
    get,
    path = "/v2/{domain}/identity/bulk_actions/{task_id}/errors",
    tag = "tasks",
    params(
        ("domain" = String, Path, description = "The tenant"),
        ("task_id" = u64, Path, minimum = 0, maximum = 9007199254740991_u64, description = "The task id"),
        ("format" = Option<DownloadFormatName>, Query, description = "`ndjson` for NDJSON instead of the zip (also chosen by `Accept: application/x-ndjson`)"),
    ),
    responses(
        (status = 200, description = "The errors", content(
            (Vec<u8> = "application/zip"),
            (String = "application/x-ndjson"),
        )),
        (status = 400, description = "`INVALID_TASK_ID`", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 404, description = "`TASK_NOT_FOUND`", body = ErrorBody),
        (status = 409, description = "`TASK_NOT_COMPLETED`", body = ErrorBody),
        (status = 410, description = "`RESULTS_EXPIRED`: deleted after the retention period", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`, or `TOO_MANY_DOWNLOADS` while the domain runs its limit of downloads", body = ErrorBody),
        (status = 503, description = "The database is unavailable", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn get_errors(
    State(state): State<StatusState>,
    Extension(principal): Extension<Principal>,
    Path((_domain, task_id)): Path<(String, String)>,
    QueryParams(query): QueryParams<DownloadQuery>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    download(
        state,
        principal,
        task_id,
        headers,
        query,
        OutcomeKind::Errors,
    )
    .await
}
