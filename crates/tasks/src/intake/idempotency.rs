//! `Idempotency-Key` (EXT): a retried create request with the same key and the same content
//! returns the original task instead of creating a second one. Keys are per domain and kept for
//! 24 hours; the content is compared by a hash of the action and the records' text, so the same
//! records sent in another encoding (form, JSONL, JSON) count as the same request.

use crate::error::TaskError;
use sha2::{Digest, Sha256};
use userhub_domain::record::raw::{RawRecord, RecordContent};
use userhub_domain::{DomainId, TaskKey};
use userhub_domain::{TaskAction, TaskOptions};
use userhub_store::TenantPool;
use userhub_store::tasks::{TaskRecord, find_by_idempotency_key, release_idempotency_key};

/// The longest key a client may give.
pub const MAX_KEY_CHARS: usize = 255;
/// How long a key is remembered.
pub const KEY_TTL_HOURS: i64 = 24;

/// A key and the hash of the request's content.
#[derive(Debug, Clone)]
pub struct Idempotency {
    pub key: String,
    pub request_hash: Vec<u8>,
}

/// What an earlier request with the same key means for this one.
#[derive(Debug)]
pub enum Prior {
    /// No earlier request (or it expired): go ahead.
    None,
    /// The same request was accepted: answer with its task.
    Replay(Box<TaskRecord>),
}

/// The prefix of the keys the server gives retries of failed records and reverts (see
/// `control`); clients may not use it, so that no request of theirs can pass for either.
pub const RETRY_KEY_PREFIX: &str = "userhub-retry:";

fn hasher_of(action: TaskAction, options: &TaskOptions) -> Sha256 {
    let mut hasher = Sha256::new();
    hasher.update(action.as_str().as_bytes());
    if !options.is_default() {
        // Old tasks (without options) keep their hash.
        hasher.update(
            serde_json::to_string(options)
                .unwrap_or_default()
                .as_bytes(),
        );
    }
    hasher
}

/// The hash of a task from an upload: its action, options and the upload (whose bytes cannot
/// change once complete).
pub fn upload_request_hash(action: TaskAction, options: &TaskOptions, upload_id: &str) -> Vec<u8> {
    let mut hasher = hasher_of(action, options);
    hasher.update(b"\nupload:");
    hasher.update(upload_id.as_bytes());
    hasher.finalize().to_vec()
}

/// The hash of what the request asks for: its action and every record's text, in order.
pub fn request_hash(action: TaskAction, options: &TaskOptions, records: &[RawRecord]) -> Vec<u8> {
    let mut hasher = hasher_of(action, options);
    for record in records {
        hasher.update(b"\n");
        match &record.content {
            RecordContent::Json(json) => hasher.update(json.get().as_bytes()),
            RecordContent::Broken { raw, .. } => hasher.update(raw.as_bytes()),
        }
    }
    hasher.finalize().to_vec()
}

/// Looks for an earlier request with the key in the domain.
pub async fn check(
    pool: &TenantPool,
    domain_id: DomainId,
    idempotency: &Idempotency,
) -> Result<Prior, TaskError> {
    let client = pool.get().await.map_err(TaskError::from)?;
    let found = find_by_idempotency_key(&*client, domain_id, &idempotency.key, KEY_TTL_HOURS)
        .await
        .map_err(TaskError::from)?;
    let Some((task, hash, expired)) = found else {
        return Ok(Prior::None);
    };
    if expired {
        release_idempotency_key(&*client, TaskKey::new(domain_id, task.id))
            .await
            .map_err(TaskError::from)?;
        return Ok(Prior::None);
    }
    if task.state == userhub_domain::TaskState::Created {
        return Err(TaskError::IdempotencyKeyInUse);
    }
    if hash.as_deref() != Some(idempotency.request_hash.as_slice()) {
        return Err(TaskError::IdempotencyKeyReused);
    }
    Ok(Prior::Replay(Box::new(task)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testing::records;

    #[test]
    fn the_hash_covers_the_action_the_options_and_every_record_in_order() {
        let hash = |action, options: &TaskOptions, text: &str| {
            request_hash(action, options, &records(text))
        };
        let plain = TaskOptions::default();
        let base = hash(
            TaskAction::CreateCoreProfiles,
            &plain,
            "{\"a\":1}\n{\"b\":2}\n",
        );
        assert_eq!(
            base,
            hash(
                TaskAction::CreateCoreProfiles,
                &plain,
                "{\"a\":1}\r\n\n{\"b\":2}"
            ),
            "line endings and blank lines are not content"
        );
        assert_ne!(
            base,
            hash(
                TaskAction::UpdateCoreProfiles,
                &plain,
                "{\"a\":1}\n{\"b\":2}\n"
            )
        );
        assert_ne!(
            base,
            hash(
                TaskAction::CreateCoreProfiles,
                &plain,
                "{\"b\":2}\n{\"a\":1}\n"
            )
        );
        assert_ne!(
            base,
            hash(TaskAction::CreateCoreProfiles, &plain, "{\"a\":1}\n")
        );
        let dry_run = TaskOptions {
            dry_run: true,
            ..TaskOptions::default()
        };
        assert_ne!(
            base,
            hash(
                TaskAction::CreateCoreProfiles,
                &dry_run,
                "{\"a\":1}\n{\"b\":2}\n"
            )
        );
    }
}
