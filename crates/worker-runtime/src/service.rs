//! The workers as a service: one consume loop per task type the process runs, plus the stall
//! detector, the retention sweeper and the profile event relay, served beside the health routes.

use axum::Router;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use userhub_http_common::{Process, ServiceError};
use userhub_store::Pool;
use userhub_tasks::{
    ChunkTransport, RetentionSettings, TaskHandler, WorkerSettings, run_event_relay,
    run_retention_sweeper, run_stall_detector, run_worker,
};
use userhub_telemetry::{BrokerProbe, Metrics};

/// What every consume loop of a process shares.
struct Shared {
    pool: Pool,
    replica: Option<Pool>,
    transport: Arc<dyn ChunkTransport>,
    settings: WorkerSettings,
    metrics: Metrics,
    shutdown: CancellationToken,
}

type Spawner = Box<dyn FnOnce(&mut JoinSet<()>, &Shared) + Send>;

/// The task types one process consumes, each with its handler.
#[derive(Default)]
pub struct Consumers {
    spawners: Vec<Spawner>,
}

impl Consumers {
    /// Consumes `handler`'s task type.
    pub fn add<H: TaskHandler>(&mut self, handler: H) {
        self.spawners
            .push(Box::new(move |jobs: &mut JoinSet<()>, shared: &Shared| {
                jobs.spawn(run_worker(
                    Arc::new(handler),
                    shared.pool.clone(),
                    shared.replica.clone(),
                    Arc::clone(&shared.transport),
                    shared.settings.clone(),
                    shared.metrics.clone(),
                    shared.shutdown.clone(),
                ));
            }));
    }

    pub fn is_empty(&self) -> bool {
        self.spawners.is_empty()
    }
}

/// Spawns the consume loops and the process-wide jobs into `jobs`; they end on `shutdown`.
pub fn spawn_workers(
    jobs: &mut JoinSet<()>,
    process: &Process,
    transport: &Arc<dyn ChunkTransport>,
    settings: (&WorkerSettings, &RetentionSettings),
    consumers: Consumers,
    shutdown: &CancellationToken,
) {
    let (settings, retention) = settings;
    if consumers.is_empty() {
        return;
    }
    let shared = Shared {
        pool: process.pool.clone(),
        replica: process.replica.clone(),
        transport: Arc::clone(transport),
        settings: settings.clone(),
        metrics: process.metrics.clone(),
        shutdown: shutdown.clone(),
    };
    for spawn in consumers.spawners {
        spawn(jobs, &shared);
    }
    jobs.spawn(run_stall_detector(
        shared.pool.clone(),
        Arc::clone(transport),
        settings.clone(),
        shutdown.clone(),
    ));
    jobs.spawn(run_retention_sweeper(
        shared.pool.clone(),
        retention.clone(),
        shutdown.clone(),
    ));
    jobs.spawn(run_event_relay(
        shared.pool,
        Arc::clone(transport),
        settings.clone(),
        shared.metrics,
        shutdown.clone(),
    ));
}

/// Workers alone, with `/healthz`, `/readyz` and `/metrics` on the listener, until `shutdown`
/// (in-flight chunks finish first).
pub async fn run(
    process: Process,
    (transport, probe): (Arc<dyn ChunkTransport>, Arc<dyn BrokerProbe>),
    settings: (&WorkerSettings, &RetentionSettings),
    consumers: Consumers,
    listener: Option<TcpListener>,
    shutdown: CancellationToken,
) -> Result<(), ServiceError> {
    let mut jobs = JoinSet::new();
    spawn_workers(
        &mut jobs, &process, &transport, settings, consumers, &shutdown,
    );
    process
        .serve(Router::new(), Some(probe), jobs, listener, shutdown)
        .await
}
