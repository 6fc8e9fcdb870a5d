//! Starting services: each takes settings, a bound listener and a shutdown token, and returns
//! once it has shut down gracefully.

use crate::ops::{self, Ops};
use crate::queue_depths::BrokerQueueDepths;
use crate::settings::Settings;
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use userhub_broker::Broker;
use userhub_domain::TaskAction;
use userhub_gateway::Gateway;
use userhub_http_common::{ApiContext, AuthThrottle, Authenticator, RateLimiter, RequestLimits};
use userhub_status::dashboard::{Dashboard, QueueDepthSource};
use userhub_store::{Pool, StoreError};
use userhub_telemetry::Metrics;
use userhub_worker_create_app_profiles::CreateAppProfiles;
use userhub_worker_create_core_profiles::CreateCoreProfiles;
use userhub_worker_get_app_profiles::GetAppProfiles;
use userhub_worker_get_core_profiles::GetCoreProfiles;
use userhub_worker_runtime::{
    TaskHandler, WorkerSettings, run_event_relay, run_retention_sweeper, run_stall_detector,
    run_worker as run_consumer,
};
use userhub_worker_update_app_profiles::UpdateAppProfiles;
use userhub_worker_update_core_profiles::UpdateCoreProfiles;
use userhub_worker_upsert_core_profiles::UpsertCoreProfiles;

/// How long start-up waits for the database to accept migrations.
const DATABASE_START_TIMEOUT: Duration = Duration::from_secs(60);

/// A service could not start or failed while running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("HTTP server failed: {0}")]
    Http(#[from] std::io::Error),
}

/// Connects the pool and applies migrations, waiting for a database that is still starting.
pub async fn connect_database(settings: &Settings) -> Result<Pool, ServerError> {
    let pool = userhub_store::connect(&settings.database)?;
    let deadline = tokio::time::Instant::now() + DATABASE_START_TIMEOUT;
    loop {
        match userhub_store::run_migrations(&pool).await {
            Ok(_) => return Ok(pool),
            Err(error) if error.is_transient() && tokio::time::Instant::now() < deadline => {
                tracing::warn!(%error, "database not ready; retrying");
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(error) => return Err(error.into()),
        }
    }
}

fn api_context(
    settings: &Settings,
    pool: &Pool,
    metrics: &Metrics,
    auth_throttle: &Arc<AuthThrottle>,
) -> ApiContext {
    let cache = Duration::from_millis(settings.http.auth_cache_ms);
    let authenticator = Authenticator::new(pool.clone(), cache)
        .with_unauthenticated_domain(settings.http.unauthenticated_domain.clone());
    ApiContext {
        pool: pool.clone(),
        authenticator: Arc::new(authenticator),
        auth_throttle: Arc::clone(auth_throttle),
        limiter: Arc::new(RateLimiter::new(settings.rate_limit.per_minute)),
        metrics: metrics.clone(),
        request_limits: RequestLimits {
            records_per_task: settings.gateway.records_per_task,
            max_body_bytes: settings.gateway.max_body_bytes,
            max_multipart_bytes: settings.gateway.max_multipart_bytes,
        },
    }
}

fn gateway(settings: &Settings, context: &ApiContext, broker: &Broker) -> Gateway {
    Gateway {
        context: context.clone(),
        broker: broker.clone(),
        settings: Arc::new(settings.gateway.clone()),
    }
}

/// What every consume loop shares.
struct WorkerDependencies {
    pool: Pool,
    broker: Broker,
    settings: WorkerSettings,
    metrics: Metrics,
    shutdown: CancellationToken,
}

impl WorkerDependencies {
    fn spawn<H: TaskHandler>(&self, workers: &mut JoinSet<()>, handler: H) {
        workers.spawn(run_consumer(
            Arc::new(handler),
            self.pool.clone(),
            self.broker.clone(),
            self.settings.clone(),
            self.metrics.clone(),
            self.shutdown.clone(),
        ));
    }
}

fn spawn_worker(workers: &mut JoinSet<()>, action: TaskAction, dependencies: &WorkerDependencies) {
    match action {
        TaskAction::CreateCoreProfiles => dependencies.spawn(workers, CreateCoreProfiles),
        TaskAction::UpdateCoreProfiles => dependencies.spawn(workers, UpdateCoreProfiles),
        TaskAction::UpdateAppProfiles => dependencies.spawn(workers, UpdateAppProfiles),
        TaskAction::GetCoreProfiles => dependencies.spawn(workers, GetCoreProfiles),
        TaskAction::GetAppProfiles => dependencies.spawn(workers, GetAppProfiles),
        TaskAction::CreateAppProfiles => dependencies.spawn(workers, CreateAppProfiles),
        TaskAction::UpsertCoreProfiles => dependencies.spawn(workers, UpsertCoreProfiles),
    }
}

/// Which parts one process runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Parts<'a> {
    gateway: bool,
    status: bool,
    workers: &'a [TaskAction],
}

