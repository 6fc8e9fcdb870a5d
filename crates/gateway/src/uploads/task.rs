//! `POST /v2/{domain}/identity/bulk_actions` naming an `upload_id`: one task of every record in a
//! complete upload's file. The task is accepted on a task of its own (a dropped client does not
//! abandon it half-way); the request answers `201` once it is `queued`, or `202` with the task
//! still `created` if that takes longer than `gateway.upload_task_wait_ms`.

use super::source::UploadSource;
use crate::Gateway;
use crate::error::GatewayError;
use crate::request::UploadTaskRequest;
use crate::routes::created_response;
use axum::http::StatusCode;
use axum::response::Response;
use std::time::Duration;
use userhub_http_common::{ApiError, Principal};
use userhub_store::uploads::find_upload;
use userhub_tasks::intake::{Created, StreamedTask, Submitted};

/// How much a gzip upload may expand, as a multiple of the largest upload.
const MAX_EXPANSION: u64 = 16;

/// The source of a complete upload that has not become a task, or why it cannot become one
/// (an upload that did is left to the idempotency check when the request carries a key).
async fn usable_upload(
    gateway: &Gateway,
    principal: &Principal,
    id: &str,
    keyed: bool,
) -> Result<UploadSource, GatewayError> {
    let database = gateway.context.database(principal);
    let upload = {
        let client = database
            .get()
            .await
            .map_err(userhub_tasks::TaskError::from)?;
        find_upload(&*client, principal.domain.id, id).await?
    };
    let upload = upload
        .filter(|upload| !upload.expired)
        .ok_or_else(|| GatewayError::UploadNotFound(id.to_owned()))?;
    if !upload.is_complete() {
        return Err(GatewayError::UploadIncomplete {
            id: id.to_owned(),
            received: upload.received,
            length: upload.length,
        });
    }
    if let (Some(task_id), false) = (upload.task_id, keyed) {
        return Err(GatewayError::UploadUsed {
            id: id.to_owned(),
            task_id: task_id as u64,
        });
    }
    let settings = &gateway.settings;
    Ok(UploadSource {
        database,
        domain_id: principal.domain.id,
        id: id.to_owned(),
        length: upload.length,
        metadata: upload.metadata,
        record_limit: gateway
            .context
            .request_limits
            .records_per_upload(&principal.domain),
        max_line_bytes: settings.max_line_bytes,
        max_decoded_bytes: settings.upload_max_bytes.saturating_mul(MAX_EXPANSION),
    })
}

/// Makes the task of `request`'s upload and answers for it.
pub async fn create_task_from_upload(
    gateway: Gateway,
    principal: Principal,
    request: UploadTaskRequest,
    idempotency_key: Option<String>,
) -> Result<Response, ApiError> {
    let source = usable_upload(
        &gateway,
        &principal,
        &request.upload_id,
        idempotency_key.is_some(),
    )
    .await?;
    let submitter = gateway.submitter(&principal);
    let task = StreamedTask {
        action: request.action,
        options: request.options,
        source_id: request.upload_id,
        source,
    };
    let (recorded, on_record) = tokio::sync::oneshot::channel::<Created>();
    let intake = gateway.intake.clone();
    let mut accepting = tokio::spawn(async move {
        let accepted = intake
            .submit_stream(&submitter, task, idempotency_key, move |created| {
                let _ = recorded.send(created);
            })
            .await;
        // After a `202` nobody else hears of a failure: the task was withdrawn.
        match &accepted {
            Err(error) => {
                tracing::warn!(domain = %submitter.domain, %error, "a task from an upload was not accepted");
            }
            // What a `202` cannot say in `Server-Timing`: where the acceptance's time went.
            Ok(submitted) => {
                let steps: Vec<String> = submitted
                    .timings
                    .steps()
                    .iter()
                    .map(|(name, took)| format!("{name}={}ms", took.as_millis()))
                    .collect();
                tracing::info!(
                    domain = %submitter.domain,
                    task_id = %submitted.created.task_id,
                    records = submitted.created.total,
                    steps = %steps.join(" "),
                    "a task from an upload was accepted"
                );
            }
        }
        accepted
    });
    let domain = &principal.domain.name;
    let joined = |joined: Result<Result<Submitted, GatewayError>, tokio::task::JoinError>| {
        let submitted = joined.map_err(|error| ApiError::internal(&error.to_string()))??;
        Ok::<_, ApiError>(created_response(
            domain,
            &submitted.created,
            submitted.replayed,
        ))
    };
    // Until the task's row exists there is nothing to answer with but the outcome.
    let Ok(created) = on_record.await else {
        return joined(accepting.await);
    };
    let wait = Duration::from_millis(gateway.settings.upload_task_wait_ms);
    match tokio::time::timeout(wait, &mut accepting).await {
        Ok(outcome) => joined(outcome),
        Err(_) => {
            let mut response = created_response(domain, &created, false);
            *response.status_mut() = StatusCode::ACCEPTED;
            Ok(response)
        }
    }
}
