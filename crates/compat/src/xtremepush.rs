//! Xtremepush (seed 001): `POST /api/external/import/profile` with `{apptoken, columns, rows}`
//! upserts profiles by `user_id` (→ `uid`) or `device_id`; `email` needs `email_subscription`
//! and `mobile_number` needs `sms_subscription` in the same row; other columns are custom
//! fields. At most 10 000 rows; fewer than 100 are answered synchronously, else `202` with a
//! task id for `POST /api/external/info/task`.

use crate::Compat;
use crate::ProfileDraft;
use crate::admission::{Admission, KeyPlace, admit_request};
use crate::draft::DraftRecord;
use crate::{
    CanonicalTask, DialectError, DialectRequest, Ran, dialect_task, error_text, identity_text,
    is_given, record_limit, run, task_id_of, task_outcomes, unusable_identity,
};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::{Value, json};
use userhub_domain::{ErrorCode, FieldError, IdentityKind, MatchBy, TaskAction, TaskOptions};
use userhub_http_common::decode::RawRecord;
use userhub_http_common::decode::{
    broken_record, check_columns, failed_record, json_record, json_rows, read_columns, row_cells,
};
use userhub_tasks::readback::RecordOutcome;

/// The tasks' input format, which tells this endpoint's tasks apart.
const PRODUCT: &str = "xtremepush";
/// Xtremepush's record limit per request.
const MAX_ROWS: usize = 10_000;
/// Requests with fewer rows are processed synchronously.
const SYNC_BELOW_ROWS: usize = 100;

/// The import's members; `apptoken` was read by the admission.
#[derive(Deserialize)]
struct ImportRequest<'a> {
    #[serde(borrow)]
    columns: Option<&'a RawValue>,
    #[serde(borrow)]
    rows: Option<&'a RawValue>,
}

#[derive(Deserialize)]
struct TaskInfoRequest {
    id: Option<Value>,
}

/// Where Xtremepush requests carry the key, and their body limit.
fn admission(compat: &Compat, limit: u64, writes: bool) -> Admission {
    Admission {
        place: KeyPlace::JsonMember("apptoken"),
        limit: limit.min(compat.settings.max_body_bytes),
        writes,
        product_rate: |_| None,
    }
}

/// Xtremepush's error answer.
fn failure(error: DialectError) -> Response {
    error.log();
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let body = json!({"success": false, "code": error.status(), "message": error.message()});
    (status, error.headers(), Json(body)).into_response()
}

