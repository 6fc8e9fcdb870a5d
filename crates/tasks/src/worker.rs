//! The consume loop of one task type, over any [`ChunkTransport`]: (re)opens a consumer
//! whenever the transport is up, applies deliveries concurrently (bounded by the prefetch),
//! acknowledges only after the chunk's transaction committed, retries failures through delayed
//! retries, dead-letters poison, and on shutdown stops consuming and lets in-flight chunks
//! finish within a grace period.

use crate::TaskHandler;
use crate::apply::{ChunkDisposition, ChunkError, apply_chunk_with_hook, fail_chunk};
use crate::envelope::{ReceivedChunk, decode};
use crate::faults::CrashPlan;
use crate::jobs::ordered::release_next;
use crate::jobs::plan::plan_export;
use crate::replica::ReplicaReads;
use crate::settings::WorkerSettings;
use crate::transport::{ChunkTransport, Delivery, MessageHeaders, Outgoing, Route, TransportError};
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;
use userhub_domain::{TaskId, TaskKey};
use userhub_store::statistics::analyze_if_outgrown;
use userhub_store::{Pool, StoreError};
use userhub_telemetry::{ActionLabels, Metrics};

const RECONNECT_PAUSE: Duration = Duration::from_millis(500);

/// Everything one delivery's processing needs.
struct Worker<H> {
    handler: Arc<H>,
    pool: Pool,
    /// The read replica exports read from, if one is configured.
    replica: Option<ReplicaReads>,
    transport: Arc<dyn ChunkTransport>,
    settings: WorkerSettings,
    /// Crashes a fault test asked for (none in other builds).
    crashes: CrashPlan,
    metrics: Metrics,
}

/// Runs the consume loop until `shutdown` is cancelled.
pub async fn run_worker<H: TaskHandler>(
    handler: Arc<H>,
    pool: Pool,
    replica: Option<Pool>,
    transport: Arc<dyn ChunkTransport>,
    settings: WorkerSettings,
    metrics: Metrics,
    shutdown: CancellationToken,
) {
    let action = handler.action();
    let worker = Arc::new(Worker {
        handler,
        pool,
        replica: replica.map(|replica| {
            ReplicaReads::new(replica, Duration::from_millis(settings.replica_wait_ms))
        }),
        transport,
        crashes: CrashPlan::new(&settings),
        settings,
        metrics,
    });
    let tag = format!("userhub-{}-{}", action.as_str(), std::process::id());
    while !shutdown.is_cancelled() {
        tokio::select! {
            () = worker.transport.up() => {}
            () = shutdown.cancelled() => break,
        }
        let mut consumer = match worker.transport.consume(action, &tag).await {
            Ok(consumer) => consumer,
            Err(error) => {
                tracing::warn!(%error, %action, "cannot start consuming; retrying");
                tokio::time::sleep(RECONNECT_PAUSE).await;
                continue;
            }
        };
        tracing::info!(%action, "consuming");
        let limit = worker.transport.prefetch();
        let mut in_flight = JoinSet::new();
        let stopping = loop {
            tokio::select! {
                () = shutdown.cancelled() => break true,
                Some(_) = in_flight.join_next(), if !in_flight.is_empty() => {}
                // Deliveries beyond the limit wait in their queues' buffers for their turn.
                delivery = consumer.next(), if in_flight.len() < limit => match delivery {
                    Some(Ok(delivery)) => {
                        let worker = worker.clone();
                        in_flight.spawn(async move { worker.process(delivery).await });
                    }
                    Some(Err(error)) => {
                        tracing::warn!(%error, %action, "consumer failed; reconnecting");
                        break false;
                    }
                    None => {
                        tracing::warn!(%action, "consumer ended; reconnecting");
                        break false;
                    }
                },
            }
        };
        if stopping {
            consumer.cancel().await;
            let grace = Duration::from_millis(worker.settings.shutdown_grace_ms);
            let drained = tokio::time::timeout(grace, async {
                while in_flight.join_next().await.is_some() {}
            })
            .await;
            if drained.is_err() {
                tracing::warn!(%action, "shutdown grace period over; unfinished chunks go back to the queue");
                in_flight.abort_all();
            }
            consumer.close().await;
            break;
        }
        // The channel is gone: unacknowledged deliveries return to the queue by themselves.
        in_flight.abort_all();
        tokio::time::sleep(RECONNECT_PAUSE).await;
    }
    tracing::info!(%action, "worker stopped");
}

