//! Altcraft (seed 003): `POST /api/v1.1/workflows/import_and_start_batch_task` upserts
//! `data[].data` asynchronously and starts the workflow — its profile events carry
//! `workflow_id` — answering `{error: 0, error_text, task_id}`; `POST /api/v1.1/tasks/status`
//! reports `{data: {status, progress, result: {result: [{profile_id}]}}}`. Bodies over 10 MB are
//! answered in Altcraft's error shape.

use crate::Compat;
use crate::altcraft_import::{
    Encoding, IMPORT_PRODUCT, authorized_document, failure, flag, match_by, records_of,
    result_entry, sent_profiles,
};
use crate::{
    CanonicalTask, DialectError, DialectRequest, Ran, dialect_task, record_limit, run, task_id_of,
    task_outcomes,
};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};
use userhub_domain::{TaskAction, TaskOptions, TaskState};

/// The input format of workflow import tasks.
const WORKFLOW_PRODUCT: &str = "altcraft-workflow";

/// `POST /api/v1.1/workflows/import_and_start_batch_task`.
pub async fn import_and_start(State(compat): State<Compat>, request: DialectRequest) -> Response {
    match start(&compat, request).await {
        Ok(response) => response,
        Err(error) => failure(Encoding::Json, error),
    }
}

async fn start(compat: &Compat, request: DialectRequest) -> Result<Response, DialectError> {
    let (document, admitted) = authorized_document(compat, request, Encoding::Json, true).await?;
    let principal = &admitted.principal;
    match document.get("format") {
        None | Some(Value::Null) => {}
        Some(Value::String(format)) if format == "json" => {}
        Some(other) => {
            return Err(DialectError::BadRequest(format!(
                "unsupported format {other}: userhub takes \"json\""
            )));
        }
    }
    let workflow_id = match document.get("workflow_id") {
        Some(Value::Number(number)) => number.as_i64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    }
    .filter(|id| *id >= 0)
    .ok_or_else(|| DialectError::BadRequest("`workflow_id` (an integer) is required".to_owned()))?;
    let options = TaskOptions {
        match_by: Some(match_by(&document)?),
        skip_triggers: flag(&document, "skip_triggers")?,
        workflow_id: Some(workflow_id),
        ..TaskOptions::default()
    };
    // Each item holds its profile under `data`.
    let sent = sent_profiles(&admitted.body, Some("data"));
    let records = records_of(
        document.get("data"),
        record_limit(compat, principal),
        |item| item.get("data").and_then(Value::as_object),
        &sent,
    )?;
    let task = CanonicalTask {
        action: TaskAction::UpsertCoreProfiles,
        options,
        product: WORKFLOW_PRODUCT,
        records,
    };
    let created = match run(compat, principal, task, false).await? {
        Ran::Accepted(created) => created,
        Ran::Finished(finished) => {
            return Err(DialectError::internal(&format!(
                "task {} was awaited unexpectedly",
                finished.task.id
            )));
        }
    };
    let answer = json!({
        "error": 0,
        "error_text": "Successful operation",
        "task_id": created.task_id.to_string(),
    });
    Ok(Encoding::Json.render(StatusCode::OK, &answer))
}

/// `POST /api/v1.1/tasks/status`.
pub async fn task_status(State(compat): State<Compat>, request: DialectRequest) -> Response {
    match status(&compat, request).await {
        Ok(response) => response,
        Err(error) => failure(Encoding::Json, error),
    }
}

async fn status(compat: &Compat, request: DialectRequest) -> Result<Response, DialectError> {
    let (document, admitted) = authorized_document(compat, request, Encoding::Json, false).await?;
    let principal = &admitted.principal;
    let not_found = || DialectError::NotFound("Task not found".to_owned());
    let task_id = task_id_of(document.get("task_id")).ok_or_else(not_found)?;
    // Only Altcraft's own imports (bounded by the domain's record limit) are shown.
    let task = dialect_task(
        compat,
        principal,
        task_id,
        &[WORKFLOW_PRODUCT, IMPORT_PRODUCT],
    )
    .await?
    .ok_or_else(not_found)?;
    let progress = if task.state == TaskState::Completed {
        100
    } else if task.total > 0 {
        (task.processed * 100 / task.total).min(99)
    } else {
        0
    };
    let mut data = json!({"status": task.state.as_str(), "progress": progress});
    if task.state == TaskState::Completed {
        let outcomes = task_outcomes(compat, principal, &task).await?;
        let result: Vec<Value> = outcomes
            .iter()
            .map(|outcome| result_entry(outcome.as_ref(), None))
            .collect();
        data["result"] = json!({"error": 0, "error_text": "", "result": result});
    }
    let answer = json!({"data": data, "error": 0, "error_text": "Successful operation"});
    Ok(Encoding::Json.render(StatusCode::OK, &answer))
}
