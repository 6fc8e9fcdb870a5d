//! `[gateway]` settings: body limits, chunking, synchronous requests and uploads.

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
    /// Most records a synchronous request (`?wait=true`, or a dialect's small batch) may hold.
    pub sync_max_records: usize,
    /// How long a synchronous request waits for its task before answering `202` with the task.
    pub sync_timeout_ms: u64,
    /// Native requests with fewer records than this are answered synchronously as if they
    /// said `?wait=true`. 0 (the default) keeps the original API's `201` for every size.
    pub sync_below_records: usize,
    /// EXT resumable uploads: the largest upload accepted (`Tus-Max-Size`).
    pub upload_max_bytes: u64,
    /// Bytes of an upload stored per database row, and held in memory per upload request.
    pub upload_part_bytes: usize,
    /// Hours an incomplete upload is kept before it expires.
    pub upload_expiry_hours: u64,
    /// Most bytes one domain's uploads not yet made into tasks may announce in all.
    pub upload_domain_max_bytes: u64,
    /// Records a task made from an upload may hold, for domains without their own limit.
    pub records_per_upload: usize,
    /// How long a request that makes a task of an upload waits for the task to be `queued`
    /// before answering `202` with the task still `created`.
    pub upload_task_wait_ms: u64,
    /// Most memory the chunks of a task from an upload may hold while they are stored (a file
    /// whose records of one profile lie far apart is read again per group of chunks past it).
    pub upload_open_chunk_bytes: usize,
    /// A task from an upload stores and publishes its chunks in batches of about this many bytes
    /// (workers start on the first batch while the rest of the file is read).
    pub upload_batch_bytes: usize,
    /// Crashes for the fault tests (test builds only): `USERHUB__GATEWAY__FAULTS__CRASH_BEFORE_QUEUED`
    /// aborts the process after every chunk of a task is published, before it becomes `queued`.
    #[cfg(feature = "fault-injection")]
    #[serde(default)]
    pub faults: GatewayFaults,
}

/// `[gateway.faults]`, read only by builds with the `fault-injection` feature.
#[cfg(feature = "fault-injection")]
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GatewayFaults {
    #[serde(default)]
    pub crash_before_queued: bool,
}

impl GatewaySettings {
    /// Checks the section.
    pub fn validate(&self) -> Result<(), userhub_domain::InvalidSetting> {
        if self.upload_part_bytes == 0 {
            return Err(userhub_domain::InvalidSetting::new(
                "gateway.upload_part_bytes",
                "an upload part must hold at least 1 byte",
            ));
        }
        if self.records_per_task == 0 || self.chunk_records == 0 || self.records_per_upload == 0 {
            return Err(userhub_domain::InvalidSetting::new(
                "gateway.records_per_task",
                "record limits must be at least 1",
            ));
        }
        Ok(())
    }

    /// The server-wide limits of a create request.
    pub fn request_limits(&self) -> userhub_http_common::RequestLimits {
        userhub_http_common::RequestLimits {
            records_per_task: self.records_per_task,
            records_per_upload: self.records_per_upload,
            max_body_bytes: self.max_body_bytes,
            max_multipart_bytes: self.max_multipart_bytes,
        }
    }

    /// Whether a fault test asked the process to abort before a task becomes `queued` (never
    /// in builds without the `fault-injection` feature).
    pub fn crash_before_queued(&self) -> bool {
        #[cfg(feature = "fault-injection")]
        return self.faults.crash_before_queued;
        #[cfg(not(feature = "fault-injection"))]
        false
    }

    /// How the intake cuts tasks into chunks.
    pub fn intake_settings(&self) -> userhub_tasks::intake::IntakeSettings {
        userhub_tasks::intake::IntakeSettings {
            chunk_records: self.chunk_records,
            chunk_bytes: self.chunk_bytes,
            open_chunk_bytes: self.upload_open_chunk_bytes,
            batch_bytes: self.upload_batch_bytes,
            crash_before_queued: self.crash_before_queued(),
        }
    }
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
            sync_max_records: 1_000,
            sync_timeout_ms: 30_000,
            sync_below_records: 0,
            upload_max_bytes: 1 << 30,
            upload_part_bytes: 4 << 20,
            upload_expiry_hours: 24,
            upload_domain_max_bytes: 8 << 30,
            records_per_upload: 1_000_000,
            upload_task_wait_ms: 10_000,
            upload_open_chunk_bytes: 64 << 20,
            upload_batch_bytes: 8 << 20,
            #[cfg(feature = "fault-injection")]
            faults: GatewayFaults::default(),
        }
    }
}
