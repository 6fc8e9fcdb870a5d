//! `POST /v2/{domain}/identity/bulk_actions`: read, validate, chunk, accept, answer `201`.

use crate::Gateway;
use crate::error::GatewayError;
use crate::idempotency;
use crate::problems::OptionProblem;
use crate::request::{CreateRequest, inspect_headers, read_request};
use crate::uploads::create_task_from_upload;
use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::Uri;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::time::Duration;
use userhub_domain::record::{ExportRequest, ExportTarget, parse_export_record};
use userhub_http_common::schema::{ActionName, StateName};
use userhub_http_common::{ApiError, ErrorBody, Principal};
use userhub_tasks::intake::{AcceptTimings, Created};
use userhub_tasks::readback::{Awaited, Finished, RecordOutcome, await_task, selection_size};
use utoipa::ToSchema;

/// A created task, as the `201` answer shows it.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CreatedTask {
    /// The task's id, a JSON integer below 2^53.
    #[schema(example = 2537897885211136_u64, maximum = 9007199254740991_u64)]
    pub task_id: u64,
    /// `created` or `queued`: the task's real state at that moment.
    #[schema(value_type = StateName, example = "queued")]
    pub state: String,
    /// EXT: the task type.
    #[schema(value_type = ActionName, example = "create_core_profiles")]
    pub action: String,
    /// EXT: records in the request (0 for an export by selector until it is planned).
    pub total: i64,
}

/// EXT: a task answered synchronously (`?wait=true`): its counts and every record's outcome.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct CompletedTask {
    #[schema(maximum = 9007199254740991_u64)]
    pub task_id: u64,
    /// Always `completed`.
    #[schema(value_type = StateName, example = "completed")]
    pub state: String,
    #[schema(value_type = ActionName)]
    pub action: String,
    pub total: i64,
    pub succeeded: i64,
    pub failed: i64,
    /// One entry per record in input order: its results-file entry with `"outcome":
    /// "succeeded"`, or its errors-file entry with `"outcome": "failed"`.
    #[schema(value_type = Vec<Object>)]
    pub records: Vec<Box<RawValue>>,
}

/// EXT query of the create request. Boolean parameters take `true` or `1`, `false` or `0`, in
/// any letter case; options may also be form or multipart fields or top-level JSON members
/// (once: `400 INVALID_OPTION` when given twice).
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateTaskQuery {
    /// `true`: wait for the task (at most the server's sync record limit, default 1000
    /// records) and answer `200` with every record's outcome; `202` with the task if it takes
    /// longer than the sync timeout.
    pub wait: Option<bool>,
    /// The task type, for a `text/csv` body only (other bodies name it inside).
    #[param(value_type = Option<ActionName>)]
    pub action: Option<String>,
    /// `upsert_core_profiles` only (required there): what a record is matched by — an
    /// identity kind (`uid`, `email`, ...), `core-profile-id` or `custom_field:<name>`.
    #[param(example = "email")]
    pub match_by: Option<String>,
    /// `true`: the task's changes publish no profile events.
    pub skip_triggers: Option<bool>,
    /// A non-negative integer carried by the task's profile events.
    #[param(minimum = 0)]
    pub workflow_id: Option<i64>,
    /// `true` on a write task: run it against the real data and roll everything back; the
    /// results say what each record would do (`would_create`, `would_update` with each
    /// changed field's `old` and `new` value, `would_change_nothing`) and the errors file what
    /// would fail. `400 INVALID_OPTION` on reads.
    pub dry_run: Option<bool>,
}

/// The url-encoded form of the original API.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTaskForm {
    /// The task type.
    #[schema(value_type = ActionName, example = "create_core_profiles")]
    pub action: String,
    /// The records as a JSON array (text).
    #[schema(
        example = "[{\"identities\":[{\"uid\":\"uid-1\"}],\"last_country\":\"India\",\"last_city\":\"Pune\"}]"
    )]
    pub payload: Option<String>,
    /// EXT: a complete upload whose file holds the records (instead of `payload`).
    pub upload_id: Option<String>,
}

