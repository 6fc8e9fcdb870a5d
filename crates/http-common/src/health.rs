//! Operational routes every service serves: `/healthz` (the process answers), `/readyz` (its
//! database and, where it uses one, its broker are reachable) and `/metrics` (Prometheus text).
//! `/metrics` is never anonymous on the public listener: it needs the metrics token there
//! (`Authorization: Bearer`, as Prometheus' `authorization` block sends it), and is open only on
//! the separate metrics listener meant for a private network. The gauges read from PostgreSQL
//! and the broker are refreshed at most every [`GAUGE_REFRESH`], however many scrapers ask.

use crate::error::ApiError;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};
use userhub_domain::api_key::{constant_time_eq, hash_secret};
use userhub_domain::{TaskAction, TaskState};
use userhub_store::Pool;
use userhub_telemetry::{BrokerProbe, Metrics, QueueLabels, StateLabels};

/// How often the gauges read from PostgreSQL and the broker are refreshed at most.
pub const GAUGE_REFRESH: Duration = Duration::from_secs(1);

/// Who may read `/metrics` on a listener.
#[derive(Clone, Debug)]
pub enum MetricsAccess {
    /// Anyone: the separate metrics listener.
    Open,
    /// Callers presenting this token.
    Token(String),
    /// Nobody: the public listener of a process without a metrics token.
    Closed,
}

/// What the operational routes look at.
#[derive(Clone)]
pub struct Health {
    pub pool: Pool,
    /// `None` where the process uses no broker.
    pub broker: Option<Arc<dyn BrokerProbe>>,
    pub metrics: Metrics,
    /// When the gauges were last refreshed (one refresh at a time).
    pub refreshed: Arc<tokio::sync::Mutex<Option<Instant>>>,
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

/// Whether `headers` open `/metrics` under `access`.
fn check_access(access: &MetricsAccess, headers: &HeaderMap) -> Result<(), ApiError> {
    let expected = match access {
        MetricsAccess::Open => return Ok(()),
        MetricsAccess::Token(token) => token,
        MetricsAccess::Closed => {
            return Err(ApiError::not_found(
                "METRICS_NOT_HERE",
                "metrics are served on the metrics listener (http.metrics_addr) or here with \
                 the metrics token (http.metrics_token)",
            ));
        }
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .map(str::trim);
    match presented {
        Some(token) if constant_time_eq(&hash_secret(token), &hash_secret(expected)) => Ok(()),
        _ => Err(ApiError::unauthorized(
            "metrics need the metrics token: `Authorization: Bearer <token>`",
        )),
    }
}

/// Renders the metrics, refreshing the read gauges when they are older than [`GAUGE_REFRESH`].
async fn metrics(
    State((health, access)): State<(Health, MetricsAccess)>,
    headers: HeaderMap,
) -> Response {
    if let Err(refusal) = check_access(&access, &headers) {
        return refusal.into_response();
    }
    {
        let mut refreshed = health.refreshed.lock().await;
        if refreshed.is_none_or(|at| at.elapsed() >= GAUGE_REFRESH) {
            refresh_gauges(&health).await;
            *refreshed = Some(Instant::now());
        }
    }
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        health.metrics.render(),
    )
        .into_response()
}

/// Sets the gauges read from elsewhere: open tasks, queue depths, pool use.
async fn refresh_gauges(health: &Health) {
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
}

/// The operational routes, with `/metrics` open to `access`.
pub fn router(health: Health, access: MetricsAccess) -> Router {
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .with_state(health.clone())
        .route("/metrics", get(metrics).with_state((health, access)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(token: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::AUTHORIZATION,
            format!("Bearer {token}").parse().unwrap(),
        );
        headers
    }

    #[test]
    fn metrics_need_the_token_on_the_public_listener() {
        let access = MetricsAccess::Token("0123456789abcdef".to_owned());
        assert!(check_access(&access, &bearer("0123456789abcdef")).is_ok());
        assert_eq!(
            check_access(&access, &bearer("wrong")).unwrap_err().status,
            401
        );
        assert_eq!(
            check_access(&access, &HeaderMap::new()).unwrap_err().status,
            401
        );
        let closed = check_access(&MetricsAccess::Closed, &bearer("x")).unwrap_err();
        assert_eq!(closed.code, "METRICS_NOT_HERE");
        assert!(check_access(&MetricsAccess::Open, &HeaderMap::new()).is_ok());
    }
}
