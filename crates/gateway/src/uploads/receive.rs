//! Storing an upload request's bytes as they arrive: buffered up to one part, each part written
//! with the move of the upload's offset in one transaction, a connection taken only to write.
//! When the body breaks off or pauses too long, what arrived is stored first, so the client
//! resumes from there — on a task of its own, since a client that drops its connection also
//! drops the request's handler.

use super::error::UploadError;
use axum::body::Body;
use axum::http::HeaderMap;
use bytes::BytesMut;
use futures_util::StreamExt;
use userhub_domain::DomainId;
use userhub_http_common::BodyTimeout;
use userhub_store::TenantPool;
use userhub_store::uploads::{append_part, find_upload};

/// The upload the bytes go to.
pub struct Target {
    pub database: TenantPool,
    pub domain_id: DomainId,
    pub id: String,
    /// Its announced length.
    pub length: i64,
    /// Bytes per stored part.
    pub part_bytes: usize,
}

/// The request's `Content-Length`, when it gives one.
pub fn declared_length(headers: &HeaderMap) -> Option<i64> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

/// Writes `bytes` at `at`; the new offset.
async fn store(target: &Target, at: i64, bytes: &[u8]) -> Result<i64, UploadError> {
    let mut client = target.database.get().await?;
    let transaction = client
        .transaction()
        .await
        .map_err(userhub_store::StoreError::from)?;
    match append_part(&transaction, target.domain_id, &target.id, at, bytes).await? {
        Some(offset) => {
            transaction
                .commit()
                .await
                .map_err(userhub_store::StoreError::from)?;
            Ok(offset)
        }
        None => {
            drop(transaction);
            // Another request moved the offset, or the upload expired or was deleted.
            Err(
                match find_upload(&*client, target.domain_id, &target.id).await? {
                    None => UploadError::NotFound(target.id.clone()),
                    Some(upload) if upload.expired => UploadError::Expired(target.id.clone()),
                    Some(upload) => UploadError::OffsetMismatch {
                        stored: upload.received,
                        sent: at,
                    },
                },
            )
        }
    }
}

/// Stores the body's bytes from offset `at`: the offset reached, and how the body ended. The
/// bytes are read and stored on a task of their own, which finishes (storing what arrived)
/// even when the client goes away and the request is dropped.
pub async fn receive(
    target: Target,
    at: i64,
    headers: &HeaderMap,
    body: Body,
) -> (i64, Result<(), UploadError>) {
    let declared = declared_length(headers);
    match tokio::spawn(async move { read_and_store(&target, at, declared, body).await }).await {
        Ok(received) => received,
        Err(failed) => (at, Err(UploadError::BodyBroken(failed.to_string()))),
    }
}

async fn read_and_store(
    target: &Target,
    mut at: i64,
    declared: Option<i64>,
    body: Body,
) -> (i64, Result<(), UploadError>) {
    let past_length = |received| UploadError::PastLength {
        length: target.length,
        received,
    };
    if declared.is_some_and(|declared| at + declared > target.length) {
        return (at, Err(past_length(at)));
    }
    let part = target.part_bytes.max(1);
    let mut buffer = BytesMut::new();
    let mut stream = body.into_data_stream();
    let ended = loop {
        match stream.next().await {
            Some(Ok(bytes)) => {
                if at + (buffer.len() + bytes.len()) as i64 > target.length {
                    break Err(past_length(at + buffer.len() as i64));
                }
                buffer.extend_from_slice(&bytes);
                while buffer.len() >= part {
                    let piece = buffer.split_to(part);
                    match store(target, at, &piece).await {
                        Ok(offset) => at = offset,
                        Err(error) => return (at, Err(error)),
                    }
                }
            }
            Some(Err(error)) => {
                break Err(match BodyTimeout::behind(&error) {
                    Some(timeout) => UploadError::TimedOut(timeout),
                    None => UploadError::BodyBroken(error.to_string()),
                });
            }
            None => break Ok(()),
        }
    };
    // What arrived before the end (or the break) is kept.
    if !buffer.is_empty() {
        match store(target, at, &buffer).await {
            Ok(offset) => at = offset,
            Err(error) => return (at, Err(error)),
        }
    }
    (at, ended)
}
