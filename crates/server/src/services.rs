//! Starting services: each takes settings, a bound listener and a shutdown token, and returns
//! once it has shut down gracefully.

use crate::ops::{self, Readiness};
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
use userhub_http_common::{ApiContext, Authenticator, RateLimiter, json_fallback};
use userhub_store::{Pool, StoreError};
use userhub_worker_create_core_profiles::CreateCoreProfiles;
use userhub_worker_runtime::run_worker as run_consumer;
use userhub_worker_update_core_profiles::UpdateCoreProfiles;

/// How long start-up waits for the database to accept migrations.
const DATABASE_START_TIMEOUT: Duration = Duration::from_secs(60);

/// A service could not start or failed while running.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("HTTP server failed: {0}")]
    Http(#[from] std::io::Error),
    #[error("task type `{0}` has no worker in this version")]
    NoWorker(TaskAction),
}

/// The task types this server can process.
pub const WORKER_ACTIONS: [TaskAction; 2] = [
    TaskAction::CreateCoreProfiles,
    TaskAction::UpdateCoreProfiles,
];

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

fn api_context(settings: &Settings, pool: &Pool) -> ApiContext {
    ApiContext {
        pool: pool.clone(),
        authenticator: Arc::new(
            Authenticator::new(
                pool.clone(),
                Duration::from_millis(settings.http.auth_cache_ms),
            )
            .with_unauthenticated_domain(settings.http.unauthenticated_domain.clone()),
        ),
        limiter: Arc::new(RateLimiter::new(settings.rate_limit.per_minute)),
    }
}

fn gateway(settings: &Settings, context: &ApiContext, broker: &Broker) -> Gateway {
    Gateway {
        context: context.clone(),
        broker: broker.clone(),
        settings: Arc::new(settings.gateway.clone()),
    }
}

fn spawn_worker(
    workers: &mut JoinSet<()>,
    action: TaskAction,
    settings: &Settings,
    pool: &Pool,
    broker: &Broker,
    shutdown: &CancellationToken,
) -> Result<(), ServerError> {
    let (pool, broker, worker, shutdown) = (
        pool.clone(),
        broker.clone(),
        settings.worker.clone(),
        shutdown.clone(),
    );
    match action {
        TaskAction::CreateCoreProfiles => workers.spawn(run_consumer(
            Arc::new(CreateCoreProfiles),
            pool,
            broker,
            worker,
            shutdown,
        )),
        TaskAction::UpdateCoreProfiles => workers.spawn(run_consumer(
            Arc::new(UpdateCoreProfiles),
            pool,
            broker,
            worker,
            shutdown,
        )),
        other => return Err(ServerError::NoWorker(other)),
    };
    Ok(())
}

async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    tracing::info!(addr = %listener.local_addr()?, "listening");
    axum::serve(listener, router.fallback(json_fallback))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await?;
    Ok(())
}

/// Stops the broker supervisor and the pool after the services stopped.
async fn wind_down(mut workers: JoinSet<()>, broker_stop: CancellationToken, pool: Pool) {
    while workers.join_next().await.is_some() {}
    broker_stop.cancel();
    pool.close();
}

/// Gateway, status and every worker in one process behind one HTTP port.
pub async fn run_all(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let pool = connect_database(&settings).await?;
    let broker_stop = CancellationToken::new();
    let broker = Broker::start(settings.broker.clone(), broker_stop.clone());
    let context = api_context(&settings, &pool);
    let mut workers = JoinSet::new();
    for action in WORKER_ACTIONS {
        spawn_worker(&mut workers, action, &settings, &pool, &broker, &shutdown)?;
    }
    let router = userhub_gateway::router(gateway(&settings, &context, &broker))
        .merge(userhub_status::router(context))
        .merge(ops::router(Readiness {
            pool: pool.clone(),
            broker: Some(broker.clone()),
        }));
    let served = serve(listener, router, shutdown.clone()).await;
    shutdown.cancel();
    wind_down(workers, broker_stop, pool).await;
    served
}

/// The HTTP ingest service alone.
pub async fn run_gateway(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let pool = connect_database(&settings).await?;
    let broker_stop = CancellationToken::new();
    let broker = Broker::start(settings.broker.clone(), broker_stop.clone());
    let context = api_context(&settings, &pool);
    let router = userhub_gateway::router(gateway(&settings, &context, &broker)).merge(ops::router(
        Readiness {
            pool: pool.clone(),
            broker: Some(broker),
        },
    ));
    let served = serve(listener, router, shutdown).await;
    wind_down(JoinSet::new(), broker_stop, pool).await;
    served
}

/// The status service alone.
pub async fn run_status(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let pool = connect_database(&settings).await?;
    let context = api_context(&settings, &pool);
    let router = userhub_status::router(context).merge(ops::router(Readiness {
        pool: pool.clone(),
        broker: None,
    }));
    let served = serve(listener, router, shutdown).await;
    pool.close();
    served
}

/// One task type's worker, with `/healthz` and `/readyz` on `listener`.
pub async fn run_worker(
    settings: Settings,
    action: TaskAction,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let pool = connect_database(&settings).await?;
    let broker_stop = CancellationToken::new();
    let broker = Broker::start(settings.broker.clone(), broker_stop.clone());
    let mut workers = JoinSet::new();
    spawn_worker(&mut workers, action, &settings, &pool, &broker, &shutdown)?;
    let router = ops::router(Readiness {
        pool: pool.clone(),
        broker: Some(broker.clone()),
    });
    let served = serve(listener, router, shutdown.clone()).await;
    shutdown.cancel();
    wind_down(workers, broker_stop, pool).await;
    served
}
