//! Concurrent downloads per domain: a slot is taken when a download starts and given back when
//! its stream ends, however it ends. A domain's entry exists only while it has downloads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use userhub_domain::DomainId;

/// The downloads each domain is running.
#[derive(Debug)]
pub struct DownloadSlots {
    per_domain: usize,
    running: Mutex<HashMap<DomainId, usize>>,
}

/// A running download's slot; dropping it frees the slot.
#[derive(Debug)]
pub struct DownloadSlot {
    slots: Arc<DownloadSlots>,
    domain_id: DomainId,
}

impl DownloadSlots {
    pub fn new(per_domain: usize) -> Arc<DownloadSlots> {
        Arc::new(DownloadSlots {
            per_domain: per_domain.max(1),
            running: Mutex::new(HashMap::new()),
        })
    }

    pub fn per_domain(&self) -> usize {
        self.per_domain
    }

    /// A slot for `domain_id`, unless it already runs its limit of downloads.
    pub fn take(self: &Arc<Self>, domain_id: DomainId) -> Option<DownloadSlot> {
        let mut running = self.lock();
        let count = running.entry(domain_id).or_insert(0);
        if *count >= self.per_domain {
            return None;
        }
        *count += 1;
        Some(DownloadSlot {
            slots: Arc::clone(self),
            domain_id,
        })
    }

    /// Downloads running for `domain_id`.
    pub fn running(&self, domain_id: DomainId) -> usize {
        self.lock().get(&domain_id).copied().unwrap_or(0)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DomainId, usize>> {
        self.running
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl Drop for DownloadSlot {
    fn drop(&mut self) {
        let mut running = self.slots.lock();
        if let Some(count) = running.get_mut(&self.domain_id) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                running.remove(&self.domain_id);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slots_are_per_domain_and_come_back() {
        let slots = DownloadSlots::new(2);
        let first = slots.take(DomainId::new(1)).unwrap();
        let _second = slots.take(DomainId::new(1)).unwrap();
        assert!(
            slots.take(DomainId::new(1)).is_none(),
            "the third download waits"
        );
        assert!(
            slots.take(DomainId::new(2)).is_some(),
            "another domain is not affected"
        );
        drop(first);
        assert!(slots.take(DomainId::new(1)).is_some());
        assert_eq!(slots.running(DomainId::new(7)), 0);
    }
}
