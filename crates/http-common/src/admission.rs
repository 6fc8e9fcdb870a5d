//! The admission middleware for `/v2/{domain}/...`: authenticates from the headers alone,
//! takes a slot of the domain's share, applies the domain's rate limit, puts the [`Principal`]
//! into the request and the `X-Rate-Limit-*` headers on the answer. Every refusal is answered
//! before any of the body is read (and the connection then closed: see [`crate::limits`]).

use crate::auth::{AuthFailure, Authenticator, Principal as AuthPrincipal};
use crate::budget::{Budgets, Slot};
use crate::client_address::ClientAddress;
use crate::error::ApiError;
use crate::rate_limit::{RateDecision, RateLimiter};
use crate::throttle::AuthThrottle;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use userhub_store::{SharedPool, TenantPool};

pub use crate::auth::Principal;

/// What every API handler needs, behind one `Arc`: each request clones the context several
/// times (every layer and handler takes its own), and one reference count costs less than one
/// per handle.
#[derive(Clone, Debug)]
pub struct ApiContext(Arc<ApiParts>);

impl ApiContext {
    pub fn new(parts: ApiParts) -> ApiContext {
        ApiContext(Arc::new(parts))
    }
}

impl std::ops::Deref for ApiContext {
    type Target = ApiParts;

    fn deref(&self) -> &ApiParts {
        &self.0
    }
}

/// The parts of an [`ApiContext`]: storage, authentication, budgets, rate limiting and request
/// limits.
#[derive(Debug)]
pub struct ApiParts {
    /// The primary's pool, lent to each domain's requests by its share.
    pub database: SharedPool,
    /// The read replica's pool (`database.read_url`) for status reads and task lists.
    pub replica: Option<SharedPool>,
    pub authenticator: Arc<Authenticator>,
    /// Failed authentications per client address and key id (shared with the dashboard).
    pub auth_throttle: Arc<AuthThrottle>,
    pub budgets: Arc<Budgets>,
    pub limiter: Arc<RateLimiter>,
    pub metrics: userhub_telemetry::Metrics,
    pub request_limits: RequestLimits,
}

impl ApiContext {
    /// The database connections `principal`'s requests may use.
    pub fn database(&self, principal: &AuthPrincipal) -> TenantPool {
        self.database.for_domain(principal.domain.id)
    }

    /// The read replica's connections `principal`'s requests may use, when there is one.
    pub fn replica(&self, principal: &AuthPrincipal) -> Option<TenantPool> {
        self.replica
            .as_ref()
            .map(|replica| replica.for_domain(principal.domain.id))
    }

    /// A slot of `principal`'s domain for the request being handled.
    pub fn domain_slot(&self, principal: &AuthPrincipal) -> Result<Slot, ApiError> {
        self.budgets.domain_slot(principal.domain.id)
    }

    /// Counts a request of `principal`'s domain against its rate limit: the domain's own limit
    /// (or the server default), or for a `product` with a limit of its own (name, per minute),
    /// that product's separate counter of the domain.
    pub async fn admit_rate(
        &self,
        principal: &AuthPrincipal,
        product: Option<(&str, u32)>,
    ) -> Result<RateDecision, ApiError> {
        let domain = &principal.domain.name;
        let database = self.database(principal);
        let decision = match product {
            Some((name, per_minute)) => {
                self.limiter
                    .check(&database, &format!("{domain}@{name}"), Some(per_minute))
                    .await
            }
            None => {
                let per_minute = principal
                    .domain
                    .rate_limit_per_minute
                    .map(|limit| limit.max(1) as u32);
                self.limiter.check(&database, domain, per_minute).await
            }
        };
        Ok(decision?)
    }

    /// The principal of a key sent outside the `Authorization` header (a body member, say).
    pub async fn authenticate_token(
        &self,
        key: Option<&str>,
    ) -> Result<AuthPrincipal, AuthFailure> {
        let key = key
            .map(str::trim)
            .filter(|key| !key.is_empty())
            .ok_or(AuthFailure::Missing)?;
        self.authenticator.authenticate_key(key).await
    }

    /// The answer to a failed authentication from `client`: `401` (or `503` when the keys could
    /// not be read), or `429 AUTH_THROTTLED` once the address or the key id has failed too often.
    pub fn refuse_authentication(
        &self,
        client: Option<ClientAddress>,
        failure: AuthFailure,
    ) -> ApiError {
        if failure.is_callers() {
            let counted = self.auth_throttle.fail(client, failure.guessed_key_id());
            if let Err(retry_after) = counted {
                return auth_throttled(self.auth_throttle.limit(), retry_after);
            }
        }
        ApiError::from(failure)
    }
}