/// Where a column's cells go.
enum Target {
    Identity(IdentityKind),
    Name(&'static str),
    Field(&'static str),
    CustomField(String),
}

fn target_of(column: &str) -> Target {
    match column {
        "user_id" => Target::Identity(IdentityKind::Uid),
        "device_id" => Target::Identity(IdentityKind::DeviceId),
        "email" => Target::Identity(IdentityKind::Email),
        "mobile_number" => Target::Identity(IdentityKind::PhoneNumber),
        "first_name" => Target::Name("first_name"),
        "last_name" => Target::Name("last_name"),
        "language" => Target::Field("preferred_language"),
        other => Target::CustomField(other.to_owned()),
    }
}

/// The Xtremepush column of one of our field paths (the inverse of `target_of`).
fn column_of(path: &str) -> String {
    let (head, rest) = crate::path_parts(path);
    let identity_kind = rest.split('.').next().unwrap_or_default();
    match (head, identity_kind) {
        ("identities", "uid") => "user_id".to_owned(),
        ("identities", "phone_number") => "mobile_number".to_owned(),
        ("identities", kind) if !kind.is_empty() => kind.to_owned(),
        ("names" | "custom_fields", _) if !rest.is_empty() => rest.to_owned(),
        ("preferred_language", _) => "language".to_owned(),
        _ => path.to_owned(),
    }
}

/// A subscription column that must accompany an identity column in the same row.
const REQUIRED_WITH: [(&str, &str); 2] = [
    ("email", "email_subscription"),
    ("mobile_number", "sms_subscription"),
];

/// The canonical record of one row, or the row's error.
fn row_record(
    columns: &[String],
    cells: Vec<Value>,
    sent: &[Option<Box<RawValue>>],
) -> Result<DraftRecord, FieldError> {
    let cell_of = |name: &str| {
        columns
            .iter()
            .position(|column| column == name)
            .and_then(|at| cells.get(at))
    };
    for (identity, subscription) in REQUIRED_WITH {
        if is_given(cell_of(identity)) && !is_given(cell_of(subscription)) {
            return Err(FieldError::new(
                subscription,
                ErrorCode::MissingRequiredField,
                format!("`{subscription}` must be set when `{identity}` is set"),
            ));
        }
    }
    let mut draft = ProfileDraft::default();
    for ((column, cell), sent) in columns.iter().zip(cells).zip(sent) {
        if cell.is_null() {
            continue;
        }
        match target_of(column) {
            Target::Identity(kind) => {
                if !is_given(Some(&cell)) {
                    continue;
                }
                let text = identity_text(&cell).ok_or_else(|| unusable_identity(column))?;
                draft.identities.push(json!({ kind.as_str(): text }));
            }
            Target::Name(name) => {
                draft.names.insert(name.to_owned(), cell);
            }
            Target::Field(field) => {
                draft.fields.insert(field.to_owned(), cell);
            }
            Target::CustomField(name) => {
                draft.custom.insert(name, &cell, sent.as_deref());
            }
        }
    }
    Ok(draft.finish())
}

fn records_of(
    columns: &[String],
    rows: &RawValue,
    limit: usize,
) -> Result<Vec<RawRecord>, DialectError> {
    let rows = json_rows(rows, limit)?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(index, row)| {
            let index = index as u32;
            let sent = match row_cells(row, columns.len()) {
                Ok(sent) => sent,
                Err((raw, message)) => return broken_record(index, None, raw, message),
            };
            // The mapping reads cells as values; custom fields take the cells' text.
            let cells: Vec<Value> = sent
                .iter()
                .map(|cell| {
                    cell.as_ref()
                        .and_then(|cell| serde_json::from_str(cell.get()).ok())
                        .unwrap_or_default()
                })
                .collect();
            match row_record(columns, cells, &sent) {
                Ok(object) => json_record(index, None, &object),
                Err(error) => failed_record(index, String::new(), error),
            }
        })
        .collect())
}

/// `POST /api/external/import/profile`.
pub async fn import_profiles(State(compat): State<Compat>, request: DialectRequest) -> Response {
    match import(&compat, request).await {
        Ok(response) => response,
        Err(error) => failure(error),
    }
}

async fn import(compat: &Compat, request: DialectRequest) -> Result<Response, DialectError> {
    let admission = admission(compat, u64::MAX, true);
    let admitted = admit_request(compat, request, admission).await?;
    let principal = admitted.principal;
    let request: ImportRequest<'_> = serde_json::from_slice(&admitted.body).map_err(|error| {
        DialectError::BadRequest(format!(
            "the body must be a JSON object with apptoken, columns and rows: {error}"
        ))
    })?;
    let columns = read_columns(
        request
            .columns
            .ok_or_else(|| DialectError::BadRequest("`columns` is required".to_owned()))?,
    )?;
    check_columns(&columns)?;
    let rows = request
        .rows
        .ok_or_else(|| DialectError::BadRequest("`rows` is required".to_owned()))?;
    let match_key = if columns.iter().any(|column| column == "user_id") {
        IdentityKind::Uid
    } else if columns.iter().any(|column| column == "device_id") {
        IdentityKind::DeviceId
    } else {
        return Err(DialectError::BadRequest(
            "You must set a user_id (or, for anonymous profiles, a device_id) column".to_owned(),
        ));
    };
    let limit = MAX_ROWS.min(record_limit(compat, &principal));
    let records = records_of(&columns, rows, limit).map_err(|error| match error {
        DialectError::TooLarge(_) => DialectError::BadRequest(format!(
            "at most {limit} rows per request; send the rest in further requests"
        )),
        other => other,
    })?;
    let synchronous = records.len() < SYNC_BELOW_ROWS;
    let task = CanonicalTask {
        action: TaskAction::UpsertCoreProfiles,
        options: TaskOptions {
            match_by: Some(MatchBy::Identity(match_key)),
            ..TaskOptions::default()
        },
        product: PRODUCT,
        records,
    };
    Ok(match run(compat, &principal, task, synchronous).await? {
        Ran::Accepted(created) => (
            StatusCode::ACCEPTED,
            Json(json!({"success": true, "code": 202, "task_id": created.task_id.get()})),
        )
            .into_response(),
        Ran::Finished(finished) => {
            let data: Vec<Value> = finished
                .outcomes
                .iter()
                .enumerate()
                .map(|(row, outcome)| row_result(row, outcome.as_ref()))
                .collect();
            Json(json!({
                "success": true,
                "code": 200,
                "task_id": finished.task.id.get(),
                "data": data,
            }))
            .into_response()
        }
    })
}

