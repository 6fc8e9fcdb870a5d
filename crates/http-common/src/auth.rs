//! Authentication of API keys (Bearer, or Basic with the key as user name) with a short cache,
//! and why a key was not accepted ([`AuthFailure`], mapped to its answer once).

use crate::error::ApiError;
use axum::http::HeaderValue;
use base64::Engine;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use userhub_domain::api_key::{constant_time_eq, hash_secret, parse_key};
use userhub_store::api_keys::{StoredKey, find_key};
use userhub_store::domains::Domain;
use userhub_store::{Pool, StoreError};

/// Cached keys are bounded; when full, expired entries go and new keys wait for room.
const MAX_CACHED_KEYS: usize = 10_000;

/// Who is calling: the domain its key opens and whether the key is read-only.
#[derive(Debug, Clone)]
pub struct Principal {
    pub domain: Domain,
    pub read_only: bool,
    pub key_id: String,
}

/// A key found in the database. Unknown key ids are not cached, so that random ids cannot
/// push real keys out (failed attempts are throttled per address instead).
#[derive(Debug, Clone)]
struct CachedLookup {
    key: StoredKey,
    fetched: Instant,
}

/// Verifies keys against their stored hashes; caches lookups for `ttl` (revocation delay).
/// Lookups of keys not cached hold at most a quarter of the pool's connections, so that
/// callers presenting unknown keys never take the connections authenticated requests need.
#[derive(Debug)]
pub struct Authenticator {
    pool: Pool,
    lookups: Semaphore,
    ttl: Duration,
    cache: Mutex<HashMap<String, CachedLookup>>,
    /// Local demo mode only: requests without credentials to this domain are admitted.
    unauthenticated_domain: Option<String>,
}

/// Extracts the key from `Authorization: Bearer <key>` or `Basic base64(<key>:)`.
fn presented_key(authorization: &HeaderValue) -> Option<String> {
    let text = authorization.to_str().ok()?.trim();
    let (scheme, credentials) = text.split_once(' ')?;
    let credentials = credentials.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(credentials.to_owned());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(credentials)
            .ok()?;
        let decoded = String::from_utf8(decoded).ok()?;
        // The key is the user name; a password is not part of it, so one given is refused
        // rather than ignored.
        let (user, password) = decoded.split_once(':').unwrap_or((&decoded, ""));
        return password.is_empty().then(|| user.to_owned());
    }
    None
}

impl Authenticator {
    pub fn new(pool: Pool, ttl: Duration) -> Authenticator {
        let lookups = (pool.status().max_size / 4).max(1);
        Authenticator {
            pool,
            lookups: Semaphore::new(lookups),
            ttl,
            cache: Mutex::new(HashMap::new()),
            unauthenticated_domain: None,
        }
    }

    /// Admits requests without credentials to `domain` (local demo mode; the server refuses this
    /// setting unless it listens on a loopback address).
    pub fn with_unauthenticated_domain(mut self, domain: Option<String>) -> Authenticator {
        self.unauthenticated_domain = domain.filter(|domain| !domain.is_empty());
        self
    }

    async fn anonymous(&self, domain_name: &str) -> Result<Principal, AuthFailure> {
        let client = self
            .pool
            .get()
            .await
            .map_err(|error| AuthFailure::Unavailable(error.into()))?;
        let domain = userhub_store::domains::find_domain(&client, domain_name)
            .await
            .map_err(AuthFailure::Unavailable)?;
        let domain = domain.ok_or(AuthFailure::Missing)?;
        Ok(Principal {
            domain,
            read_only: false,
            key_id: "unauthenticated".to_owned(),
        })
    }

    async fn lookup(&self, key_id: &str) -> Result<Option<StoredKey>, StoreError> {
        if let Some(hit) = self.cached(key_id) {
            return Ok(Some(hit));
        }
        let wait = self.pool.timeouts().wait.unwrap_or(Duration::from_secs(5));
        let _lookup = tokio::time::timeout(wait, self.lookups.acquire())
            .await
            .ok()
            .and_then(Result::ok)
            .ok_or_else(|| StoreError::Unavailable("too many key lookups at once".to_owned()))?;
        let client = self.pool.get().await?;
        let Some(key) = find_key(&client, key_id).await? else {
            return Ok(None);
        };
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if cache.len() >= MAX_CACHED_KEYS {
            let ttl = self.ttl;
            cache.retain(|_, hit| hit.fetched.elapsed() < ttl);
        }
        if cache.len() < MAX_CACHED_KEYS {
            cache.insert(
                key_id.to_owned(),
                CachedLookup {
                    key: key.clone(),
                    fetched: Instant::now(),
                },
            );
        }
        Ok(Some(key))
    }

