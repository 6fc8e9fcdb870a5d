//! Resumable uploads (EXT, tus 1.0): an upload's row and its bytes in parts, written as they
//! arrive so that any gateway process can resume an upload another one began.

use crate::error::StoreError;
use chrono::{DateTime, Utc};
use deadpool_postgres::{GenericClient, Transaction};
use tokio_postgres::types::Json;
use userhub_domain::DomainId;
use userhub_domain::upload::UploadMetadata;

/// An upload as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredUpload {
    /// The bytes announced (`Upload-Length`).
    pub length: i64,
    /// The bytes received so far (`Upload-Offset`).
    pub received: i64,
    pub metadata: UploadMetadata,
    /// When an incomplete upload expires.
    pub expires_at: DateTime<Utc>,
    /// Incomplete and past its expiry.
    pub expired: bool,
    /// The task the upload became, once it has.
    pub task_id: Option<i64>,
}

impl StoredUpload {
    pub fn is_complete(&self) -> bool {
        self.received == self.length
    }
}

/// Records a new upload of `length` bytes, incomplete until `expires_at`, unless the domain's
/// uploads not yet made into tasks would then announce more than `domain_max_bytes`: whether it
/// was recorded. (Concurrent creations may pass the check together: the overshoot is bounded by
/// the creations in flight.)
pub async fn create_upload(
    client: &impl GenericClient,
    domain_id: DomainId,
    id: &str,
    length: i64,
    metadata: &UploadMetadata,
    expires_at: DateTime<Utc>,
    domain_max_bytes: i64,
) -> Result<bool, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/uploads/create.sql"))
        .await?;
    let created = client
        .query_opt(
            &statement,
            &[
                &domain_id.as_i64(),
                &id,
                &length,
                &Json(metadata),
                &expires_at,
                &domain_max_bytes,
            ],
        )
        .await?;
    Ok(created.is_some())
}

/// The domain's upload `id`, if it exists.
pub async fn find_upload(
    client: &impl GenericClient,
    domain_id: DomainId,
    id: &str,
) -> Result<Option<StoredUpload>, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/uploads/find.sql"))
        .await?;
    let Some(row) = client
        .query_opt(&statement, &[&domain_id.as_i64(), &id])
        .await?
    else {
        return Ok(None);
    };
    let Json(metadata): Json<UploadMetadata> = row.try_get("metadata")?;
    Ok(Some(StoredUpload {
        length: row.get("length"),
        received: row.get("received"),
        metadata,
        expires_at: row.get("expires_at"),
        expired: row.get("expired"),
        task_id: row.get("task_id"),
    }))
}

/// Appends `bytes` at offset `at` in the caller's transaction: the new offset, or `None` when
/// the upload is no longer at `at` (another request moved it), would grow past its length, has
/// expired or is gone — then nothing is written.
pub async fn append_part(
    transaction: &Transaction<'_>,
    domain_id: DomainId,
    id: &str,
    at: i64,
    bytes: &[u8],
) -> Result<Option<i64>, StoreError> {
    let advance = transaction
        .prepare_cached(include_str!("../queries/uploads/advance.sql"))
        .await?;
    let length = bytes.len() as i64;
    let Some(row) = transaction
        .query_opt(&advance, &[&domain_id.as_i64(), &id, &at, &length])
        .await?
    else {
        return Ok(None);
    };
    let insert = transaction
        .prepare_cached(include_str!("../queries/uploads/insert_part.sql"))
        .await?;
    transaction
        .execute(&insert, &[&domain_id.as_i64(), &id, &at, &bytes])
        .await?;
    Ok(Some(row.get(0)))
}

/// Deletes the domain's upload `id` with its bytes; whether it existed.
pub async fn delete_upload(
    client: &impl GenericClient,
    domain_id: DomainId,
    id: &str,
) -> Result<bool, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/uploads/delete.sql"))
        .await?;
    Ok(client
        .query_opt(&statement, &[&domain_id.as_i64(), &id])
        .await?
        .is_some())
}

/// Deletes up to `batch` uploads past their expiry (a complete one's is twice an incomplete
/// one's); how many.
pub async fn expire_uploads(client: &impl GenericClient, batch: i64) -> Result<u64, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/uploads/expire.sql"))
        .await?;
    Ok(client.execute(&statement, &[&batch]).await?)
}

/// The part of upload `id` that starts at byte `offset`, if there is one (parts follow each
/// other without gaps, so a reader asks for the offset where the last part ended).
pub async fn read_part(
    client: &impl GenericClient,
    domain_id: DomainId,
    id: &str,
    offset: i64,
) -> Result<Option<Vec<u8>>, StoreError> {
    let statement = client
        .prepare_cached(include_str!("../queries/uploads/read_part.sql"))
        .await?;
    let row = client
        .query_opt(&statement, &[&domain_id.as_i64(), &id, &offset])
        .await?;
    Ok(row.map(|row| row.get(0)))
}

/// Whether an upload may become a task, as [`lock_upload`] finds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadClaim {
    /// Complete and not yet a task: locked for the caller's transaction.
    Free,
    Missing,
    Incomplete,
    /// Already task `.0`.
    Used(i64),
}

/// Locks upload `id` for the caller's transaction and says whether it may become a task.
pub async fn lock_upload(
    transaction: &Transaction<'_>,
    domain_id: DomainId,
    id: &str,
) -> Result<UploadClaim, StoreError> {
    let statement = transaction
        .prepare_cached(include_str!("../queries/uploads/claim.sql"))
        .await?;
    let Some(row) = transaction
        .query_opt(&statement, &[&domain_id.as_i64(), &id])
        .await?
    else {
        return Ok(UploadClaim::Missing);
    };
    if let Some(task_id) = row.get::<_, Option<i64>>("task_id") {
        return Ok(UploadClaim::Used(task_id));
    }
    if !row.get::<_, bool>("complete") {
        return Ok(UploadClaim::Incomplete);
    }
    Ok(UploadClaim::Free)
}

/// Records in the caller's transaction that upload `id` became task `task_id` (its parts stay
/// until [`drop_upload_parts`]: the task's acceptance reads them after this commits).
pub async fn set_upload_task(
    transaction: &Transaction<'_>,
    domain_id: DomainId,
    id: &str,
    task_id: i64,
) -> Result<(), StoreError> {
    let statement = transaction
        .prepare_cached(include_str!("../queries/uploads/set_task.sql"))
        .await?;
    transaction
        .execute(&statement, &[&domain_id.as_i64(), &id, &task_id])
        .await?;
    Ok(())
}

/// Drops the parts of upload `id` once its task holds every record.
pub async fn drop_upload_parts(
    client: &impl GenericClient,
    domain_id: DomainId,
    id: &str,
) -> Result<(), StoreError> {
    client
        .execute(
            include_str!("../queries/uploads/drop_parts.sql"),
            &[&domain_id.as_i64(), &id],
        )
        .await?;
    Ok(())
}
