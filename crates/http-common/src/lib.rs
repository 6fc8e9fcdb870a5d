//! HTTP pieces shared by the gateway and the status service: the error body, authentication,
//! per-domain rate limiting, request ids, CORS, the admission middleware and the server loop
//! with its limits.

mod admission;
mod auth;
mod browsers;
mod drain;
mod error;
mod limits;
mod observe;
mod query;
mod rate_limit;
mod request_id;
pub mod schema;
mod serve;
mod throttle;

pub use admission::{ApiContext, Principal, RequestLimits, admission_layer, auth_throttled};
pub use auth::Authenticator;
pub use browsers::BrowserPolicy;
pub use drain::{DRAIN_BYTES, DRAIN_TIME, after_draining, discard, discard_stream};
pub use error::{
    ApiError, ErrorBody, ErrorDetail, MAX_URI_BYTES, json_fallback, json_method_not_allowed,
    limit_uri_length,
};
pub use limits::{BodyTimeout, ServerLimits};
pub use observe::record_request;
pub use query::QueryParams;
pub use rate_limit::{RateDecision, RateLimiter};
pub use request_id::{REQUEST_ID_HEADER, request_id_and_trace};
pub use serve::{ServeOptions, serve};
pub use throttle::{AuthThrottle, ClientAddress};
