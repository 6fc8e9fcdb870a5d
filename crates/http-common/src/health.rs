//! Operational routes every service serves: `/healthz` (the process answers), `/readyz` (its
//! database and, where it uses one, its broker are reachable) and `/metrics` (Prometheus text,
//! with gauges set at scrape time).

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;
use userhub_domain::{TaskAction, TaskState};
use userhub_store::Pool;
use userhub_telemetry::{BrokerProbe, Metrics, QueueLabels, StateLabels};

/// What the operational routes look at.
#[derive(Clone)]
pub struct Health {
    pub pool: Pool,
    /// `None` where the process uses no broker.
    pub broker: Option<Arc<dyn BrokerProbe>>,
    pub metrics: Metrics,
}

async fn healthz() -> (StatusCode, axum::Json<Value>) {
    (StatusCode::OK, axum::Json(json!({"status": "ok"})))
}

async fn readyz(State(health): State<Health>) -> (StatusCode, axum::Json<Value>) {
    let database = match health.pool.get().await {
        Ok(client) => userhub_store::ping(&client).await,
        Err(_) => false,
    };
    let broker = health
        .broker
        .as_ref()
        .is_none_or(|broker| broker.is_connected());
    let status = if database && broker {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = json!({
        "status": if status == StatusCode::OK { "ready" } else { "unavailable" },
        "database": if database { "up" } else { "down" },
        "broker": if health.broker.is_none() { "unused" } else if broker { "up" } else { "down" },
    });
    (status, axum::Json(body))
}

/// Sets the scrape-time gauges (open tasks, queue depths, pool use), then renders everything.
async fn metrics(State(health): State<Health>) -> impl IntoResponse {
    let metrics = &health.metrics;
    let pool = health.pool.status();
    for (state, value) in [
        ("size", pool.size),
        ("available", pool.available),
        ("waiting", pool.waiting),
    ] {
        metrics
            .pool_connections
            .get_or_create(&StateLabels {
                state: state.to_owned(),
            })
            .set(value as i64);
    }
    if let Ok(client) = health.pool.get().await {
        let open = userhub_store::tasks::open_task_counts(&client)
            .await
            .unwrap_or_default();
        for state in [TaskState::Created, TaskState::Queued, TaskState::Processing] {
            let count = open
                .iter()
                .find(|(open_state, _)| *open_state == state)
                .map_or(0, |(_, count)| *count);
            metrics
                .open_tasks
                .get_or_create(&StateLabels {
                    state: state.as_str().to_owned(),
                })
                .set(count);
        }
        if let Ok(pending) = userhub_store::profile_events::pending_events(&client).await {
            metrics.profile_events_pending.set(pending);
        }
    }
    if let Some(broker) = &health.broker {
        for action in TaskAction::ALL {
            let Some(counts) = broker.queue_counts(action).await else {
                break;
            };
            for (queue, value) in [
                ("work", counts.work),
                ("retry", counts.retry),
                ("dead", counts.dead),
            ] {
                let labels = QueueLabels {
                    action: action.as_str().to_owned(),
                    queue: queue.to_owned(),
                };
                metrics
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
        metrics.render(),
    )
}

/// The operational routes.
pub fn router(health: Health) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .with_state(health)
}
