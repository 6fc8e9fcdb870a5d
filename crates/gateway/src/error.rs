//! The gateway's request-level errors and their HTTP status table: the one place they become
//! responses (database and broker faults through http-common's mapping).

use crate::problems::{ActionProblem, OptionProblem};
use axum::http::StatusCode;

use userhub_http_common::ApiError;
use userhub_http_common::decode::{DecodeError, MediaProblem, PayloadProblem};
use userhub_store::StoreError;
use userhub_tasks::TaskError;

/// Why a create request was refused (no task was created).
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    #[error(transparent)]
    InvalidAction(#[from] ActionProblem),
    #[error(transparent)]
    InvalidPayload(#[from] PayloadProblem),
    #[error(transparent)]
    InvalidOption(#[from] OptionProblem),
    /// A request field (`action`, `payload`, an option) given more than once.
    #[error("`{0}` is given more than once; give each field once")]
    RepeatedField(String),
    /// A request field that is neither `action`, the records nor an option.
    #[error(
        "`{0}` is not a field of a task request: the fields are `action`, `payload` (or \
         `columns` with `rows`, or `upload_id`), `options` and the options `match_by`, \
         `skip_triggers`, `workflow_id`, `dry_run`"
    )]
    UnknownField(String),
    /// A query parameter the endpoint does not take.
    #[error("unknown query parameter `{0}`; this endpoint takes `wait` and the task options")]
    UnknownParameter(String),
    #[error("the payload holds more than {limit} records")]
    TooManyRecords { limit: usize },
    #[error("the request body is larger than {limit} bytes")]
    PayloadTooLarge { limit: u64 },
    #[error(transparent)]
    UnsupportedMediaType(#[from] MediaProblem),
    #[error(
        "the request body is larger than {limit} bytes, the most a read-only key may send (its \
         tasks are exports, whose records are ids or one selector)"
    )]
    ReadOnlyBodyTooLarge { limit: u64 },
    #[error(
        "`Idempotency-Key` must be 1 to {} visible ASCII characters, not starting with `{}`",
        userhub_tasks::intake::idempotency::MAX_KEY_CHARS,
        userhub_tasks::intake::idempotency::RETRY_KEY_PREFIX
    )]
    InvalidIdempotencyKey,
    #[error(transparent)]
    TimedOut(#[from] userhub_http_common::BodyTimeout),
    /// The task protocol refused or failed the request.
    #[error(transparent)]
    Task(#[from] TaskError),
    #[error("no upload `{0}` in this domain")]
    UploadNotFound(String),
    #[error(
        "upload `{id}` holds {received} of its {length} bytes: finish it (tus PATCH) before \
         making a task of it"
    )]
    UploadIncomplete {
        id: String,
        received: i64,
        length: i64,
    },
    #[error("upload `{id}` already became task {task_id}; an upload makes one task")]
    UploadUsed { id: String, task_id: u64 },
    #[error("`wait=true` is not available for a task from an upload; poll its status instead")]
    WaitForUpload,
}

impl From<DecodeError> for GatewayError {
    fn from(error: DecodeError) -> Self {
        match error {
            DecodeError::TooManyRecords { limit } => GatewayError::TooManyRecords { limit },
            DecodeError::TooLarge { limit } => GatewayError::PayloadTooLarge { limit },
            DecodeError::TimedOut(timeout) => GatewayError::TimedOut(timeout),
            DecodeError::Invalid(problem) => GatewayError::InvalidPayload(problem),
        }
    }
}

impl From<userhub_http_common::decode::BodyError> for GatewayError {
    fn from(error: userhub_http_common::decode::BodyError) -> Self {
        GatewayError::from(DecodeError::from(error))
    }
}

impl From<GatewayError> for ApiError {
    fn from(error: GatewayError) -> Self {
        let message = error.to_string();
        match error {
            GatewayError::InvalidAction(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_ACTION", message)
            }
            GatewayError::InvalidPayload(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PAYLOAD", message)
            }
            GatewayError::InvalidOption(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_OPTION", message)
            }
            GatewayError::RepeatedField(field) => {
                let code = match field.as_str() {
                    "action" => "INVALID_ACTION",
                    "payload" | "columns" | "rows" => "INVALID_PAYLOAD",
                    _ => "INVALID_OPTION",
                };
                ApiError::new(StatusCode::BAD_REQUEST, code, message)
                    .with_details(serde_json::json!({ "field": field }))
            }
            GatewayError::UnknownField(field) => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_OPTION", message)
                    .with_details(serde_json::json!({ "field": field }))
            }
            GatewayError::UnknownParameter(parameter) => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_PARAMETER", message)
                    .with_details(serde_json::json!({ "parameter": parameter }))
            }
            GatewayError::TooManyRecords { limit } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "TOO_MANY_RECORDS", message)
                    .with_details(serde_json::json!({ "limit": limit }))
            }
            GatewayError::PayloadTooLarge { limit }
            | GatewayError::ReadOnlyBodyTooLarge { limit } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "PAYLOAD_TOO_LARGE", message)
                    .with_details(serde_json::json!({ "limit_bytes": limit }))
            }
            GatewayError::UnsupportedMediaType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                message,
            ),
            GatewayError::Task(error) => ApiError::from(error),
            GatewayError::InvalidIdempotencyKey => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_IDEMPOTENCY_KEY", message)
            }

            GatewayError::TimedOut(timeout) => ApiError::from(timeout),
            GatewayError::UploadNotFound(id) => {
                ApiError::new(StatusCode::NOT_FOUND, "UPLOAD_NOT_FOUND", message)
                    .with_details(serde_json::json!({ "upload_id": id }))
            }
            GatewayError::UploadIncomplete {
                id,
                received,
                length,
            } => ApiError::new(StatusCode::CONFLICT, "UPLOAD_INCOMPLETE", message).with_details(
                serde_json::json!({ "upload_id": id, "upload_offset": received, "upload_length": length }),
            ),
            GatewayError::UploadUsed { id, task_id } => {
                ApiError::new(StatusCode::CONFLICT, "UPLOAD_USED", message)
                    .with_details(serde_json::json!({ "upload_id": id, "task_id": task_id }))
            }
            GatewayError::WaitForUpload => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_OPTION", message)
                    .with_details(serde_json::json!({ "field": "wait" }))
            }
        }
    }
}

impl From<StoreError> for GatewayError {
    fn from(error: StoreError) -> Self {
        GatewayError::Task(TaskError::Store(error))
    }
}