impl<H: TaskHandler> Worker<H> {
    async fn process(&self, delivery: Box<dyn Delivery>) {
        let action = self.handler.action();
        let message = match decode(delivery.body()) {
            Ok(message) => message,
            Err(error) => {
                tracing::error!(%error, %action, "undecodable chunk message; dead-lettering it");
                let reason = format!("undecodable message: {error}");
                let headers = delivery.headers();
                let route = Route::Dead { action };
                let forwarded = self
                    .forward(delivery.as_ref(), route, headers, &reason)
                    .await;
                self.settle(delivery.as_ref(), forwarded).await;
                return;
            }
        };
        let span = tracing::info_span!(
            "apply_chunk",
            task_id = %message.task_id,
            chunk_no = message.chunk_no,
            domain = %message.domain,
            %action,
        );
        let trace = delivery.headers().text.into_iter().collect();
        userhub_telemetry::continue_trace(&span, &trace);
        self.apply_message(delivery.as_ref(), message)
            .instrument(span)
            .await;
    }

    async fn apply_message(&self, delivery: &dyn Delivery, mut message: ReceivedChunk) {
        if !self.settings.profile_events {
            message.options.to_mut().skip_triggers = true;
        }
        let action = self.handler.action();
        let task_id = message.task_id;
        let task = TaskKey::new(message.domain_id, task_id);
        let started = std::time::Instant::now();
        let chunk_no = message.chunk_no;
        let outcome = if message.selector.is_some() {
            match self.handler.export_kind() {
                Some(kind) => {
                    let chunk_records = self.settings.export_chunk_records;
                    let transport = self.transport.as_ref();
                    plan_export(&self.pool, transport, message, kind, chunk_records).await
                }
                None => Err(ChunkError::Processing(format!(
                    "`{action}` tasks take no selector"
                ))),
            }
        } else {
            let crash = self.crashes.next_chunk();
            let before_commit = || {
                if crash.before_commit {
                    tracing::error!(%task_id, chunk_no, "injected crash before commit");
                    std::process::abort();
                }
            };
            let outcome = apply_chunk_with_hook(
                self.handler.as_ref(),
                &self.pool,
                self.replica.as_ref(),
                message,
                before_commit,
            )
            .await;
            if crash.after_commit && outcome.is_ok() {
                tracing::error!(%task_id, chunk_no, "injected crash after commit, before ack");
                std::process::abort();
            }
            outcome
        };
        if matches!(
            outcome,
            Ok(ChunkDisposition::Applied { .. } | ChunkDisposition::Duplicate)
        ) && self.handler.applies_in_order()
        {
            let next = chunk_no as i32 + 1;
            let transport = self.transport.as_ref();
            if let Err(error) = release_next(&self.pool, transport, action, task, next).await {
                tracing::warn!(%error, %task_id, next, "could not release the next chunk; the sweep will");
            }
        }
        match outcome {
            Ok(disposition) => {
                self.count(&disposition, task_id, chunk_no, started.elapsed());
                self.settle(delivery, Ok(())).await;
            }
            Err(error) => self.retry_or_give_up(delivery, error).await,
        }
    }

    /// Logs and counts what happened to a chunk.
    fn count(
        &self,
        disposition: &ChunkDisposition,
        task_id: TaskId,
        chunk_no: u32,
        elapsed: Duration,
    ) {
        let action = self.handler.action();
        let action = action.as_str();
        match disposition {
            ChunkDisposition::Applied {
                completed_task,
                succeeded,
                failed,
            } => {
                let elapsed_ms = elapsed.as_millis() as u64;
                tracing::debug!(%task_id, chunk_no, elapsed_ms, "chunk applied");
                self.metrics.chunk(action, "applied");
                self.metrics
                    .records(action, u64::from(*succeeded), u64::from(*failed));
                let labels = ActionLabels {
                    action: action.to_owned(),
                };
                self.metrics
                    .chunk_duration
                    .get_or_create(&labels)
                    .observe(elapsed.as_secs_f64());
                if *completed_task {
                    tracing::info!(%task_id, "task completed");
                    self.metrics.tasks_completed.get_or_create(&labels).inc();
                    if self.handler.export_kind().is_none() {
                        tokio::spawn(refresh_statistics(self.pool.clone(), task_id));
                    }
                }
            }
            ChunkDisposition::Duplicate => {
                tracing::info!(%task_id, chunk_no, "redelivered chunk skipped");
                self.metrics.chunk(action, "duplicate");
            }
            ChunkDisposition::Deferred => {
                tracing::debug!(%task_id, chunk_no, "chunk deferred until its predecessor is applied");
                self.metrics.chunk(action, "deferred");
            }
            ChunkDisposition::Dropped(reason) => {
                tracing::warn!(%task_id, chunk_no, reason, "chunk dropped");
                self.metrics.chunk(action, "dropped");
            }
        }
    }

