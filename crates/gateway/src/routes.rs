//! `POST /v2/{domain}/identity/bulk_actions`: read, validate, chunk, accept, answer `201`.

use crate::Gateway;
use crate::accept::{TaskToAccept, accept_task};
use crate::chunking::{ChunkLimits, assign_chunks};
use crate::error::GatewayError;
use crate::messages::{TaskHeader, chunk_messages};
use crate::payload::RecordContent;
use crate::request::read_request;
use crate::validate::validate_records;
use axum::Json;
use axum::body::Body;
use axum::extract::{Extension, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;
use userhub_http_common::{ApiError, Principal};

pub async fn create_task(
    State(gateway): State<Gateway>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let settings = &gateway.settings;
    let record_limit = principal
        .domain
        .record_limit
        .map_or(settings.records_per_task, |limit| limit.max(1) as usize);
    let request = read_request(&headers, body, settings, record_limit).await?;
    if !crate::SUPPORTED_ACTIONS.contains(&request.action) {
        let message = format!(
            "`{}` tasks are not supported by this server yet",
            request.action
        );
        return Err(GatewayError::InvalidAction(message).into());
    }
    if request.action.is_write() && principal.read_only {
        return Err(GatewayError::ReadOnlyKey(request.action.to_string()).into());
    }
    let verdicts = validate_records(request.action, &request.records);
    let sizes = request.records.iter().map(|record| match &record.content {
        RecordContent::Json(json) => json.get().len(),
        RecordContent::Broken { raw, .. } => raw.len(),
    });
    let limits = ChunkLimits {
        max_records: settings.chunk_records.max(1),
        max_bytes: settings.chunk_bytes.max(1),
    };
    let chunks = assign_chunks(
        verdicts.iter().map(|verdict| verdict.key).zip(sizes),
        limits,
    );
    let task = TaskToAccept {
        domain_id: principal.domain.id,
        action: request.action,
        input_format: request.format.as_str(),
        total: request.records.len() as i64,
        chunks_total: chunks.len() as i32,
    };
    let accepted = accept_task(&gateway.context.pool, &gateway.broker, &task, |task_id| {
        let header = TaskHeader {
            task_id,
            domain_id: principal.domain.id,
            domain: &principal.domain.name,
            action: request.action,
        };
        chunk_messages(header, &request.records, &verdicts, &chunks)
            .map_err(|error| GatewayError::Internal(error.to_string()))
    })
    .await?;
    tracing::info!(
        task_id = %accepted.task_id,
        domain = %principal.domain.name,
        action = %request.action,
        records = task.total,
        chunks = task.chunks_total,
        "task accepted"
    );
    let location = format!(
        "/v2/{}/identity/bulk_actions/{}",
        principal.domain.name, accepted.task_id
    );
    let body = json!({
        "task_id": accepted.task_id,
        "state": accepted.state.as_str(),
        "action": request.action,
        "total": task.total,
    });
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(body),
    )
        .into_response())
}
