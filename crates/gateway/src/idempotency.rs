//! The `Idempotency-Key` header (EXT): read and checked here; what a key means for a task is
//! the intake's (`userhub_tasks::intake::idempotency`).

use crate::error::GatewayError;
use axum::http::HeaderMap;
use userhub_tasks::intake::idempotency::{MAX_KEY_CHARS, RETRY_KEY_PREFIX};

pub const IDEMPOTENCY_HEADER: &str = "idempotency-key";

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

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn keys_are_short_visible_ascii_and_not_the_servers_own() {
        let mut headers = HeaderMap::new();
        assert_eq!(key_of(&headers).unwrap(), None);
        headers.insert(IDEMPOTENCY_HEADER, HeaderValue::from_static(" import-7 "));
        assert_eq!(key_of(&headers).unwrap().as_deref(), Some("import-7"));
        for bad in ["", "a b", "userhub-retry:1:all"] {
            headers.insert(IDEMPOTENCY_HEADER, HeaderValue::from_str(bad).unwrap());
            assert!(key_of(&headers).is_err(), "{bad:?}");
        }
        let long = "k".repeat(MAX_KEY_CHARS + 1);
        headers.insert(IDEMPOTENCY_HEADER, HeaderValue::from_str(&long).unwrap());
        assert!(key_of(&headers).is_err());
    }
}
