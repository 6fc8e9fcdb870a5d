//! `[gateway]` settings: body limits, chunking and synchronous requests.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GatewaySettings {
    /// Largest url-encoded or JSON body, counted after decompression.
    pub max_body_bytes: u64,
    /// Largest multipart body, counted after decompression.
    pub max_multipart_bytes: u64,
    /// Longest JSONL line; a longer line becomes a record error.
    pub max_line_bytes: usize,
    /// Records per request for domains without their own limit.
    pub records_per_task: usize,
    /// Records per chunk.
    pub chunk_records: usize,
    /// Approximate bytes of record JSON per chunk.
    pub chunk_bytes: usize,
    /// Testing aid for fault-injection tests: abort the process after every chunk of a task is
    /// published, before the task becomes `queued`. Never set in production.
    pub crash_before_queued: bool,
    /// Most records a synchronous request (`?wait=true`, or a dialect's small batch) may hold.
    pub sync_max_records: usize,
    /// How long a synchronous request waits for its task before answering `202` with the task.
    pub sync_timeout_ms: u64,
    /// Native requests with fewer records than this are answered synchronously as if they
    /// said `?wait=true`. 0 (the default) keeps the original API's `201` for every size.
    pub sync_below_records: usize,
}

impl Default for GatewaySettings {
    fn default() -> Self {
        GatewaySettings {
            max_body_bytes: 16 * 1024 * 1024,
            max_multipart_bytes: 256 * 1024 * 1024,
            max_line_bytes: 1024 * 1024,
            records_per_task: userhub_domain::limits::DEFAULT_RECORDS_PER_TASK,
            chunk_records: 1_000,
            chunk_bytes: 512 * 1024,
            crash_before_queued: false,
            sync_max_records: 1_000,
            sync_timeout_ms: 30_000,
            sync_below_records: 0,
        }
    }
}
