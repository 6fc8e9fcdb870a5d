//! The composition root: which services a process runs, on one listener. Each service crate
//! runs itself (`gateway::run`, `status::run`, `worker_runtime::run`); the combined modes
//! (`all`, `api`) merge their routes and jobs into one process.

use crate::worker_threads::WorkerThreads;
use axum::Router;
use axum::middleware::from_fn_with_state;
use axum::routing::get;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use userhub_broker::{Broker, BrokerSettings};
use userhub_compat::{Compat, CompatSettings};
use userhub_domain::TaskAction;
use userhub_gateway::Gateway;
pub use userhub_http_common::ServiceError as ServerError;
use userhub_http_common::{Process, anonymous_budget};
use userhub_store::Pool;
use userhub_tasks::ChunkTransport;
use userhub_telemetry::BrokerProbe;
use userhub_worker_runtime::{Consumers, WorkerResources};

use crate::settings::Settings;

/// Connects the pool and applies migrations, waiting for a database that is still starting.
pub async fn connect_database(settings: &Settings) -> Result<Pool, ServerError> {
    Ok(userhub_store::connect_migrated(&settings.database).await?)
}

/// The consumers of `actions`, each with its task type's handler.
fn consumers(actions: &[TaskAction]) -> Consumers {
    let mut consumers = Consumers::default();
    for action in actions {
        match action {
            TaskAction::CreateCoreProfiles => {
                consumers.add(userhub_worker_create_core_profiles::CreateCoreProfiles);
            }
            TaskAction::UpdateCoreProfiles => {
                consumers.add(userhub_worker_update_core_profiles::UpdateCoreProfiles);
            }
            TaskAction::UpdateAppProfiles => {
                consumers.add(userhub_worker_update_app_profiles::UpdateAppProfiles);
            }
            TaskAction::GetCoreProfiles => {
                consumers.add(userhub_worker_get_core_profiles::GetCoreProfiles);
            }
            TaskAction::GetAppProfiles => {
                consumers.add(userhub_worker_get_app_profiles::GetAppProfiles);
            }
            TaskAction::CreateAppProfiles => {
                consumers.add(userhub_worker_create_app_profiles::CreateAppProfiles);
            }
            TaskAction::UpsertCoreProfiles => {
                consumers.add(userhub_worker_upsert_core_profiles::UpsertCoreProfiles);
            }
            TaskAction::RevertProfiles => {
                consumers.add(userhub_worker_revert_profiles::RevertProfiles);
            }
        }
    }
    consumers
}

/// A process with the routes every mode serves (`/openapi.json`).
async fn process(settings: &Settings) -> Result<Process, ServerError> {
    let process = Process::start(settings.process()).await?;
    let openapi = Router::new()
        .route(
            "/openapi.json",
            get(|| async { axum::Json(crate::openapi::document()) }),
        )
        .layer(from_fn_with_state(
            Arc::clone(&process.context.budgets),
            anonymous_budget,
        ));
    Ok(process.with_routes(openapi))
}

/// Runs `service` with a broker connection that outlives it (in-flight chunks still ack).
async fn with_broker<F: Future<Output = Result<(), ServerError>>>(
    settings: BrokerSettings,
    service: impl FnOnce(Broker) -> F,
) -> Result<(), ServerError> {
    let stop = CancellationToken::new();
    let broker = Broker::start(settings, stop.clone());
    let result = service(broker).await;
    stop.cancel();
    result
}

/// Gateway and status on one listener, with the workers of `actions` (none for `api`).
async fn run_combined(
    settings: Settings,
    actions: &[TaskAction],
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let process = process(&settings).await?;
    let threads = worker_threads(&settings, actions)?;
    let resources = match &threads {
        Some(threads) => WorkerResources {
            pool: userhub_store::connect(&settings.database)?,
            replica: userhub_store::connect_replica(&settings.database)?,
            metrics: process.metrics.clone(),
            runtime: threads.handle().clone(),
        },
        None => WorkerResources::of(&process),
    };
    let served = with_broker(settings.broker.clone(), |broker| async move {
        let mut jobs = JoinSet::new();
        let worker_settings = (&settings.worker, &settings.retention);
        let consumers = consumers(actions);
        let transport: Arc<dyn ChunkTransport> = Arc::new(broker.clone());
        userhub_worker_runtime::spawn_workers(
            &mut jobs,
            resources,
            &transport,
            worker_settings,
            consumers,
            &shutdown,
        );
        jobs.spawn(userhub_webhooks::run_dispatcher(
            process.pool.clone(),
            settings.webhooks.clone(),
            shutdown.clone(),
        ));
        let probe: Arc<dyn BrokerProbe> = Arc::new(broker);
        let gateway = Gateway::new(&process, settings.gateway.clone(), transport);
        let webhooks = userhub_webhooks::router(process.context.clone(), settings.webhooks.clone());
        let routes = userhub_gateway::router(gateway.clone())
            .merge(userhub_compat::router(compat(&gateway, &settings)))
            .merge(webhooks)
            .merge(userhub_status::service_routes(
                &process,
                &settings.status,
                &settings.ops,
                Some(Arc::clone(&probe)),
            ));
        process
            .serve(routes, Some(probe), jobs, Some(listener), shutdown)
            .await
    })
    .await;
    if let Some(threads) = threads {
        threads.stop();
    }
    served
}

