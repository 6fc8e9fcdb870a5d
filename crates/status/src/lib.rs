//! The status service: task status with progress, and the results and errors files streamed
//! from the chunk ledger as zips (or NDJSON).

pub mod dashboard;
mod download;
pub mod limits;
pub mod list;
mod merge;
mod negotiate;
pub mod routes;
pub mod view;
pub mod zip;

use axum::Router;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use userhub_http_common::{ApiContext, admission_layer, cors_and_request_id, record_request};

/// The status routes (without a fallback, so that they can be merged with others).
pub fn router(context: ApiContext) -> Router {
    Router::new()
        .route("/v2/{domain}/identity/bulk_actions", get(list::list))
        .route(
            "/v2/{domain}/identity/bulk_actions/limits",
            get(limits::get_limits),
        )
        .route(
            "/v2/{domain}/identity/bulk_actions/{task_id}",
            get(routes::get_status),
        )
        .route(
            "/v2/{domain}/identity/bulk_actions/{task_id}/results",
            get(routes::get_results),
        )
        .route(
            "/v2/{domain}/identity/bulk_actions/{task_id}/errors",
            get(routes::get_errors),
        )
        .layer(from_fn_with_state(context.clone(), admission_layer))
        .layer(from_fn_with_state(context.metrics.clone(), record_request))
        .layer(from_fn(cors_and_request_id))
        .with_state(context)
}
