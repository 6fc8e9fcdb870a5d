//! EXT resumable uploads at `/v2/{domain}/uploads`, as tus 1.0.0 with the `creation`,
//! `creation-with-upload`, `termination` and `expiration` extensions: any tus client can send
//! one large file, resuming after a dropped connection from the offset the server holds. The
//! bytes go to PostgreSQL in parts as they arrive (memory: one part per request), so an upload
//! begun on one gateway process resumes on another and survives restarts. A complete upload
//! becomes one task (`task`), its file read back part by part (`source`).

mod error;
mod protocol;
mod receive;
mod source;
mod task;

pub use error::UploadError;
pub use task::create_task_from_upload;

use crate::Gateway;
use axum::body::Body;
use axum::extract::{Extension, Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use protocol::{
    TUS_EXTENSIONS, TUS_RESUMABLE, TUS_VERSION, check_resumable, http_date, is_offset_stream,
    upload_length, upload_metadata, upload_offset,
};
use userhub_http_common::{ApiError, Principal};
use userhub_store::uploads::{StoredUpload, create_upload, delete_upload, find_upload};

/// An answer with the tus headers every answer carries, plus `extra`.
fn answer(status: StatusCode, extra: &[(&'static str, String)]) -> Response {
    let mut response = status.into_response();
    let headers = response.headers_mut();
    headers.insert("tus-resumable", HeaderValue::from_static(TUS_RESUMABLE));
    for (name, value) in extra {
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert(HeaderName::from_static(name), value);
        }
    }
    response
}

/// `Upload-Expires` for an upload that is not complete yet.
fn expiry(upload: &StoredUpload) -> Option<(&'static str, String)> {
    (!upload.is_complete()).then(|| ("upload-expires", http_date(upload.expires_at)))
}

/// `OPTIONS /v2/{domain}/uploads`: what the server supports.
pub async fn options(State(gateway): State<Gateway>) -> Response {
    answer(
        StatusCode::NO_CONTENT,
        &[
            ("tus-version", TUS_VERSION.to_owned()),
            ("tus-extension", TUS_EXTENSIONS.to_owned()),
            (
                "tus-max-size",
                gateway.settings.upload_max_bytes.to_string(),
            ),
        ],
    )
}

/// `POST /v2/{domain}/uploads`: a new upload of `Upload-Length` bytes, and with an
/// `application/offset+octet-stream` body its first bytes.
pub async fn create(
    State(gateway): State<Gateway>,
    Extension(principal): Extension<Principal>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_resumable(&headers)?;
    if principal.read_only {
        return Err(UploadError::ReadOnlyKey.into());
    }
    let length = upload_length(&headers)?;
    let limit = gateway.settings.upload_max_bytes;
    if length as u64 > limit {
        return Err(UploadError::TooLarge { length, limit }.into());
    }
    let metadata = upload_metadata(&headers)?;
    let with_bytes = is_offset_stream(&headers);
    if !with_bytes && receive::declared_length(&headers).unwrap_or(0) > 0 {
        return Err(UploadError::WrongContentType.into());
    }
    let id = uuid::Uuid::new_v4().simple().to_string();
    let hours = i64::try_from(gateway.settings.upload_expiry_hours).unwrap_or(i64::MAX / 3600);
    let expires_at = Utc::now() + chrono::Duration::hours(hours);
    let database = gateway.context.database(&principal);
    let domain_id = principal.domain.id;
    {
        let client = database.get().await.map_err(UploadError::from)?;
        let quota = gateway.settings.upload_domain_max_bytes;
        let limit = i64::try_from(quota).unwrap_or(i64::MAX);
        let created = create_upload(
            &*client, domain_id, &id, length, &metadata, expires_at, limit,
        )
        .await
        .map_err(UploadError::from)?;
        if !created {
            return Err(UploadError::DomainQuota { limit: quota }.into());
        }
    }
    let mut received = 0;
    if with_bytes {
        let target = receive::Target {
            database: database.clone(),
            domain_id,
            id: id.clone(),
            length,
            part_bytes: gateway.settings.upload_part_bytes,
        };
        let (offset, ended) = receive::receive(target, 0, &headers, body).await;
        received = offset;
        // The upload exists whatever happened to its first bytes: the client resumes from the
        // offset. Only a request that was wrong in itself is refused.
        if let Err(refusal @ UploadError::PastLength { .. }) = ended {
            return Err(refusal.into());
        }
    }
    let location = format!("/v2/{}/uploads/{id}", principal.domain.name);
    let mut extra = vec![
        (header::LOCATION.as_str(), location),
        ("upload-offset", received.to_string()),
    ];
    if received < length {
        extra.push(("upload-expires", http_date(expires_at)));
    }
    Ok(answer(StatusCode::CREATED, &extra))
}

/// The domain's upload `id`, refused when unknown or expired.
async fn live_upload(
    gateway: &Gateway,
    principal: &Principal,
    id: &str,
) -> Result<StoredUpload, UploadError> {
    let client = gateway.context.database(principal).get().await?;
    match find_upload(&*client, principal.domain.id, id).await? {
        None => Err(UploadError::NotFound(id.to_owned())),
        Some(upload) if upload.expired => Err(UploadError::Expired(id.to_owned())),
        Some(upload) => Ok(upload),
    }
}

/// `HEAD /v2/{domain}/uploads/{id}`: how far the upload is.
pub async fn head(
    State(gateway): State<Gateway>,
    Extension(principal): Extension<Principal>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_resumable(&headers)?;
    let upload = live_upload(&gateway, &principal, &id).await?;
    let mut extra = vec![
        ("upload-offset", upload.received.to_string()),
        ("upload-length", upload.length.to_string()),
        (header::CACHE_CONTROL.as_str(), "no-store".to_owned()),
    ];
    extra.extend(expiry(&upload));
    Ok(answer(StatusCode::OK, &extra))
}

/// `PATCH /v2/{domain}/uploads/{id}`: the bytes from `Upload-Offset` on.
pub async fn patch(
    State(gateway): State<Gateway>,
    Extension(principal): Extension<Principal>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    check_resumable(&headers)?;
    if principal.read_only {
        return Err(UploadError::ReadOnlyKey.into());
    }
    if !is_offset_stream(&headers) {
        return Err(UploadError::WrongContentType.into());
    }
    let sent = upload_offset(&headers)?;
    let upload = live_upload(&gateway, &principal, &id).await?;
    if upload.received != sent {
        return Err(UploadError::OffsetMismatch {
            stored: upload.received,
            sent,
        }
        .into());
    }
    let target = receive::Target {
        database: gateway.context.database(&principal),
        domain_id: principal.domain.id,
        id,
        length: upload.length,
        part_bytes: gateway.settings.upload_part_bytes,
    };
    let (received, ended) = receive::receive(target, sent, &headers, body).await;
    ended?;
    let mut extra = vec![("upload-offset", received.to_string())];
    if received < upload.length {
        extra.push(("upload-expires", http_date(upload.expires_at)));
    }
    Ok(answer(StatusCode::NO_CONTENT, &extra))
}

/// `DELETE /v2/{domain}/uploads/{id}`: the upload and its bytes are gone.
pub async fn delete(
    State(gateway): State<Gateway>,
    Extension(principal): Extension<Principal>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    check_resumable(&headers)?;
    if principal.read_only {
        return Err(UploadError::ReadOnlyKey.into());
    }
    let client = gateway
        .context
        .database(&principal)
        .get()
        .await
        .map_err(UploadError::from)?;
    if !delete_upload(&*client, principal.domain.id, &id)
        .await
        .map_err(UploadError::from)?
    {
        return Err(UploadError::NotFound(id).into());
    }
    Ok(answer(StatusCode::NO_CONTENT, &[]))
}
