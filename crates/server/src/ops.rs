//! Operational endpoints every service serves: `/healthz`, `/readyz` and `/metrics`.

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};
use userhub_broker::Broker;
use userhub_domain::TaskAction;
use userhub_store::Pool;
use userhub_telemetry::{Metrics, QueueLabels, StateLabels};

/// What the operational endpoints look at.
#[derive(Clone, Debug)]
pub struct Ops {
    pub pool: Pool,
    pub broker: Option<Broker>,
    pub metrics: Metrics,
}

async fn healthz() -> (StatusCode, axum::Json<Value>) {
    (StatusCode::OK, axum::Json(json!({"status": "ok"})))
}

async fn readyz(State(ops): State<Ops>) -> (StatusCode, axum::Json<Value>) {
    let database = match ops.pool.get().await {
        Ok(client) => client.simple_query("SELECT 1").await.is_ok(),
        Err(_) => false,
    };
    let broker = ops.broker.as_ref().is_none_or(Broker::is_connected);
    let status = if database && broker {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "unavailable" },
        "database": if database { "up" } else { "down" },
        "broker": if ops.broker.is_none() { "unused" } else if broker { "up" } else { "down" },
    });
    (status, axum::Json(body))
}

/// Sets the scrape-time gauges (open tasks, queue depths, pool use), then renders everything.
async fn metrics(State(ops): State<Ops>) -> impl IntoResponse {
    let pool = ops.pool.status();
    for (state, value) in [
        ("size", pool.size),
        ("available", pool.available),
        ("waiting", pool.waiting),
    ] {
        ops.metrics
            .pool_connections
            .get_or_create(&StateLabels {
                state: state.to_owned(),
            })
            .set(value as i64);
    }
    if let Ok(client) = ops.pool.get().await {
        let open = client
            .query(
                "SELECT state, count(*) FROM tasks WHERE state <> 'completed' GROUP BY state",
                &[],
            )
            .await
            .unwrap_or_default();
        for state in ["created", "queued", "processing"] {
            let count: i64 = open
                .iter()
                .find(|row| row.get::<_, &str>(0) == state)
                .map_or(0, |row| row.get(1));
            ops.metrics
                .open_tasks
                .get_or_create(&StateLabels {
                    state: state.to_owned(),
                })
                .set(count);
        }
        if let Ok(pending) = userhub_store::profile_events::pending_events(&client).await {
            ops.metrics.profile_events_pending.set(pending);
        }
    }
    if let Some(broker) = &ops.broker {
        for action in TaskAction::ALL {
            let Ok(depths) = broker.queue_depths(action).await else {
                break;
            };
            for (queue, value) in [
                ("work", depths.work),
                ("retry", depths.retry),
                ("dead", depths.dead),
            ] {
                let labels = QueueLabels {
                    action: action.as_str().to_owned(),
                    queue: queue.to_owned(),
                };
                ops.metrics
                    .queue_messages
                    .get_or_create(&labels)
                    .set(i64::from(value));
            }
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        ops.metrics.render(),
    )
}

async fn openapi() -> axum::Json<Value> {
    axum::Json(crate::openapi::document())
}

pub fn router(ops: Ops) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/openapi.json", get(openapi))
        .with_state(ops)
}
