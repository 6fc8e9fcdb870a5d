//! Exports read from the read replica (`database.read_url`) once it has replayed every change
//! committed before their chunk began, so that they show what a read of the primary would; a
//! replica that lags longer than `worker.replica_wait_ms`, or fails, is passed over for the
//! primary.

use std::sync::Arc;
use std::time::Duration;
use userhub_store::replication::{log_end, replayed};
use userhub_store::{GenericClient, Pool, PooledClient};

/// How often a lagging replica is asked again.
const POLL_INTERVAL: Duration = Duration::from_millis(20);

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

/// A replica connection that shows everything `primary` had committed when called, or `None`
/// (read the primary) if it does not within `wait`.
pub(crate) async fn caught_up_replica(
    primary: &impl GenericClient,
    replica: &Pool,
    wait: Duration,
) -> Option<Replica> {
    let position = match log_end(primary).await {
        Ok(position) => position,
        Err(error) => {
            tracing::warn!(%error, "cannot read the primary's log position; reading the primary");
            return None;
        }
    };
    let client = match replica.get().await {
        Ok(client) => client,
        Err(error) => {
            tracing::warn!(%error, "the read replica is unavailable; reading the primary");
            return None;
        }
    };
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        match replayed(&client, &position).await {
            Ok(true) => return Some(Replica(Arc::new(client))),
            Ok(false) if tokio::time::Instant::now() < deadline => {
                tokio::time::sleep(POLL_INTERVAL).await;
            }
            Ok(false) => {
                tracing::info!(
                    wait_ms = wait.as_millis() as u64,
                    "the read replica lags; reading the primary"
                );
                return None;
            }
            Err(error) => {
                tracing::warn!(%error, "the read replica failed; reading the primary");
                return None;
            }
        }
    }
}
