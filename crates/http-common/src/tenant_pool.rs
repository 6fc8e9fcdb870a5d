//! The database connections one domain's requests may hold: every request handler takes its
//! connections through its domain's [`TenantPool`], which lends at most the domain's share of
//! the process's pool. A domain that asks for more waits (up to the pool's own acquire
//! timeout, then `503`); other domains' requests are not behind it.

use crate::budget::DomainShares;
use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::OwnedSemaphorePermit;
use userhub_domain::DomainId;
use userhub_store::{Pool, PooledClient, StoreError};

/// A pool divided into per-domain shares.
#[derive(Debug, Clone)]
pub struct SharedPool {
    pool: Pool,
    shares: Arc<DomainShares>,
    wait: Duration,
}

impl SharedPool {
    /// Lends each domain at most `share_percent` of `pool`'s connections (at least one).
    pub fn new(pool: Pool, share_percent: u8) -> SharedPool {
        let status = pool.status();
        let share = (status.max_size * usize::from(share_percent.clamp(1, 100))).div_ceil(100);
        let wait = pool.timeouts().wait.unwrap_or(Duration::from_secs(5));
        SharedPool {
            pool,
            shares: Arc::new(DomainShares::new(share)),
            wait,
        }
    }

    /// The connections `domain`'s requests may use.
    pub fn for_domain(&self, domain: DomainId) -> TenantPool {
        TenantPool {
            shared: self.clone(),
            domain,
        }
    }

    /// The whole pool, for work that is no domain's request.
    pub fn inner(&self) -> &Pool {
        &self.pool
    }
}

/// One domain's view of a [`SharedPool`].
#[derive(Debug, Clone)]
pub struct TenantPool {
    shared: SharedPool,
    domain: DomainId,
}

impl TenantPool {
    /// A connection within the domain's share, waiting at most the pool's acquire timeout.
    pub async fn get(&self) -> Result<TenantClient, StoreError> {
        let shared = &self.shared;
        let permit = shared
            .shares
            .acquire(self.domain, shared.wait)
            .await
            .ok_or_else(|| {
                StoreError::Unavailable(format!(
                    "the domain's {} database connections stayed in use",
                    shared.shares.share()
                ))
            })?;
        let client = shared.pool.get().await?;
        Ok(TenantClient {
            client,
            _permit: permit,
        })
    }

    /// The domain whose share this is.
    pub fn domain(&self) -> DomainId {
        self.domain
    }
}

/// A pooled connection counted against its domain's share until dropped.
#[derive(Debug)]
pub struct TenantClient {
    client: PooledClient,
    _permit: OwnedSemaphorePermit,
}

impl Deref for TenantClient {
    type Target = PooledClient;

    fn deref(&self) -> &PooledClient {
        &self.client
    }
}

impl DerefMut for TenantClient {
    fn deref_mut(&mut self) -> &mut PooledClient {
        &mut self.client
    }
}
