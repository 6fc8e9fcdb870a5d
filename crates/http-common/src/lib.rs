//! HTTP pieces shared by every service: the error body, authentication and its throttle, the
//! budgets that divide a process between its callers, per-domain rate limiting, request ids,
//! CORS, the admission middleware, the server loop with its limits, the health routes and the
//! process a service runs in.

mod admission;
mod auth;
mod browsers;
mod budget;
mod client_address;
pub mod decode;
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
mod strict_heads;
mod task_errors;
mod throttle;

pub use admission::{
    ApiContext, ApiParts, Principal, RequestLimits, admission_layer, auth_throttled,
    with_api_layers,
};
pub use auth::{AuthFailure, Authenticator};
pub use browsers::BrowserPolicy;
pub use budget::{Budgets, Slot, anonymous_budget};
pub use client_address::{AddressPolicy, ClientAddress};
pub use error::{
    ApiError, ErrorBody, ErrorDetail, MAX_URI_BYTES, json_fallback, json_method_not_allowed,
    limit_uri_length,
};
pub use health::{GAUGE_REFRESH, Health, MetricsAccess, router as health_router};
pub use limits::{BodyTimeout, ServerLimits};
pub use observe::record_request;
pub use process::{Process, ProcessSettings, ServiceError};
pub use query::QueryParams;
pub use rate_limit::{RateDecision, RateLimiter};
pub use request_id::{REQUEST_ID_HEADER, request_id_and_trace};
pub use serve::{ServeOptions, serve};
pub use settings::{HttpSettings, RateLimitSettings};
pub use throttle::AuthThrottle;
