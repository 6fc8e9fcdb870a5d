//! Why an upload request was refused, and the one table that turns each reason into its tus
//! answer (status, code, and the `Tus-*` headers a tus client reads).

use super::protocol::{TUS_RESUMABLE, TUS_VERSION};
use axum::http::StatusCode;
use userhub_http_common::{ApiError, BodyTimeout};
use userhub_store::StoreError;
use userhub_tasks::TaskError;

#[derive(Debug, thiserror::Error)]
pub enum UploadError {
    #[error("`Tus-Resumable: {TUS_VERSION}` is required (this server speaks tus {TUS_VERSION})")]
    UnsupportedVersion,
    #[error("`{name}` {problem}")]
    InvalidHeader {
        name: &'static str,
        problem: &'static str,
    },
    #[error("`Upload-Metadata`: {0}")]
    InvalidMetadata(String),
    #[error("the upload would hold {length} bytes; at most {limit} are accepted")]
    TooLarge { length: i64, limit: u64 },
    #[error(
        "the domain's uploads not yet made into tasks would hold more than {limit} bytes: make \
         tasks of them or delete some first"
    )]
    DomainQuota { limit: u64 },
    #[error("a read-only key cannot upload")]
    ReadOnlyKey,
    #[error("no upload `{0}` in this domain")]
    NotFound(String),
    #[error("upload `{0}` expired before it was complete; start a new one")]
    Expired(String),
    #[error("the upload is at offset {stored}, not {sent}: ask with HEAD and resume from there")]
    OffsetMismatch { stored: i64, sent: i64 },
    #[error("a PATCH body must be `application/offset+octet-stream`")]
    WrongContentType,
    #[error(
        "the bytes sent go past the upload's length of {length} bytes; it holds {received} and \
         nothing past that was stored"
    )]
    PastLength { length: i64, received: i64 },
    #[error(transparent)]
    TimedOut(#[from] BodyTimeout),
    #[error("the request body broke off: {0}")]
    BodyBroken(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<UploadError> for ApiError {
    fn from(error: UploadError) -> Self {
        let message = error.to_string();
        let answer = match error {
            UploadError::UnsupportedVersion => {
                ApiError::new(StatusCode::PRECONDITION_FAILED, "TUS_VERSION", message)
                    .with_header("tus-version", TUS_VERSION)
            }
            UploadError::InvalidHeader { name, .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_HEADER", message)
                    .with_details(serde_json::json!({ "header": name }))
            }
            UploadError::InvalidMetadata(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "INVALID_UPLOAD_METADATA", message)
            }
            UploadError::TooLarge { limit, .. } => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, "UPLOAD_TOO_LARGE", message)
                    .with_details(serde_json::json!({ "limit_bytes": limit }))
                    .with_header("tus-max-size", limit)
            }
            UploadError::DomainQuota { limit } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "UPLOAD_QUOTA_EXCEEDED",
                message,
            )
            .with_details(serde_json::json!({ "limit_bytes": limit })),
            UploadError::ReadOnlyKey => ApiError::forbidden(message),
            UploadError::NotFound(_) => {
                ApiError::new(StatusCode::NOT_FOUND, "UPLOAD_NOT_FOUND", message)
            }
            UploadError::Expired(_) => ApiError::new(StatusCode::GONE, "UPLOAD_EXPIRED", message),
            UploadError::OffsetMismatch { stored, .. } => {
                ApiError::new(StatusCode::CONFLICT, "UPLOAD_OFFSET_MISMATCH", message)
                    .with_details(serde_json::json!({ "upload_offset": stored }))
                    .with_header("upload-offset", stored)
            }
            UploadError::WrongContentType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "UNSUPPORTED_MEDIA_TYPE",
                message,
            ),
            UploadError::PastLength { received, .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, "UPLOAD_PAST_LENGTH", message)
                    .with_details(serde_json::json!({ "upload_offset": received }))
                    .with_header("upload-offset", received)
            }
            UploadError::TimedOut(timeout) => ApiError::from(timeout),
            UploadError::BodyBroken(_) => {
                ApiError::new(StatusCode::BAD_REQUEST, "BODY_BROKEN", message)
            }
            UploadError::Store(error) => ApiError::from(TaskError::Store(error)),
        };
        answer.with_header("tus-resumable", TUS_RESUMABLE)
    }
}
