//! One service process's shared ground: the migrated database pool, metrics, the API context
//! (authentication, budgets, rate limits, failed-key throttle) and the HTTP settings. A service's `run`
//! starts from it and hands it its routes and background jobs; [`Process::serve`] serves them
//! beside the health routes until shutdown, then waits for the jobs and closes the pool.

use crate::budget::Budgets;
use crate::health::{self, Health, MetricsAccess};
use crate::settings::{HttpSettings, RateLimitSettings};
use crate::{ApiContext, ApiParts, AuthThrottle, Authenticator, RateLimiter, RequestLimits};
use axum::Router;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use userhub_store::SharedPool;
use userhub_store::{DatabaseSettings, Pool, StoreError};
use userhub_telemetry::{BrokerProbe, Metrics};

/// The sections a process is made from.
#[derive(Debug, Clone)]
pub struct ProcessSettings {
    pub database: DatabaseSettings,
    pub http: HttpSettings,
    pub rate_limit: RateLimitSettings,
    /// The server-wide limits of a create request.
    pub request_limits: RequestLimits,
}

/// A service could not start, or its HTTP side failed.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Settings(#[from] userhub_domain::InvalidSetting),
    #[error("HTTP server failed: {0}")]
    Http(#[from] std::io::Error),
    #[error("cannot start the threads of a runtime: {0}")]
    Runtime(std::io::Error),
}

/// A process's connections and shared state; see the module comment.
pub struct Process {
    pub pool: Pool,
    /// The read replica's pool, when `database.read_url` is set.
    pub replica: Option<Pool>,
    pub metrics: Metrics,
    pub context: ApiContext,
    pub http: HttpSettings,
    /// Routes the composition root adds to every service (e.g. `/openapi.json`).
    extra_routes: Router,
}

impl Process {
    /// Connects and migrates the database (waiting while it starts) and builds the API context.
    pub async fn start(settings: ProcessSettings) -> Result<Process, ServiceError> {
        let pool = userhub_store::connect_migrated(&settings.database).await?;
        let metrics = Metrics::new();
        let http = settings.http;
        let authenticator =
            Authenticator::new(pool.clone(), Duration::from_millis(http.auth_cache_ms))
                .with_unauthenticated_domain(http.unauthenticated_domain.clone());
        let replica = userhub_store::connect_replica(&settings.database)?;
        let share = http.domain_share_percent;
        let context = ApiContext::new(ApiParts {
            database: SharedPool::new(pool.clone(), share),
            replica: replica
                .clone()
                .map(|replica| SharedPool::new(replica, share)),
            authenticator: Arc::new(authenticator),
            auth_throttle: Arc::new(AuthThrottle::new(http.auth_failures_per_minute)),
            budgets: Arc::new(Budgets::new(
                http.max_in_flight,
                share,
                http.max_unauthenticated_in_flight,
            )),
            limiter: Arc::new(RateLimiter::new(
                settings.rate_limit.per_minute,
                settings.rate_limit.max_lease,
            )),
            metrics: metrics.clone(),
            request_limits: settings.request_limits,
        });
        Ok(Process {
            pool,
            replica,
            metrics,
            context,
            http,
            extra_routes: Router::new(),
        })
    }

    /// Serves the health routes with open `/metrics` on `http.metrics_addr`, when it is set.
    async fn metrics_listener(
        &self,
        health: Health,
        shutdown: &CancellationToken,
    ) -> Result<Option<tokio::task::JoinHandle<std::io::Result<()>>>, ServiceError> {
        let Some(addr) = self.http.metrics_addr() else {
            return Ok(None);
        };
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| ServiceError::Listen {
                addr: addr.to_owned(),
                source,
            })?;
        let router = health::router(health, MetricsAccess::Open);
        let options = self.http.serve_options();
        Ok(Some(tokio::spawn(crate::serve(
            listener,
            router,
            options,
            shutdown.clone(),
        ))))
    }

    /// Adds routes every service of this process serves (anonymous ones should hold an
    /// anonymous slot: see [`crate::anonymous_budget`]).
    pub fn with_routes(mut self, routes: Router) -> Process {
        self.extra_routes = self.extra_routes.merge(routes);
        self
    }

    /// Serves `routes` and the health routes on `listener` (or on `http.addr` when `None`)
    /// until `shutdown`; then cancels and awaits `jobs` and closes the pool.
    pub async fn serve(
        self,
        routes: Router,
        broker: Option<Arc<dyn BrokerProbe>>,
        mut jobs: JoinSet<()>,
        listener: Option<TcpListener>,
        shutdown: CancellationToken,
    ) -> Result<(), ServiceError> {
        let listener = match listener {
            Some(listener) => listener,
            None => {
                let addr = self.http.socket_addr()?;
                TcpListener::bind(addr)
                    .await
                    .map_err(|source| ServiceError::Listen {
                        addr: addr.to_string(),
                        source,
                    })?
            }
        };
        let health = Health {
            pool: self.pool.clone(),
            broker,
            metrics: self.metrics.clone(),
            refreshed: Arc::default(),
        };
        let metrics_listener = self.metrics_listener(health.clone(), &shutdown).await?;
        let public_metrics = match self.http.metrics_token() {
            Some(token) => MetricsAccess::Token(token.to_owned()),
            None => MetricsAccess::Closed,
        };
        let router = routes
            .merge(self.extra_routes)
            .merge(health::router(health, public_metrics));
        let options = self.http.serve_options();
        let served = crate::serve(listener, router, options, shutdown.clone())
            .await
            .map_err(ServiceError::from);
        shutdown.cancel();
        if let Some(metrics_listener) = metrics_listener {
            let _ = metrics_listener.await;
        }
        while jobs.join_next().await.is_some() {}
        self.pool.close();
        served
    }
}
