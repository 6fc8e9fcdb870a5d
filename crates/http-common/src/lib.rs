//! HTTP pieces shared by every service: the error body, authentication, per-domain rate
//! limiting, request ids, CORS, the admission middleware, the server loop with its limits, the
//! health routes and the process a service runs in.

mod admission;
mod auth;
mod browsers;
mod drain;
mod error;
mod health;
mod limits;
mod observe;
mod process;
mod query;
mod rate_limit;
mod request_id;
pub mod schema;
mod serve;
mod settings;
mod throttle;

pub use admission::{
    ApiContext, Principal, RequestLimits, admission_layer, auth_throttled, with_api_layers,
};
pub use auth::Authenticator;
pub use browsers::BrowserPolicy;
pub use drain::{DRAIN_BYTES, DRAIN_TIME, after_draining, discard, discard_stream};
pub use error::{
    ApiError, ErrorBody, ErrorDetail, MAX_URI_BYTES, json_fallback, json_method_not_allowed,
    limit_uri_length,
};
pub use health::{Health, router as health_router};
pub use limits::{BodyTimeout, ServerLimits};
pub use observe::record_request;
pub use process::{Process, ProcessSettings, ServiceError};
pub use query::QueryParams;
pub use rate_limit::{RateDecision, RateLimiter};
pub use request_id::{REQUEST_ID_HEADER, request_id_and_trace};
pub use serve::{ServeOptions, serve};
pub use settings::{HttpSettings, RateLimitSettings};
pub use throttle::{AuthThrottle, ClientAddress};
