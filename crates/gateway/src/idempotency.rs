//! `Idempotency-Key` (EXT): a retried create request with the same key and the same content
//! returns the original task instead of creating a second one. Keys are per domain and kept for
//! 24 hours; the content is compared by a hash of the action and the records' text, so the same
//! records sent in another encoding (form, JSONL, JSON) count as the same request.

use crate::error::GatewayError;
use axum::http::HeaderMap;
use sha2::{Digest, Sha256};
use userhub_domain::{DomainId, TaskKey};
use userhub_domain::{TaskAction, TaskOptions};
use userhub_http_common::decode::{RawRecord, RecordContent};
use userhub_store::TenantPool;
use userhub_store::tasks::{TaskRecord, find_by_idempotency_key, release_idempotency_key};

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";
pub(crate) const MAX_KEY_CHARS: usize = 255;
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

/// The prefix of the keys the server gives retries of failed records (`retry.rs`) and reverts
/// (`revert.rs`); clients may not use it, so that no request of theirs can pass for either.
pub const RETRY_KEY_PREFIX: &str = "userhub-retry:";

/// Reads the header, if present (≤ 255 visible ASCII characters, not starting with
/// [`RETRY_KEY_PREFIX`]).
pub fn key_of(headers: &HeaderMap) -> Result<Option<String>, GatewayError> {
    let Some(value) = headers.get(IDEMPOTENCY_HEADER) else {
        return Ok(None);
    };
    let key = value.to_str().ok().map(str::trim).unwrap_or_default();
    let valid = !key.is_empty()
        && key.len() <= MAX_KEY_CHARS
        && key.bytes().all(|b| b.is_ascii_graphic())
        && !key.starts_with(RETRY_KEY_PREFIX);
    if !valid {
        return Err(GatewayError::InvalidIdempotencyKey);
    }
    Ok(Some(key.to_owned()))
}

/// The hash of what the request asks for: its action and every record's text, in order.
pub fn request_hash(action: TaskAction, options: &TaskOptions, records: &[RawRecord]) -> Vec<u8> {
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
) -> Result<Prior, GatewayError> {
    let client = pool.get().await.map_err(GatewayError::from)?;
    let found = find_by_idempotency_key(&*client, domain_id, &idempotency.key, KEY_TTL_HOURS)
        .await
        .map_err(GatewayError::from)?;
    let Some((task, hash, expired)) = found else {
        return Ok(Prior::None);
    };
    if expired {
        release_idempotency_key(&*client, TaskKey::new(domain_id, task.id))
            .await
            .map_err(GatewayError::from)?;
        return Ok(Prior::None);
    }
    if task.state == userhub_domain::TaskState::Created {
        return Err(GatewayError::IdempotencyKeyInUse);
    }
    if hash.as_deref() != Some(idempotency.request_hash.as_slice()) {
        return Err(GatewayError::IdempotencyKeyReused);
    }
    Ok(Prior::Replay(Box::new(task)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use userhub_http_common::decode::PayloadCollector;

    fn records(text: &str) -> Vec<RawRecord> {
        let mut collector = PayloadCollector::new(100, 10_000, false);
        collector.push(text.as_bytes()).unwrap();
        collector.finish().unwrap().1
    }

    #[test]
    fn the_same_records_in_another_encoding_hash_alike() {
        let as_array = request_hash(
            TaskAction::CreateCoreProfiles,
            &TaskOptions::default(),
            &records("[{\"a\":1}, {\"b\":2}]"),
        );
        let as_lines = request_hash(
            TaskAction::CreateCoreProfiles,
            &TaskOptions::default(),
            &records("{\"a\":1}\r\n{\"b\":2}\n"),
        );
        assert_eq!(as_array, as_lines);
        let other_action = request_hash(
            TaskAction::UpdateCoreProfiles,
            &TaskOptions::default(),
            &records("{\"a\":1}\n{\"b\":2}\n"),
        );
        assert_ne!(as_array, other_action);
        assert_ne!(
            as_array,
            request_hash(
                TaskAction::CreateCoreProfiles,
                &TaskOptions::default(),
                &records("{\"a\":1}\n")
            )
        );
    }

    #[test]
    fn keys_are_bounded_visible_ascii() {
        let mut headers = HeaderMap::new();
        assert_eq!(key_of(&headers).unwrap(), None);
        headers.insert(IDEMPOTENCY_HEADER, HeaderValue::from_static("order-42"));
        assert_eq!(key_of(&headers).unwrap().as_deref(), Some("order-42"));
        headers.insert(
            IDEMPOTENCY_HEADER,
            HeaderValue::from_str(&"k".repeat(256)).unwrap(),
        );
        assert!(key_of(&headers).is_err());
        headers.insert(
            IDEMPOTENCY_HEADER,
            HeaderValue::from_static("userhub-retry:1:retryable"),
        );
        assert!(
            key_of(&headers).is_err(),
            "the retries' own keys are reserved"
        );
        headers.insert(IDEMPOTENCY_HEADER, HeaderValue::from_static("has space"));
        assert!(key_of(&headers).is_err());
    }
}