/// A multipart upload: `payload` is a JSONL file (or a JSON array).
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTaskUpload {
    #[schema(value_type = ActionName)]
    pub action: String,
    #[schema(format = Binary, value_type = String)]
    pub payload: Vec<u8>,
}

/// EXT: the JSON body.
#[derive(Debug, Deserialize, ToSchema)]
pub struct CreateTaskJson {
    #[schema(value_type = ActionName)]
    pub action: String,
    /// The records (or give `columns` and `rows` instead).
    #[schema(value_type = Option<Vec<Object>>, min_items = 1)]
    pub payload: Option<Vec<serde_json::Value>>,
    /// EXT tabular form: column names (identity kinds, field names, `names.first_name`, ...).
    pub columns: Option<Vec<String>>,
    /// EXT tabular form: one array of cells per record, in column order.
    #[schema(value_type = Option<Vec<Vec<Object>>>)]
    pub rows: Option<Vec<Vec<serde_json::Value>>>,
    /// EXT: a complete upload (`/v2/{domain}/uploads`) whose file holds the records: one task of
    /// all of them (instead of `payload` or `columns` with `rows`).
    pub upload_id: Option<String>,
}

/// Creates a bulk task: validates the request, queues its records, answers once they are durable.
#[utoipa::path(
    post,
    path = "/v2/{domain}/identity/bulk_actions",
    tag = "tasks",
    params(
        ("domain" = String, Path, description = "The tenant"),
        ("Idempotency-Key" = Option<String>, Header, pattern = "^[!-~]{1,255}$",
            description = "EXT: 1 to 255 visible ASCII characters; a retry with the same key and body returns the original task"),
        CreateTaskQuery,
    ),
    request_body(content(
        (CreateTaskForm = "application/x-www-form-urlencoded"),
        (CreateTaskUpload = "multipart/form-data"),
        (CreateTaskJson = "application/json"),
        (String = "text/csv", example = "uid,last_city\nuid-1,Pune\n"),
    )),
    responses(
        (status = 200, description = "EXT `?wait=true`: the task completed; every record's outcome inline", body = CompletedTask),
        (status = 201, description = "The task is accepted; `Location` names its status", body = CreatedTask),
        (status = 202, description = "EXT `?wait=true`: the task did not complete within the sync timeout; a task from an upload still `created` after the upload wait; poll `Location`", body = CreatedTask),
        (status = 400, description = "`INVALID_ACTION`, `INVALID_PAYLOAD` or `INVALID_IDEMPOTENCY_KEY`", body = ErrorBody),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 403, description = "A read-only key and a write task", body = ErrorBody),
        (status = 404, description = "EXT `UPLOAD_NOT_FOUND`: the `upload_id` names no upload of this domain", body = ErrorBody),
        (status = 409, description = "`IDEMPOTENCY_KEY_IN_USE`; EXT `UPLOAD_INCOMPLETE`, `UPLOAD_USED`", body = ErrorBody),
        (status = 413, description = "`TOO_MANY_RECORDS` or `PAYLOAD_TOO_LARGE`", body = ErrorBody),
        (status = 415, description = "`UNSUPPORTED_MEDIA_TYPE`", body = ErrorBody),
        (status = 422, description = "`IDEMPOTENCY_KEY_REUSED`", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`", body = ErrorBody),
        (status = 503, description = "The database or the broker is unavailable; nothing was stored", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn create_task(
    State(gateway): State<Gateway>,
    Extension(principal): Extension<Principal>,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let settings = &gateway.settings;
    let wait = wait_requested(&uri)?;
    // Errors the headers show are answered before the body is read (the connection is then
    // closed, so its rest is never read).
    let idempotency_key = idempotency::key_of(&headers)?;
    let spec = inspect_headers(&headers, settings, principal.read_only)?;
    let record_limit = gateway
        .context
        .request_limits
        .records_per_task(&principal.domain);
    let query = uri.query().unwrap_or_default();
    let reading = std::time::Instant::now();
    let request = read_request(spec, body, query, settings, record_limit)
        .await
        .map_err(|error| match error {
            GatewayError::PayloadTooLarge { limit } if principal.read_only => {
                GatewayError::ReadOnlyBodyTooLarge { limit }
            }
            other => other,
        })?;
    let request = match request {
        CreateRequest::Records(request) => request,
        CreateRequest::Upload(_) if wait => return Err(GatewayError::WaitForUpload.into()),
        CreateRequest::Upload(upload) => {
            let (gateway, principal) = (gateway.clone(), principal.clone());
            return create_task_from_upload(gateway, principal, upload, idempotency_key).await;
        }
    };
    let read = reading.elapsed();
    let wait = wait || request.records.len() < settings.sync_below_records;
    if wait && request.records.len() > settings.sync_max_records {
        return Err(GatewayError::from(OptionProblem::TooManyToWait {
            limit: settings.sync_max_records,
            given: request.records.len(),
        })
        .into());
    }
    // An export's size is known only once its selector is counted: a large one is accepted
    // but not awaited (202, as for a task slower than the sync timeout).
    let too_large = wait && selection_exceeds(&gateway, &principal, &request).await?;
    let submitter = gateway.submitter(&principal);
    let submitted = gateway
        .intake
        .submit(&submitter, request, idempotency_key)
        .await
        .map_err(GatewayError::from)?;
    let created = &submitted.created;
    let domain = &principal.domain.name;
    if !wait || too_large {
        let mut response = created_response(domain, created, submitted.replayed);
        if too_large {
            *response.status_mut() = StatusCode::ACCEPTED;
        }
        return Ok(with_server_timing(response, read, &submitted.timings));
    }
    let timeout = Duration::from_millis(settings.sync_timeout_ms);
    let pool = &gateway.context.database(&principal);
    let awaited = await_task(
        pool,
        principal.domain.id,
        created.task_id,
        timeout,
        settings.sync_max_records,
    )
    .await
    .map_err(GatewayError::from)?;
    let mut response = match awaited {
        Awaited::Finished(finished) => completed_response(domain, &finished),
        Awaited::Running(state) => {
            let now = Created { state, ..*created };
            let mut response = created_response(domain, &now, false);
            *response.status_mut() = StatusCode::ACCEPTED;
            response
        }
        Awaited::TooLarge => {
            let now = Created {
                state: userhub_domain::TaskState::Completed,
                ..*created
            };
            let mut response = created_response(domain, &now, false);
            *response.status_mut() = StatusCode::ACCEPTED;
            response
        }
    };
    if submitted.replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            header::HeaderValue::from_static("true"),
        );
    }
    Ok(with_server_timing(response, read, &submitted.timings))
}

/// Adds `Server-Timing` (milliseconds): reading and decoding the body, then each step of
/// accepting the task (a replayed task reports zeros for those).
fn with_server_timing(mut response: Response, read: Duration, timings: &AcceptTimings) -> Response {
    let millis = |duration: Duration| duration.as_secs_f64() * 1000.0;
    let mut value = format!("read;dur={:.3}", millis(read));
    for (name, duration) in timings.steps() {
        value.push_str(&format!(", {name};dur={:.3}", millis(duration)));
    }
    if let Ok(value) = header::HeaderValue::from_str(&value) {
        response.headers_mut().insert("server-timing", value);
    }
    response
}

/// Whether the request is an export by selector picking more profiles than an answer may hold.
async fn selection_exceeds(
    gateway: &Gateway,
    principal: &Principal,
    request: &crate::request::ParsedRequest,
) -> Result<bool, GatewayError> {
    let target = match request.action {
        userhub_domain::TaskAction::GetCoreProfiles => ExportTarget::CoreProfiles,
        userhub_domain::TaskAction::GetAppProfiles => ExportTarget::AppProfiles,
        _ => return Ok(false),
    };
    let [record] = request.records.as_slice() else {
        return Ok(false);
    };
    let userhub_http_common::decode::RecordContent::Json(json) = &record.content else {
        return Ok(false);
    };
    let Ok(ExportRequest::Selector(selector)) = parse_export_record(json.get(), target) else {
        return Ok(false);
    };
    let size = selection_size(
        &gateway.context.database(principal),
        principal.domain.id,
        request.action,
        &selector,
    )
    .await?;
    Ok(size > gateway.settings.sync_max_records as i64)
}

/// Whether the query asks for a synchronous answer (`wait=true`).
fn wait_requested(uri: &Uri) -> Result<bool, GatewayError> {
    let query = uri.query().unwrap_or_default();
    let wait = form_urlencoded::parse(query.as_bytes())
        .find(|(name, _)| name == "wait")
        .map(|(_, value)| value.into_owned());
    crate::options::flag("wait", wait.as_deref())
}

/// A results or errors line (an object the runtime wrote) with `"outcome": label` added to its
/// members, spliced into its text rather than rebuilt as a tree.
fn with_outcome(line: &RawValue, label: &str) -> Option<Box<RawValue>> {
    let members = line.get().trim_end().strip_suffix('}')?;
    let separator = if members.trim_end().ends_with('{') {
        ""
    } else {
        ","
    };
    RawValue::from_string(format!("{members}{separator}\"outcome\":\"{label}\"}}")).ok()
}

/// `200` with a completed task's outcomes in input order.
fn completed_response(domain: &str, finished: &Finished) -> Response {
    let task = &finished.task;
    let records = finished
        .outcomes
        .iter()
        .filter_map(|outcome| {
            let (line, label) = match outcome.as_ref()? {
                RecordOutcome::Succeeded(entry) => (&entry.line, "succeeded"),
                RecordOutcome::Failed(entry) => (&entry.line, "failed"),
            };
            with_outcome(line, label)
        })
        .collect();
    let body = CompletedTask {
        task_id: task.id.get(),
        state: task.state.as_str().to_owned(),
        action: task.action.as_str().to_owned(),
        total: task.total,
        succeeded: task.succeeded,
        failed: task.failed,
        records,
    };
    let location = format!("/v2/{domain}/identity/bulk_actions/{}", task.id);
    (StatusCode::OK, [(header::LOCATION, location)], Json(body)).into_response()
}

/// `201` with the task and its `Location`; `replayed` for an idempotent repeat.
pub(crate) fn created_response(domain: &str, created: &Created, replayed: bool) -> Response {
    let location = format!("/v2/{domain}/identity/bulk_actions/{}", created.task_id);
    let body = CreatedTask {
        task_id: created.task_id.get(),
        state: created.state.as_str().to_owned(),
        action: created.action.as_str().to_owned(),
        total: created.total,
    };
    let mut response = (
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response();
    if replayed {
        response.headers_mut().insert(
            "idempotent-replayed",
            header::HeaderValue::from_static("true"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_outcome_joins_the_line_as_one_more_member() {
        for (line, expected) in [
            (
                r#"{"index":0,"line":1,"core-profile-id":"7"}"#,
                r#"{"index":0,"line":1,"core-profile-id":"7","outcome":"succeeded"}"#,
            ),
            (
                r#"{ "index": 3 } "#,
                r#"{ "index": 3 ,"outcome":"succeeded"}"#,
            ),
            ("{}", r#"{"outcome":"succeeded"}"#),
        ] {
            let line = RawValue::from_string(line.to_owned()).unwrap();
            let joined = with_outcome(&line, "succeeded").unwrap();
            assert_eq!(joined.get(), expected);
            let parsed: serde_json::Map<String, serde_json::Value> =
                serde_json::from_str(joined.get()).unwrap();
            assert_eq!(parsed["outcome"], "succeeded");
        }
    }
}
