//! The HTTP ingest service: authenticates and rate-limits bulk requests, reads every body
//! encoding as a bounded stream, validates records, groups them into chunks and publishes them
//! with confirms before answering `201`.

mod accept;
mod body;
mod chunking;
mod csv_input;
pub mod decoders;
mod dialects;
mod error;
mod idempotency;
mod json_budget;
mod messages;
mod options;
mod payload;
mod request;
pub mod routes;
mod settings;
mod submit;
mod sync;
mod tabular;
mod validate;

pub use error::GatewayError;
pub use settings::GatewaySettings;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware::{from_fn, from_fn_with_state};
use axum::routing::post;
use std::sync::Arc;
use userhub_broker::Broker;
use userhub_http_common::{ApiContext, admission_layer, record_request, request_id_and_trace};

/// The gateway's shared state.
#[derive(Clone, Debug)]
pub struct Gateway {
    pub context: ApiContext,
    pub broker: Broker,
    pub settings: Arc<GatewaySettings>,
}

/// The gateway's routes (without a fallback, so that they can be merged with others).
pub fn router(gateway: Gateway) -> Router {
    let context = gateway.context.clone();
    Router::new()
        .route(
            "/v2/{domain}/identity/bulk_actions",
            post(routes::create_task),
        )
        .merge(dialects::router())
        .layer(DefaultBodyLimit::disable())
        .layer(from_fn_with_state(context.clone(), admission_layer))
        .layer(from_fn_with_state(context.metrics.clone(), record_request))
        .layer(from_fn(request_id_and_trace))
        .with_state(gateway)
}
