//! The status service: task status with progress, and the results and errors files streamed
//! from the chunk ledger as zips (or NDJSON).

pub mod dashboard;
mod download;
mod download_slots;
pub mod limits;
pub mod list;
mod merge;
mod negotiate;
pub mod routes;
mod settings;
pub mod view;
pub mod zip;

pub use download_slots::DownloadSlots;
pub use settings::StatusSettings;

use axum::Router;
use axum::extract::FromRef;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::get;
use std::sync::Arc;
use std::time::Duration;
use userhub_http_common::{ApiContext, admission_layer, record_request, request_id_and_trace};

/// The status service's shared state: the API context and the downloads it runs.
#[derive(Clone, Debug)]
pub struct StatusState {
    pub context: ApiContext,
    pub downloads: Arc<DownloadSlots>,
    pub download_idle_timeout: Duration,
}

impl FromRef<StatusState> for ApiContext {
    fn from_ref(state: &StatusState) -> ApiContext {
        state.context.clone()
    }
}

/// The status routes (without a fallback, so that they can be merged with others).
pub fn router(context: ApiContext, settings: &StatusSettings) -> Router {
    let state = StatusState {
        context: context.clone(),
        downloads: DownloadSlots::new(settings.downloads_per_domain),
        download_idle_timeout: settings.download_idle_timeout(),
    };
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
        .layer(from_fn(request_id_and_trace))
        .with_state(state)
}
