//! Dividing a resource between domains: [`DomainShares`] lends each domain at most its share
//! (of request slots, of connections), and [`TenantPool`] is one domain's view of the pool —
//! every request takes its connections through its domain's, which lends at most the domain's
//! share of the process's pool. A domain that asks for more waits (up to the pool's own acquire
//! timeout, then an `Unavailable` error); other domains' requests are not behind it.

use crate::error::StoreError;
use deadpool_postgres::{Object as PooledClient, Pool};
use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use userhub_domain::DomainId;

/// A share of some resource per domain: a semaphore per domain, made when first asked for and
/// gone when nobody holds it.
#[derive(Debug)]
pub struct DomainShares {
    share: usize,
    semaphores: Mutex<HashMap<DomainId, Weak<Semaphore>>>,
}

/// Domains tracked before the table is swept of domains nobody holds.
const SWEEP_ABOVE: usize = 1_024;

impl DomainShares {
    /// Each domain may hold `share` units at once.
    pub fn new(share: usize) -> DomainShares {
        DomainShares {
            share: share.max(1),
            semaphores: Mutex::new(HashMap::new()),
        }
    }

    /// The units each domain may hold.
    pub fn share(&self) -> usize {
        self.share
    }

    fn semaphore(&self, domain: DomainId) -> Arc<Semaphore> {
        let mut semaphores = self
            .semaphores
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(live) = semaphores.get(&domain).and_then(Weak::upgrade) {
            return live;
        }
        if semaphores.len() >= SWEEP_ABOVE {
            semaphores.retain(|_, semaphore| semaphore.strong_count() > 0);
        }
        let semaphore = Arc::new(Semaphore::new(self.share));
        semaphores.insert(domain, Arc::downgrade(&semaphore));
        semaphore
    }

    /// A unit of `domain`'s share, if one is free now.
    pub fn try_acquire(&self, domain: DomainId) -> Option<OwnedSemaphorePermit> {
        self.semaphore(domain).try_acquire_owned().ok()
    }

    /// A unit of `domain`'s share, waiting at most `wait` for one.
    pub async fn acquire(&self, domain: DomainId, wait: Duration) -> Option<OwnedSemaphorePermit> {
        let semaphore = self.semaphore(domain);
        tokio::time::timeout(wait, semaphore.acquire_owned())
            .await
            .ok()?
            .ok()
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_waiting_share_is_given_when_one_is_released_or_refused_after_the_wait() {
        let shares = DomainShares::new(1);
        let domain = DomainId::new(7);
        let held = shares.try_acquire(domain).unwrap();
        assert!(
            shares
                .acquire(domain, Duration::from_millis(20))
                .await
                .is_none()
        );
        drop(held);
        assert!(
            shares
                .acquire(domain, Duration::from_millis(20))
                .await
                .is_some()
        );
    }

    #[test]
    fn unused_domains_are_forgotten() {
        let shares = DomainShares::new(1);
        for n in 0..(SWEEP_ABOVE as i64 + 10) {
            drop(shares.try_acquire(DomainId::new(n)));
        }
        let tracked = shares.semaphores.lock().unwrap().len();
        assert!(tracked <= SWEEP_ABOVE, "{tracked} domains tracked");
    }
}