/// The server-wide limits of a create request (a domain may have its own record limit).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RequestLimits {
    pub records_per_task: usize,
    /// Records a task made from an upload may hold.
    pub records_per_upload: usize,
    pub max_body_bytes: u64,
    pub max_multipart_bytes: u64,
}

impl RequestLimits {
    /// The records a request of `domain` may hold: its own limit, else the server's.
    pub fn records_per_task(&self, domain: &userhub_store::domains::Domain) -> usize {
        own_or(domain.record_limit, self.records_per_task)
    }

    /// The records a task from an upload of `domain` may hold: its own limit, else the
    /// server's.
    pub fn records_per_upload(&self, domain: &userhub_store::domains::Domain) -> usize {
        own_or(domain.upload_record_limit, self.records_per_upload)
    }
}

/// A domain's own limit (at least 1), else the server's.
fn own_or(own: Option<i32>, server: usize) -> usize {
    own.map_or(server, |limit| limit.max(1) as usize)
}

/// The tenant segment of `/v2/{domain}/...`, if the path has one.
fn domain_of_path(path: &str) -> Option<&str> {
    let mut segments = path.trim_start_matches('/').split('/');
    (segments.next() == Some("v2"))
        .then(|| segments.next())
        .flatten()
        .filter(|domain| !domain.is_empty())
}

fn add_rate_headers(headers: &mut HeaderMap, decision: &RateDecision) {
    let mut put = |name: &'static str, value: String| {
        if let Ok(value) = HeaderValue::from_str(&value) {
            headers.insert(name, value);
        }
    };
    put("x-rate-limit-limit", decision.limit.to_string());
    put("x-rate-limit-remaining", decision.remaining.to_string());
    put("x-rate-limit-reset", decision.reset_at_ms.to_string());
}

/// `429 AUTH_THROTTLED`: the caller's address (or the key id it guesses at) failed to
/// authenticate too often.
pub fn auth_throttled(limit: u32, retry_after: u64) -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "AUTH_THROTTLED",
        format!(
            "more than {limit} failed authentications from this address (or for this key) \
             within a minute; retry in {retry_after} s with a valid key"
        ),
    )
    .with_header("retry-after", retry_after)
}

/// `429 RATE_LIMITED` with the window's headers.
fn rate_limited(decision: &RateDecision) -> Response {
    let mut response = ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "RATE_LIMITED",
        format!(
            "rate limit of {} requests per minute exceeded",
            decision.limit
        ),
    )
    .with_header("retry-after", decision.retry_after_secs)
    .into_response();
    add_rate_headers(response.headers_mut(), decision);
    response
}

/// Middleware guarding every tenant route.
pub async fn admission_layer(
    State(context): State<ApiContext>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(domain) = domain_of_path(request.uri().path()).map(str::to_owned) else {
        return next.run(request).await;
    };
    let client = request.extensions().get::<ClientAddress>().copied();
    let authorization = request.headers().get("authorization");
    let principal = match context
        .authenticator
        .authenticate(authorization, &domain)
        .await
    {
        Ok(principal) => principal,
        Err(failure) => {
            // No rate-limit headers: a caller without the domain's key learns nothing of its
            // traffic, and no per-domain state is made for strangers.
            let refusal = context.refuse_authentication(client, failure);
            return refusal.into_response();
        }
    };
    let _slot = match context.domain_slot(&principal) {
        Ok(slot) => slot,
        Err(refusal) => return refusal.into_response(),
    };
    let decision = match context.admit_rate(&principal, None).await {
        Ok(decision) => decision,
        Err(error) => return error.into_response(),
    };
    if !decision.allowed {
        return rate_limited(&decision);
    }
    request.extensions_mut().insert(principal);
    let mut response = next.run(request).await;
    add_rate_headers(response.headers_mut(), &decision);
    response
}

/// The layers every API route runs under, outermost last: admission (authentication, slots,
/// rate limit), request metrics, and the request id with its trace.
pub fn with_api_layers<S>(router: axum::Router<S>, context: &ApiContext) -> axum::Router<S>
where
    S: Clone + Send + Sync + 'static,
{
    use axum::middleware::{from_fn, from_fn_with_state};
    router
        .layer(from_fn_with_state(context.clone(), admission_layer))
        .layer(from_fn_with_state(
            context.metrics.clone(),
            crate::observe::record_request,
        ))
        .layer(from_fn(crate::request_id::request_id_and_trace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_domain_is_the_second_path_segment_under_v2() {
        assert_eq!(
            domain_of_path("/v2/demo/identity/bulk_actions"),
            Some("demo")
        );
        assert_eq!(domain_of_path("/v2//identity"), None);
        assert_eq!(domain_of_path("/healthz"), None);
    }
}