async fn run_parts(
    settings: Settings,
    parts: Parts<'_>,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let pool = connect_database(&settings).await?;
    let needs_broker = parts.gateway || !parts.workers.is_empty();
    let broker_stop = CancellationToken::new();
    // The status service connects too, for the dashboard's queue depths, but does not need the
    // broker to be ready.
    let broker = (needs_broker || parts.status)
        .then(|| Broker::start(settings.broker.clone(), broker_stop.clone()));
    let metrics = Metrics::new();
    let auth_throttle = Arc::new(AuthThrottle::new(settings.http.auth_failures_per_minute));
    let context = api_context(&settings, &pool, &metrics, &auth_throttle);
    let mut workers = JoinSet::new();
    let mut router = Router::new();
    if let Some(broker) = broker.as_ref().filter(|_| needs_broker) {
        let dependencies = WorkerDependencies {
            pool: pool.clone(),
            broker: broker.clone(),
            settings: settings.worker.clone(),
            metrics: metrics.clone(),
            shutdown: shutdown.clone(),
        };
        for action in parts.workers {
            spawn_worker(&mut workers, *action, &dependencies);
        }
        if !parts.workers.is_empty() {
            workers.spawn(run_stall_detector(
                pool.clone(),
                broker.clone(),
                settings.worker.clone(),
                shutdown.clone(),
            ));
            workers.spawn(run_retention_sweeper(
                pool.clone(),
                settings.retention.clone(),
                shutdown.clone(),
            ));
            workers.spawn(run_event_relay(
                pool.clone(),
                broker.clone(),
                settings.worker.clone(),
                metrics.clone(),
                shutdown.clone(),
            ));
        }
        if parts.gateway {
            router = router.merge(userhub_gateway::router(gateway(
                &settings, &context, broker,
            )));
        }
    }
    if parts.status {
        router = router
            .merge(userhub_status::router(context, &settings.status))
            .merge(userhub_status::dashboard::router(Dashboard {
                pool: pool.clone(),
                queue_depths: broker
                    .clone()
                    .map(|broker| Arc::new(BrokerQueueDepths(broker)) as Arc<dyn QueueDepthSource>),
                operator_token: settings
                    .ops
                    .operator_token
                    .as_deref()
                    .map(str::trim)
                    .filter(|token| !token.is_empty())
                    .map(Arc::from),
                metrics: metrics.clone(),
                auth_throttle,
            }));
    }
    let router = router.merge(ops::router(Ops {
        pool: pool.clone(),
        broker: broker.filter(|_| needs_broker),
        metrics,
    }));
    let options = settings.http.serve_options();
    let served = userhub_http_common::serve(listener, router, options, shutdown.clone())
        .await
        .map_err(ServerError::from);
    shutdown.cancel();
    while workers.join_next().await.is_some() {}
    broker_stop.cancel();
    pool.close();
    served
}

/// Gateway, status and every worker in one process behind one HTTP port.
pub async fn run_all(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let parts = Parts {
        gateway: true,
        status: true,
        workers: &TaskAction::ALL,
    };
    run_parts(settings, parts, listener, shutdown).await
}

/// Gateway and status on one port, without workers (they run as separate processes).
pub async fn run_api(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let parts = Parts {
        gateway: true,
        status: true,
        workers: &[],
    };
    run_parts(settings, parts, listener, shutdown).await
}

/// The HTTP ingest service alone.
pub async fn run_gateway(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let parts = Parts {
        gateway: true,
        status: false,
        workers: &[],
    };
    run_parts(settings, parts, listener, shutdown).await
}

/// The status service alone.
pub async fn run_status(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let parts = Parts {
        gateway: false,
        status: true,
        workers: &[],
    };
    run_parts(settings, parts, listener, shutdown).await
}

/// One task type's worker, with `/healthz` and `/readyz` on `listener`.
pub async fn run_worker(
    settings: Settings,
    action: TaskAction,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let actions = [action];
    let parts = Parts {
        gateway: false,
        status: false,
        workers: &actions,
    };
    run_parts(settings, parts, listener, shutdown).await
}
