//! Peak resident memory of processes while a scenario runs (sampled from `/proc`).

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::JoinHandle;

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|status| {
            let line = status
                .lines()
                .find(|line| line.starts_with("VmRSS:"))?
                .to_owned();
            line.split_whitespace().nth(1)?.parse().ok()
        })
        .unwrap_or(0)
}

/// Samples the resident memory of some processes every 100 ms, keeping each one's peak.
pub struct RssWatch {
    peaks: Arc<Mutex<HashMap<u32, u64>>>,
    sampler: JoinHandle<()>,
}

impl RssWatch {
    pub fn start(pids: Vec<u32>) -> RssWatch {
        let peaks = Arc::new(Mutex::new(HashMap::new()));
        let shared = peaks.clone();
        let sampler = tokio::spawn(async move {
            loop {
                for pid in &pids {
                    let rss = rss_kib(*pid);
                    let mut peaks = shared
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner());
                    let peak = peaks.entry(*pid).or_insert(0);
                    *peak = (*peak).max(rss);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        RssWatch { peaks, sampler }
    }

    /// Stops sampling; returns the peak of each process in MiB.
    pub fn stop(self) -> HashMap<u32, u64> {
        self.sampler.abort();
        let peaks = self
            .peaks
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        peaks.iter().map(|(pid, kib)| (*pid, kib / 1024)).collect()
    }
}
