//! `GET /v2/{domain}/identity/bulk_actions/limits` (EXT): the limits that apply to this domain's
//! requests, so that clients can split their input before uploading it.

use axum::Json;
use axum::extract::{Extension, State};
use serde::{Deserialize, Serialize};
use userhub_http_common::{ApiContext, ErrorBody, Principal};
use utoipa::ToSchema;

/// The domain's limits.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DomainLimits {
    /// Records per create request (`413 TOO_MANY_RECORDS` above).
    #[schema(example = 10000)]
    pub records_per_task: u64,
    /// Records a task made from an upload may hold (`413 TOO_MANY_RECORDS` above).
    #[schema(example = 1000000)]
    pub records_per_upload: u64,
    /// Requests per minute (`429 RATE_LIMITED` above).
    #[schema(example = 60)]
    pub requests_per_minute: u32,
    /// Largest url-encoded or JSON body, decompressed.
    pub max_body_bytes: u64,
    /// Largest multipart body, decompressed.
    pub max_multipart_bytes: u64,
}

/// EXT: the limits of this domain's requests.
#[utoipa::path(
    get,
    path = "/v2/{domain}/identity/bulk_actions/limits",
    tag = "tasks",
    params(("domain" = String, Path, description = "The tenant")),
    responses(
        (status = 200, description = "The domain's limits", body = DomainLimits),
        (status = 401, description = "Missing or wrong API key", body = ErrorBody),
        (status = 429, description = "`RATE_LIMITED`", body = ErrorBody),
    ),
    security(("bearer" = []), ("basic" = []))
)]
pub async fn get_limits(
    State(context): State<ApiContext>,
    Extension(principal): Extension<Principal>,
) -> Json<DomainLimits> {
    let defaults = context.request_limits;
    let records_per_task = defaults.records_per_task(&principal.domain) as u64;
    let records_per_upload = defaults.records_per_upload(&principal.domain) as u64;
    let requests_per_minute = principal
        .domain
        .rate_limit_per_minute
        .map_or(context.limiter.default_per_minute(), |limit| {
            limit.max(1) as u32
        });
    Json(DomainLimits {
        records_per_task,
        records_per_upload,
        requests_per_minute,
        max_body_bytes: defaults.max_body_bytes,
        max_multipart_bytes: defaults.max_multipart_bytes,
    })
}
