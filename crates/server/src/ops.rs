//! Operational endpoints every service serves: `/healthz` and `/readyz`.

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde_json::{Value, json};
use userhub_broker::Broker;
use userhub_store::Pool;

/// What readiness depends on.
#[derive(Clone, Debug)]
pub struct Readiness {
    pub pool: Pool,
    pub broker: Option<Broker>,
}

async fn healthz() -> (StatusCode, axum::Json<Value>) {
    (StatusCode::OK, axum::Json(json!({"status": "ok"})))
}

async fn readyz(State(readiness): State<Readiness>) -> (StatusCode, axum::Json<Value>) {
    let database = match readiness.pool.get().await {
        Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
        Err(_) => false,
    };
    let broker = readiness.broker.as_ref().is_none_or(Broker::is_connected);
    let status = if database && broker {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "unavailable" },
        "database": if database { "up" } else { "down" },
        "broker": if readiness.broker.is_none() { "unused" } else if broker { "up" } else { "down" },
    });
    (status, axum::Json(body))
}

pub fn router(readiness: Readiness) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(readiness)
}
