//! `[worker]` settings.

use serde::{Deserialize, Serialize};
use userhub_domain::events::EventMessages;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct WorkerSettings {
    /// Failed attempts (not counting transient failures) before a chunk is dead-lettered.
    pub max_attempts: u32,
    /// How long in-flight chunks may take to finish on shutdown before they are requeued.
    pub shutdown_grace_ms: u64,
    /// Profiles per chunk when an export selector is planned.
    pub export_chunk_records: usize,
    /// A task with no committed chunk for this long is marked stalled (visible in its status).
    pub stall_after_ms: u64,
    /// A stalled task whose chunks are no longer in any queue is completed after this long, its
    /// unprocessed records failed with `PROCESSING_FAILED`.
    pub stall_fail_after_ms: u64,
    /// How often each worker process looks for stalled tasks.
    pub stall_check_interval_ms: u64,
    /// Publish profile events after creates and updates (EXT); `false` turns them off for every
    /// task (requests can turn them off per task with `skip_triggers`).
    pub profile_events: bool,
    /// `batch`: one message per chunk and routing key holding its events (default); `single`:
    /// one message per event, as before batches.
    #[serde(default)]
    pub profile_event_messages: EventMessages,
    /// How often the event relay looks for unpublished events when it found none.
    pub event_poll_interval_ms: u64,
    /// With a read replica (`database.read_url`): how long an export chunk waits for the replica
    /// to replay what the primary has committed before reading the primary instead.
    #[serde(default = "default_replica_wait_ms")]
    pub replica_wait_ms: u64,
    /// Crashes for the fault tests (test builds only).
    #[cfg(feature = "fault-injection")]
    #[serde(default)]
    pub faults: crate::faults::WorkerFaults,
}

fn default_replica_wait_ms() -> u64 {
    2_000
}

impl Default for WorkerSettings {
    fn default() -> Self {
        WorkerSettings {
            max_attempts: 5,
            shutdown_grace_ms: 20_000,
            export_chunk_records: 5_000,
            stall_after_ms: 5 * 60 * 1000,
            stall_fail_after_ms: 30 * 60 * 1000,
            stall_check_interval_ms: 30 * 1000,
            profile_events: true,
            profile_event_messages: EventMessages::Batch,
            event_poll_interval_ms: 250,
            replica_wait_ms: default_replica_wait_ms(),
            #[cfg(feature = "fault-injection")]
            faults: crate::faults::WorkerFaults::default(),
        }
    }
}
