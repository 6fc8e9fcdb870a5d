//! HTTP pieces shared by the gateway and the status service: the error body, authentication,
//! per-domain rate limiting, request ids, CORS and the admission middleware.

mod admission;
mod auth;
mod drain;
mod error;
mod observe;
mod query;
mod rate_limit;
mod request_id;
pub mod schema;

pub use admission::{ApiContext, Principal, RequestLimits, admission_layer};
pub use auth::Authenticator;
pub use drain::after_draining;
pub use error::{
    ApiError, ErrorBody, ErrorDetail, MAX_URI_BYTES, json_fallback, json_method_not_allowed,
    limit_uri_length,
};
pub use observe::record_request;
pub use query::QueryParams;
pub use rate_limit::{RateDecision, RateLimiter};
pub use request_id::{REQUEST_ID_HEADER, cors_and_request_id};
