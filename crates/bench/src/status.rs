//! B5, status reads: 32 connections reading one task's status for a while (by `wrk` when it is
//! installed, else by `reqwest`), and B5 alone with rate-limit leases of 1 and of the default
//! against `pgbench -S` in the same run.

use crate::baselines;
use crate::scenarios::{TASK_RECORDS, import, last_task, percentile};
use crate::stack::{Layout, Stack, suffix};
use crate::status_wrk::{StatusClient, StatusReads, wrk_installed, wrk_reads};
use std::path::Path;
use std::time::{Duration, Instant};
use userhub_datagen::Generator;

/// Reads task `task_id`'s status from 32 connections for `seconds`, by `wrk` when it is
/// installed.
pub(crate) async fn status_reads(
    stack: &Stack,
    task_id: u64,
    seconds: u64,
) -> anyhow::Result<StatusReads> {
    if wrk_installed().await {
        let url = format!("{}/{task_id}", stack.tasks_url());
        return wrk_reads(&url, &stack.key, seconds).await;
    }
    reqwest_reads(stack, task_id, seconds).await
}

/// [`status_reads`] by 32 `reqwest` client tasks.
pub(crate) async fn reqwest_reads(
    stack: &Stack,
    task_id: u64,
    seconds: u64,
) -> anyhow::Result<StatusReads> {
    let http = crate::client::client();
    let url = format!("{}/{task_id}", stack.tasks_url());
    let until = Instant::now() + Duration::from_secs(seconds);
    let mut workers = Vec::new();
    for _ in 0..32 {
        let (http, url, key) = (http.clone(), url.clone(), stack.key.clone());
        workers.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            while Instant::now() < until {
                let started = Instant::now();
                let response = http.get(&url).bearer_auth(&key).send().await?;
                anyhow::ensure!(
                    response.status().is_success(),
                    "status read answered {}",
                    response.status()
                );
                response.bytes().await?;
                latencies.push(started.elapsed().as_secs_f64() * 1000.0);
            }
            Ok::<Vec<f64>, anyhow::Error>(latencies)
        }));
    }
    let mut latencies = Vec::new();
    for worker in workers {
        latencies.extend(worker.await??);
    }
    Ok(StatusReads {
        per_second: latencies.len() as f64 / seconds as f64,
        p50_ms: percentile(&mut latencies, 0.5),
        p99_ms: percentile(&mut latencies, 0.99),
        client: StatusClient::Reqwest,
    })
}

/// B5 alone, twice in one run: status reads with every request leasing one rate-limit request
/// from PostgreSQL (`max_lease` 1, the cost before leases) and with the default leases, each
/// against `pgbench -S` measured in the same run; each by `reqwest` and, when it is installed,
/// by `wrk`. Answers `(max_lease, reads)` and the pgbench rate.
pub async fn status_only(server: &Path) -> anyhow::Result<(Vec<(u32, StatusReads)>, f64)> {
    let pgbench_url = format!(
        "{}/userhub_bench_pgbench_{}",
        crate::stack::POSTGRES,
        suffix()
    );
    userhub_store::create_database_if_missing(&pgbench_url).await?;
    let pgbench_tps = baselines::pgbench(&pgbench_url, 32, 10).await?;
    userhub_store::drop_database(&pgbench_url).await?;
    let mut runs = Vec::new();
    for max_lease in [1_u32, 256] {
        let lease = max_lease.to_string();
        let settings = [("USERHUB__RATE_LIMIT__MAX_LEASE", lease.as_str())];
        let stack = Stack::start_with(server, Layout::All, &[], &settings).await?;
        import(&stack, Generator::new(1), TASK_RECORDS).await?;
        let task = last_task(&stack).await?;
        runs.push((max_lease, reqwest_reads(&stack, task, 10).await?));
        if wrk_installed().await {
            let url = format!("{}/{task}", stack.tasks_url());
            runs.push((max_lease, wrk_reads(&url, &stack.key, 10).await?));
        }
        stack.stop().await?;
    }
    Ok((runs, pgbench_tps))
}
