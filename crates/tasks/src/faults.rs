//! Crashes injected by the fault tests. Only builds with the `fault-injection` feature (the test
//! builds) read them from the settings (`USERHUB__WORKER__FAULTS__CRASH_POINT`, `…__CRASH_ON_CHUNK`):
//! a build a user runs cannot be told to abort itself.

use crate::settings::WorkerSettings;

/// Where a worker aborts when a crash is injected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CrashPoint {
    /// After the chunk's work, before its transaction commits.
    BeforeCommit,
    /// After the commit, before the message is acknowledged.
    AfterCommit,
}

/// `[worker.faults]`: abort at `crash_point` of the `crash_on_chunk`-th chunk applied.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct WorkerFaults {
    pub crash_point: Option<CrashPoint>,
    #[serde(default)]
    pub crash_on_chunk: u32,
}

/// What to do around one chunk.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ChunkCrash {
    pub before_commit: bool,
    pub after_commit: bool,
}

/// Counts applied chunks to find the one a fault test wants to crash on.
pub struct CrashPlan {
    point: Option<CrashPoint>,
    on_chunk: u32,
    applied: std::sync::atomic::AtomicU32,
}

impl CrashPlan {
    pub fn new(settings: &WorkerSettings) -> CrashPlan {
        #[cfg(feature = "fault-injection")]
        let (point, on_chunk) = (settings.faults.crash_point, settings.faults.crash_on_chunk);
        #[cfg(not(feature = "fault-injection"))]
        let (point, on_chunk) = {
            let _ = settings;
            (None, 0)
        };
        CrashPlan {
            point,
            on_chunk: on_chunk.max(1),
            applied: std::sync::atomic::AtomicU32::new(0),
        }
    }

    /// The crash due around the chunk about to be applied (none unless a fault test asked).
    pub fn next_chunk(&self) -> ChunkCrash {
        let Some(point) = self.point else {
            return ChunkCrash::default();
        };
        let count = self
            .applied
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst)
            + 1;
        if count != self.on_chunk {
            return ChunkCrash::default();
        }
        ChunkCrash {
            before_commit: point == CrashPoint::BeforeCommit,
            after_commit: point == CrashPoint::AfterCommit,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_requested_crash_no_chunk_crashes() {
        let plan = CrashPlan::new(&WorkerSettings::default());
        assert!((0..10).all(|_| plan.next_chunk() == ChunkCrash::default()));
    }

    #[cfg(feature = "fault-injection")]
    #[test]
    fn the_requested_chunk_crashes_at_its_point() {
        let mut settings = WorkerSettings::default();
        settings.faults.crash_point = Some(CrashPoint::AfterCommit);
        settings.faults.crash_on_chunk = 3;
        let plan = CrashPlan::new(&settings);
        let crashes: Vec<ChunkCrash> = (0..4).map(|_| plan.next_chunk()).collect();
        assert!(crashes[2].after_commit);
        assert!(!crashes[2].before_commit);
        assert!(crashes.iter().filter(|crash| crash.after_commit).count() == 1);
    }
}
