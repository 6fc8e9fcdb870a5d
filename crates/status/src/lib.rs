//! The status service: task status with progress, and the results and errors files streamed
//! from the chunk ledger as zips (or NDJSON).

pub mod dashboard;
mod download;
mod download_slots;
pub mod limits;
pub mod list;
mod negotiate;
mod replica;
pub mod routes;
mod settings;
pub mod view;
pub mod zip;

pub use download_slots::DownloadSlots;
pub use settings::{OpsSettings, StatusSettings};

use axum::Router;
use axum::extract::FromRef;
use axum::routing::get;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use userhub_http_common::{ApiContext, Process, ServiceError, with_api_layers};
use userhub_telemetry::BrokerProbe;

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
    let api = Router::new()
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
        );
    with_api_layers(api, &context).with_state(state)
}

/// The status service alone: its routes and the operator dashboard, until `shutdown`. Queue
/// depths for the dashboard come from `queue_depths`, which the composing process provides.
pub async fn run(
    process: Process,
    settings: &StatusSettings,
    ops: &OpsSettings,
    queue_depths: Option<Arc<dyn BrokerProbe>>,
    listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), ServiceError> {
    let routes = service_routes(&process, settings, ops, queue_depths);
    // Ready with PostgreSQL alone: the broker only adds queue depths to the dashboard.
    process
        .serve(routes, None, JoinSet::new(), listener, shutdown)
        .await
}

/// The status routes and the dashboard's, as a process composes them.
pub fn service_routes(
    process: &Process,
    settings: &StatusSettings,
    ops: &OpsSettings,
    queue_depths: Option<Arc<dyn BrokerProbe>>,
) -> Router {
    router(process.context.clone(), settings).merge(dashboard::router(dashboard::Dashboard {
        pool: process.pool.clone(),
        queue_depths,
        operator_token: ops.token(),
        metrics: process.metrics.clone(),
        auth_throttle: Arc::clone(&process.context.auth_throttle),
        budgets: Arc::clone(&process.context.budgets),
    }))
}
