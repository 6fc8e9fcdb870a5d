//! `[worker]` settings.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSettings {
    /// Failed attempts (not counting transient failures) before a chunk is dead-lettered.
    pub max_attempts: u32,
    /// How long in-flight chunks may take to finish on shutdown before they are requeued.
    pub shutdown_grace_ms: u64,
    /// Profiles per chunk when an export selector is planned.
    pub export_chunk_records: usize,
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            max_attempts: 5,
            shutdown_grace_ms: 20_000,
            export_chunk_records: 5_000,
        }
    }
}
