//! CPU quotas for B7: each worker process runs in its own cgroup (v1 `cpu` controller,
//! `cpu.cfs_quota_us`) so that the workers, not the machine's two cores, bound the import and
//! adding workers shows how the service scales. Kept by hand: a few file writes, no crate needed.

use anyhow::Context;
use std::path::PathBuf;

/// Where the v1 `cpu` controller is mounted.
const CPU_CONTROLLER: &str = "/sys/fs/cgroup/cpu";
/// The scheduler period the quota is a share of: short (10 ms), so that a throttled worker
/// waits at most a few milliseconds — with the default 100 ms it held its chunk's row locks
/// through 90 ms pauses and two workers reached only 1.67× of one.
const PERIOD_US: u64 = 10_000;

/// One cgroup with a CPU quota; removed when dropped (once its processes have exited).
#[derive(Debug)]
pub struct CpuQuota {
    path: PathBuf,
}

impl CpuQuota {
    /// A cgroup named `name` limited to `cores` of CPU time.
    pub fn create(name: &str, cores: f64) -> anyhow::Result<CpuQuota> {
        let path = PathBuf::from(CPU_CONTROLLER).join(name);
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create the cgroup {}", path.display()))?;
        let quota = CpuQuota { path };
        let quota_us = ((cores * PERIOD_US as f64).round() as u64).max(1_000);
        quota.write("cpu.cfs_period_us", &PERIOD_US.to_string())?;
        quota.write("cpu.cfs_quota_us", &quota_us.to_string())?;
        Ok(quota)
    }

    /// Moves process `pid` (all its threads) into the cgroup.
    pub fn add(&self, pid: u32) -> anyhow::Result<()> {
        self.write("cgroup.procs", &pid.to_string())
    }

    /// Whether quotas can be set here (the controller is mounted and writable).
    pub fn available() -> bool {
        let probe = format!("userhub_bench_probe_{}", std::process::id());
        CpuQuota::create(&probe, 0.5).is_ok()
    }

    fn write(&self, file: &str, value: &str) -> anyhow::Result<()> {
        let path = self.path.join(file);
        std::fs::write(&path, value).with_context(|| format!("cannot write {}", path.display()))
    }
}

impl Drop for CpuQuota {
    fn drop(&mut self) {
        // Fails while a process is still inside; the kernel then keeps the empty group.
        let _ = std::fs::remove_dir(&self.path);
    }
}
