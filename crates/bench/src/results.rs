//! What a run measured, scenario by scenario (the report renders it).

/// Throughput of one scenario and its baseline, in records per second.
#[derive(Debug, Default, Clone)]
pub struct Throughput {
    pub ours: f64,
    pub baseline: f64,
}

#[derive(Debug, Default)]
pub struct Results {
    pub import: Throughput,
    /// B1 baseline (b): `COPY` into one wide table, records per second.
    pub import_wide_baseline: f64,
    pub per_record_worker: f64,
    pub update: Throughput,
    pub export_by_id: f64,
    pub export_all: f64,
    pub export_baseline: f64,
    pub accept_latency_ms: (f64, f64, usize),
    /// The median of each step of B4's accepts, as the server reported them (`Server-Timing`).
    pub accept_steps_ms: Vec<(String, f64)>,
    pub status: crate::status_wrk::StatusReads,
    pub pgbench_tps: f64,
    /// `(process, phase, peak MiB)`.
    pub memory: Vec<(String, String, u64)>,
    /// `(workers per type, records per second, failed records, profiles stored)`.
    pub scaling: Vec<(usize, f64, i64, i64)>,
    /// B7's CPU quota per worker process in cores (`None`: no quota could be set).
    pub scaling_quota: Option<f64>,
    /// Records imported at each B7 width.
    pub scaling_records: u64,
    /// Microseconds of CPU per record by component, B7 with one worker process.
    pub cpu_per_record: Vec<(String, f64)>,
    /// B1 on an empty database and on a grown one (when `--preload` is set).
    pub growth: Option<crate::growth::Growth>,
    /// B1 and B2 with and without a `version` on every record.
    pub versions: Option<crate::versions::VersionCost>,
    /// B8: records per second of one file through an upload and one task.
    pub upload_task: Option<f64>,
    pub checks: Vec<String>,
}