    async fn retry_or_give_up(&self, delivery: &dyn Delivery, error: ChunkError) {
        let action = self.handler.action();
        let transient = error.is_transient();
        let mut headers = delivery.headers();
        headers.attempts += i64::from(!transient);
        headers.transient_attempts += i64::from(transient);
        let (attempts, transient_attempts) = (headers.attempts, headers.transient_attempts);
        let reason = error.to_string();
        if transient || attempts < i64::from(self.settings.max_attempts) {
            let tier = if transient {
                transient_attempts - 1
            } else {
                attempts - 1
            }
            .max(0) as usize;
            tracing::warn!(%error, %action, attempts, transient_attempts, "chunk failed; retrying later");
            self.metrics.chunk(action.as_str(), "retried");
            let route = Route::Retry { action, tier };
            let result = self.forward(delivery, route, headers, &reason).await;
            self.settle(delivery, result).await;
            return;
        }
        tracing::error!(%error, %action, attempts, "chunk keeps failing; dead-lettering it");
        self.metrics.chunk(action.as_str(), "dead_lettered");
        let route = match decode(delivery.body()) {
            Ok(message) => self.give_up(message, &reason).await,
            Err(_) => Route::Dead { action },
        };
        let result = self.forward(delivery, route, headers, &reason).await;
        self.settle(delivery, result).await;
    }

    /// Fails a chunk's records for good; where it then goes (its dead letter, or a retry when
    /// the failure could not be recorded).
    async fn give_up(&self, message: ReceivedChunk, reason: &str) -> Route {
        let action = self.handler.action();
        let (task_id, chunk_no) = (message.task_id, message.chunk_no as i32);
        let task = TaskKey::new(message.domain_id, task_id);
        match fail_chunk::<H>(&self.pool, message, reason).await {
            Ok(_) => {
                if self.handler.applies_in_order() {
                    let transport = self.transport.as_ref();
                    let next = chunk_no + 1;
                    if let Err(error) =
                        release_next(&self.pool, transport, action, task, next).await
                    {
                        tracing::warn!(%error, %task_id, "could not release the next chunk; the sweep will");
                    }
                }
                Route::Dead { action }
            }
            Err(error) => {
                tracing::warn!(%error, "could not record the failed chunk; retrying later");
                Route::Retry { action, tier: 0 }
            }
        }
    }

    /// Publishes a copy of the delivery elsewhere (a retry or a dead letter), confirmed.
    async fn forward(
        &self,
        delivery: &dyn Delivery,
        route: Route,
        mut headers: MessageHeaders,
        reason: &str,
    ) -> Result<(), TransportError> {
        headers.failure = Some(reason.chars().take(500).collect());
        let message = Outgoing {
            route,
            message_id: delivery.message_id(),
            body: delivery.body().to_vec(),
            headers,
            priority: delivery.priority(),
        };
        self.transport.publish(std::slice::from_ref(&message)).await
    }

    /// Acknowledges after the work is safe; otherwise hands the delivery back to the queue.
    async fn settle(&self, delivery: &dyn Delivery, forwarded: Result<(), TransportError>) {
        let settled = match forwarded {
            Ok(()) => delivery.ack().await,
            Err(error) => {
                tracing::warn!(%error, "could not forward the chunk; returning it to the queue");
                delivery.requeue().await
            }
        };
        if let Err(error) = settled {
            tracing::warn!(%error, "acknowledgement failed; the chunk will be delivered again");
        }
    }
}

/// Has the profile tables analysed, after a write task completed, if they outgrew their
/// statistics (see `userhub_store::statistics`).
async fn refresh_statistics(pool: Pool, task_id: TaskId) {
    let analysed = match pool.get().await {
        Ok(client) => analyze_if_outgrown(&client).await,
        Err(error) => Err(StoreError::from(error)),
    };
    match analysed {
        Ok(true) => tracing::info!(%task_id, "profile tables analysed after the task"),
        Ok(false) => {}
        Err(error) => tracing::warn!(%error, %task_id, "could not analyse the profile tables"),
    }
}
