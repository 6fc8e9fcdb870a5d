//! Exports read from the read replica (`database.read_url`) once it has replayed every change
//! committed before their chunk began, so that they show what a read of the primary would. A
//! replica that does not catch up within `worker.replica_wait_ms`, or fails, is passed over for
//! the primary, and left alone for a while so that chunks do not each wait for it.

use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;
use userhub_store::replication::{log_end, replayed};
use userhub_store::{GenericClient, Pool, PooledClient, StoreError};

/// How often a lagging replica is asked again.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

/// How long a replica that lagged or failed is passed over.
const PASS_OVER: Duration = Duration::from_secs(10);

/// A connection to a read replica that has caught up with the primary for this chunk.
#[derive(Clone)]
pub struct Replica(Arc<PooledClient>);

impl std::fmt::Debug for Replica {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Replica")
    }
}

impl Replica {
    /// The connection to read with.
    pub fn client(&self) -> &PooledClient {
        &self.0
    }
}

/// A worker process's read replica: its pool, how long a chunk waits for it, and until when it
/// is passed over after it lagged or failed.
pub struct ReplicaReads {
    pool: Pool,
    wait: Duration,
    passed_over_until: Mutex<Option<Instant>>,
}

impl ReplicaReads {
    pub fn new(pool: Pool, wait: Duration) -> ReplicaReads {
        ReplicaReads {
            pool,
            wait,
            passed_over_until: Mutex::new(None),
        }
    }

    /// A replica connection that shows everything `primary` had committed when called, or
    /// `None` (read the primary).
    pub(crate) async fn caught_up(&self, primary: &impl GenericClient) -> Option<Replica> {
        if self.passed_over() {
            return None;
        }
        match tokio::time::timeout(self.wait, self.wait_for_replay(primary)).await {
            Ok(Ok(replica)) => return Some(replica),
            Ok(Err(error)) => {
                tracing::warn!(%error, "the read replica failed; reading the primary");
            }
            Err(_) => tracing::info!(
                wait_ms = self.wait.as_millis() as u64,
                "the read replica lags; reading the primary"
            ),
        }
        self.pass_over();
        None
    }

    async fn wait_for_replay(&self, primary: &impl GenericClient) -> Result<Replica, StoreError> {
        let position = log_end(primary).await?;
        let client = self.pool.get().await?;
        while !replayed(&client, &position).await? {
            tokio::time::sleep(POLL_INTERVAL).await;
        }
        Ok(Replica(Arc::new(client)))
    }

    fn passed_over(&self) -> bool {
        let until = self
            .passed_over_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        until.is_some_and(|until| Instant::now() < until)
    }

    fn pass_over(&self) {
        let mut until = self
            .passed_over_until
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *until = Some(Instant::now() + PASS_OVER);
    }
}

/// What an export handler reads: `on_replica` when the chunk has a caught-up replica (built from
/// it), else, or when that read fails, `on_primary` (built from the chunk's transaction).
/// Futures do nothing until awaited, so the one not needed never runs.
pub async fn replica_first<T>(
    on_replica: Option<impl Future<Output = Result<T, StoreError>>>,
    on_primary: impl Future<Output = Result<T, StoreError>>,
) -> Result<T, StoreError> {
    if let Some(read) = on_replica {
        match read.await {
            Ok(found) => return Ok(found),
            Err(error) => tracing::warn!(%error, "the read replica failed; reading the primary"),
        }
    }
    on_primary.await
}