/// The workers' own threads when `actions` run beside the HTTP services and are to run nicer.
fn worker_threads(
    settings: &Settings,
    actions: &[TaskAction],
) -> Result<Option<WorkerThreads>, ServerError> {
    let nice = settings.combined.worker_nice;
    if actions.is_empty() || nice == 0 {
        return Ok(None);
    }
    WorkerThreads::start(nice)
        .map(Some)
        .map_err(ServerError::Runtime)
}

/// Gateway, status and every worker in one process behind one HTTP port.
pub async fn run_all(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    run_combined(settings, &TaskAction::ALL, listener, shutdown).await
}

/// Gateway and status on one port, without workers (they run as separate processes).
pub async fn run_api(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    run_combined(settings, &[], listener, shutdown).await
}

/// The compatible endpoints' state: the gateway's context and intake, and its body and
/// request limits.
fn compat(gateway: &Gateway, settings: &Settings) -> Compat {
    let limits = &settings.gateway;
    Compat {
        context: gateway.context.clone(),
        intake: gateway.intake.clone(),
        settings: Arc::new(CompatSettings {
            max_body_bytes: limits.max_body_bytes,
            records_per_task: limits.records_per_task,
            sync_max_records: limits.sync_max_records,
            sync_timeout_ms: limits.sync_timeout_ms,
        }),
    }
}

/// The HTTP ingest service alone.
pub async fn run_gateway(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let process = process(&settings).await?;
    with_broker(settings.broker.clone(), |broker| async move {
        let probe: Arc<dyn BrokerProbe> = Arc::new(broker.clone());
        let gateway = Gateway::new(&process, settings.gateway.clone(), Arc::new(broker));
        let webhooks = userhub_webhooks::router(process.context.clone(), settings.webhooks.clone());
        let process = process
            .with_routes(userhub_compat::router(compat(&gateway, &settings)))
            .with_routes(webhooks);
        userhub_gateway::run(process, gateway, probe, Some(listener), shutdown).await
    })
    .await
}

/// The status service alone (its broker connection only shows queue depths).
pub async fn run_status(
    settings: Settings,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let process = process(&settings).await?;
    with_broker(settings.broker.clone(), |broker| async move {
        let probe: Arc<dyn BrokerProbe> = Arc::new(broker);
        let (status, ops) = (&settings.status, &settings.ops);
        let dispatcher = tokio::spawn(userhub_webhooks::run_dispatcher(
            process.pool.clone(),
            settings.webhooks.clone(),
            shutdown.clone(),
        ));
        // The webhook routes answer here too: a split deployment's proxy sends reads here.
        let webhooks = userhub_webhooks::router(process.context.clone(), settings.webhooks.clone());
        let process = process.with_routes(webhooks);
        let result =
            userhub_status::run(process, status, ops, Some(probe), Some(listener), shutdown).await;
        dispatcher.abort();
        result
    })
    .await
}

/// One task type's worker, with `/healthz` and `/readyz` on `listener`.
pub async fn run_worker(
    settings: Settings,
    action: TaskAction,
    listener: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServerError> {
    let process = process(&settings).await?;
    with_broker(settings.broker.clone(), |broker| async move {
        let worker_settings = (&settings.worker, &settings.retention);
        let consumers = consumers(&[action]);
        let probe: Arc<dyn BrokerProbe> = Arc::new(broker.clone());
        let transport: Arc<dyn ChunkTransport> = Arc::new(broker);
        userhub_worker_runtime::run(
            process,
            (transport, probe),
            worker_settings,
            consumers,
            Some(listener),
            shutdown,
        )
        .await
    })
    .await
}
