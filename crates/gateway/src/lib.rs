//! The HTTP ingest service of the native API: routes, auth and rate limits, every body
//! encoding read as a bounded stream, options, and errors mapped to answers; the task itself
//! (validation, chunking, publishing with confirms before `201`, control) is `userhub-tasks`'.

pub mod cancel;
pub mod decoders;
mod error;
mod gunzip;
mod idempotency;
mod options;
pub mod problems;
mod request;
pub mod retry;
pub mod revert;
pub mod routes;
mod settings;
pub mod uploads;

pub use error::GatewayError;
pub use options::CREATE_QUERY_PARAMETERS;
pub use settings::GatewaySettings;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::{head, post};
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use userhub_http_common::{ApiContext, Principal, Process, ServiceError, with_api_layers};
use userhub_tasks::ChunkTransport;
use userhub_tasks::intake::{Intake, Submitter};
use userhub_telemetry::BrokerProbe;

/// The gateway's shared state.
#[derive(Clone)]
pub struct Gateway {
    pub context: ApiContext,
    /// Takes accepted tasks and publishes their chunks.
    pub intake: Intake,
    pub settings: Arc<GatewaySettings>,
}

impl std::fmt::Debug for Gateway {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Gateway")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Gateway {
    /// The gateway of `process`, publishing through `transport`.
    pub fn new(
        process: &Process,
        settings: GatewaySettings,
        transport: Arc<dyn ChunkTransport>,
    ) -> Gateway {
        let intake = Intake {
            transport,
            settings: settings.intake_settings(),
            metrics: process.metrics.clone(),
        };
        Gateway {
            context: process.context.clone(),
            intake,
            settings: Arc::new(settings),
        }
    }

    /// `principal` as the intake sees who submits a task.
    pub fn submitter(&self, principal: &Principal) -> Submitter {
        Submitter {
            domain_id: principal.domain.id,
            domain: principal.domain.name.clone(),
            read_only: principal.read_only,
            database: self.context.database(principal),
        }
    }
}

/// The gateway's routes (without a fallback, so that they can be merged with others).
pub fn router(gateway: Gateway) -> Router {
    let context = gateway.context.clone();
    let api = Router::new()
        .route(
            "/v2/{domain}/identity/bulk_actions",
            post(routes::create_task),
        )
        .route(
            "/v2/{domain}/identity/bulk_actions/{task_id}/cancel",
            post(cancel::cancel_task),
        )
        .route(
            "/v2/{domain}/identity/bulk_actions/{task_id}/retry",
            post(retry::retry_task),
        )
        .route(
            "/v2/{domain}/identity/bulk_actions/{task_id}/revert",
            post(revert::revert_task),
        )
        .route(
            "/v2/{domain}/uploads",
            post(uploads::create).options(uploads::options),
        )
        .route(
            "/v2/{domain}/uploads/{upload_id}",
            head(uploads::head)
                .patch(uploads::patch)
                .delete(uploads::delete),
        )
        .layer(DefaultBodyLimit::disable());
    with_api_layers(api, &context).with_state(gateway)
}

/// The gateway alone: its routes until `shutdown` (readiness includes its broker connection).
pub async fn run(
    process: Process,
    gateway: Gateway,
    broker: Arc<dyn BrokerProbe>,
    listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), ServiceError> {
    process
        .serve(
            router(gateway),
            Some(broker),
            JoinSet::new(),
            listener,
            shutdown,
        )
        .await
}