    fn cached(&self, key_id: &str) -> Option<StoredKey> {
        let cache = self
            .cache
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        cache
            .get(key_id)
            .filter(|hit| hit.fetched.elapsed() < self.ttl)
            .map(|hit| hit.key.clone())
    }

    /// Checks the request's credentials for `domain_name`.
    pub async fn authenticate(
        &self,
        authorization: Option<&HeaderValue>,
        domain_name: &str,
    ) -> Result<Principal, AuthFailure> {
        let Some(authorization) = authorization else {
            if self.unauthenticated_domain.as_deref() == Some(domain_name) {
                return self.anonymous(domain_name).await;
            }
            return Err(AuthFailure::Missing);
        };
        let text = presented_key(authorization).ok_or(AuthFailure::Invalid { key_id: None })?;
        let principal = self.verify(&text).await?;
        if principal.domain.name != domain_name {
            return Err(AuthFailure::OtherDomain);
        }
        Ok(principal)
    }

    /// The principal of a key given without a domain (compatible endpoints whose key travels in
    /// the body or a header and alone names the tenant).
    pub async fn authenticate_key(&self, key: &str) -> Result<Principal, AuthFailure> {
        self.verify(key.trim()).await
    }

    /// The key of an `Authorization` header (Bearer or Basic), if it has one.
    pub fn key_of_header(authorization: &HeaderValue) -> Option<String> {
        presented_key(authorization)
    }

    /// Checks a presented key against its stored hash.
    async fn verify(&self, text: &str) -> Result<Principal, AuthFailure> {
        let Some(presented) = parse_key(text) else {
            return Err(AuthFailure::Invalid { key_id: None });
        };
        let stored = self
            .lookup(presented.key_id)
            .await
            .map_err(AuthFailure::Unavailable)?;
        let Some(stored) = stored else {
            return Err(AuthFailure::Invalid { key_id: None });
        };
        let secret_matches = constant_time_eq(&hash_secret(presented.secret), &stored.secret_hash);
        if !secret_matches {
            // A known id with a wrong secret: a guess at this key, counted per key id.
            return Err(AuthFailure::Invalid {
                key_id: Some(presented.key_id.to_owned()),
            });
        }
        if stored.revoked {
            return Err(AuthFailure::Invalid { key_id: None });
        }
        Ok(Principal {
            domain: stored.domain,
            read_only: stored.read_only,
            key_id: presented.key_id.to_owned(),
        })
    }
}

/// Why credentials were not accepted.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("an API key is required: Authorization: Bearer <key>")]
    Missing,
    /// Not a valid key; `key_id` names a known key presented with a wrong secret.
    #[error("the API key is not valid")]
    Invalid { key_id: Option<String> },
    /// A valid key of another domain.
    #[error("the API key is not valid for this domain")]
    OtherDomain,
    /// The keys could not be read.
    #[error("the database is unavailable")]
    Unavailable(#[source] StoreError),
}

impl AuthFailure {
    /// The key id a failed guess was aimed at, for the per-key throttle.
    pub fn guessed_key_id(&self) -> Option<&str> {
        match self {
            AuthFailure::Invalid { key_id } => key_id.as_deref(),
            _ => None,
        }
    }

    /// Whether this failure is the caller's (counted by the throttle), not the service's.
    pub fn is_callers(&self) -> bool {
        !matches!(self, AuthFailure::Unavailable(_))
    }
}

impl From<AuthFailure> for ApiError {
    fn from(failure: AuthFailure) -> Self {
        match failure {
            AuthFailure::Unavailable(error) => ApiError::unavailable("database").with_cause(&error),
            AuthFailure::Invalid { .. } | AuthFailure::OtherDomain => {
                ApiError::unauthorized("the API key is not valid for this domain")
            }
            AuthFailure::Missing => ApiError::unauthorized(failure.to_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_read_from_bearer_and_basic_credentials() {
        let bearer = HeaderValue::from_static("Bearer uh_key");
        assert_eq!(presented_key(&bearer).as_deref(), Some("uh_key"));
        let encoded = base64::engine::general_purpose::STANDARD.encode("uh_key:");
        let basic = HeaderValue::from_str(&format!("Basic {encoded}")).unwrap();
        assert_eq!(presented_key(&basic).as_deref(), Some("uh_key"));
        assert_eq!(presented_key(&HeaderValue::from_static("Token x")), None);
    }
}