/// One row's outcome in the synchronous answer.
fn row_result(row: usize, outcome: Option<&RecordOutcome>) -> Value {
    match outcome {
        Some(RecordOutcome::Succeeded(entry)) => json!({
            "row": row,
            "success": true,
            "profile_id": entry.members.core_profile_id,
            "action": entry.members.result,
        }),
        Some(RecordOutcome::Failed(entry)) => json!({
            "row": row,
            "success": false,
            "message": error_text(&entry.members.errors, &column_of),
            "errors": entry.members.errors,
        }),
        None => json!({"row": row, "success": false, "message": "no outcome"}),
    }
}

/// `POST /api/external/info/task`: `{apptoken, id}` → the import's progress and, once it is
/// complete, every row's outcome.
pub async fn task_info(State(compat): State<Compat>, request: DialectRequest) -> Response {
    match info(&compat, request).await {
        Ok(response) => response,
        Err(error) => failure(error),
    }
}

async fn info(compat: &Compat, request: DialectRequest) -> Result<Response, DialectError> {
    let admission = admission(compat, 64 * 1024, false);
    let admitted = admit_request(compat, request, admission).await?;
    let principal = admitted.principal;
    let request: TaskInfoRequest = serde_json::from_slice(&admitted.body).map_err(|error| {
        DialectError::BadRequest(format!(
            "the body must be a JSON object with apptoken and id: {error}"
        ))
    })?;
    let task_id = task_id_of(request.id.as_ref())
        .ok_or_else(|| DialectError::BadRequest("`id` must be a task id".to_owned()))?;
    // Only this endpoint's imports (whose results are at most MAX_ROWS entries) are shown.
    let task = dialect_task(compat, &principal, task_id, &[PRODUCT])
        .await?
        .ok_or_else(|| DialectError::NotFound(format!("task {task_id} not found")))?;
    let progress = if task.total > 0 {
        task.processed * 100 / task.total
    } else {
        0
    };
    let mut data = json!({
        "id": task.id.get(),
        "status": task.state.as_str(),
        "progress": progress,
        "total": task.total,
        "processed": task.processed,
        "succeeded": task.succeeded,
        "failed": task.failed,
    });
    if task.state == userhub_domain::TaskState::Completed {
        let outcomes = task_outcomes(compat, &principal, &task).await?;
        data["results"] = outcomes
            .iter()
            .enumerate()
            .map(|(row, outcome)| row_result(row, outcome.as_ref()))
            .collect();
    }
    Ok(Json(json!({"success": true, "code": 200, "data": data})).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_column_the_caller_sent_once() {
        let errors = [userhub_domain::FieldError::new(
            "identities[1].email",
            userhub_domain::ErrorCode::InvalidValue,
            "`identities[1].email`: not a valid email address",
        )];
        assert_eq!(
            error_text(&errors, &column_of),
            "`email`: not a valid email address"
        );
        assert_eq!(column_of("identities[0].uid"), "user_id");
        assert_eq!(column_of("identities[3].phone_number"), "mobile_number");
        assert_eq!(column_of("custom_fields.plan"), "plan");
        assert_eq!(column_of("names.first_name"), "first_name");
        assert_eq!(column_of("preferred_language"), "language");
    }
}
