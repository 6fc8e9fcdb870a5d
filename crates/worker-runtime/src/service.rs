//! The workers as a service: one consume loop per task type the process runs, plus the stall
//! detector, the retention sweeper and the profile event relay, served beside the health routes.

use axum::Router;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio::runtime::Handle;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use userhub_http_common::{Process, ServiceError};
use userhub_store::Pool;
use userhub_tasks::{
    ChunkTransport, RetentionSettings, TaskHandler, WorkerSettings, run_event_relay,
    run_retention_sweeper, run_stall_detector, run_worker,
};
use userhub_telemetry::{BrokerProbe, Metrics};

/// What the workers of a process use: its database pools, its metrics and the runtime they run
/// on.
#[derive(Clone)]
pub struct WorkerResources {
    pub pool: Pool,
    pub replica: Option<Pool>,
    pub metrics: Metrics,
    pub runtime: Handle,
}

impl WorkerResources {
    /// The process's own pools, on the runtime of the caller.
    pub fn of(process: &Process) -> WorkerResources {
        WorkerResources {
            pool: process.pool.clone(),
            replica: process.replica.clone(),
            metrics: process.metrics.clone(),
            runtime: Handle::current(),
        }
    }
}

/// What every consume loop of a process shares.
struct Shared {
    pool: Pool,
    replica: Option<Pool>,
    transport: Arc<dyn ChunkTransport>,
    settings: WorkerSettings,
    metrics: Metrics,
    shutdown: CancellationToken,
    runtime: Handle,
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
                let worker = run_worker(
                    Arc::new(handler),
                    shared.pool.clone(),
                    shared.replica.clone(),
                    Arc::clone(&shared.transport),
                    shared.settings.clone(),
                    shared.metrics.clone(),
                    shared.shutdown.clone(),
                );
                jobs.spawn_on(worker, &shared.runtime);
            }));
    }

    pub fn is_empty(&self) -> bool {
        self.spawners.is_empty()
    }
}

/// Spawns the consume loops and the process-wide jobs into `jobs`, on `resources.runtime`; they
/// end on `shutdown`.
pub fn spawn_workers(
    jobs: &mut JoinSet<()>,
    resources: WorkerResources,
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
        pool: resources.pool,
        replica: resources.replica,
        transport: Arc::clone(transport),
        settings: settings.clone(),
        metrics: resources.metrics,
        shutdown: shutdown.clone(),
        runtime: resources.runtime,
    };
    for spawn in consumers.spawners {
        spawn(jobs, &shared);
    }
    let stalls = run_stall_detector(
        shared.pool.clone(),
        Arc::clone(transport),
        settings.clone(),
        shutdown.clone(),
    );
    jobs.spawn_on(stalls, &shared.runtime);
    let retention = run_retention_sweeper(shared.pool.clone(), retention.clone(), shutdown.clone());
    jobs.spawn_on(retention, &shared.runtime);
    let relay = run_event_relay(
        shared.pool,
        Arc::clone(transport),
        settings.clone(),
        shared.metrics,
        shutdown.clone(),
    );
    jobs.spawn_on(relay, &shared.runtime);
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
    let resources = WorkerResources::of(&process);
    spawn_workers(
        &mut jobs, resources, &transport, settings, consumers, &shutdown,
    );
    process
        .serve(Router::new(), Some(probe), jobs, listener, shutdown)
        .await
}
