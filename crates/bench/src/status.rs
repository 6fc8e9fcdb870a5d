//! B5, status reads: 32 connections reading one task's status for a while, and B5 alone with
//! rate-limit leases of 1 and of the default against `pgbench -S` in the same run.

use crate::baselines;
use crate::scenarios::{TASK_RECORDS, import, last_task, percentile};
use crate::stack::{Layout, Stack, suffix};
use std::path::Path;
use std::time::{Duration, Instant};
use userhub_datagen::Generator;

/// Reads task `task_id`'s status from 32 connections for `seconds`: requests per second, p50
/// and p99 in milliseconds.
pub(crate) async fn status_reads(
    stack: &Stack,
    task_id: u64,
    seconds: u64,
) -> anyhow::Result<(f64, f64, f64)> {
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
    let requests_per_second = latencies.len() as f64 / seconds as f64;
    Ok((
        requests_per_second,
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.99),
    ))
}

/// B5 alone, twice in one run: status reads with every request leasing one rate-limit request
/// from PostgreSQL (`max_lease` 1, the cost before leases) and with the default leases, each
/// against `pgbench -S` measured in the same run. Answers `(max_lease, (req/s, p50, p99))` and
/// the pgbench rate.
pub async fn status_only(server: &Path) -> anyhow::Result<(Vec<(u32, (f64, f64, f64))>, f64)> {
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
        runs.push((max_lease, status_reads(&stack, task, 10).await?));
        stack.stop().await?;
    }
    Ok((runs, pgbench_tps))
}
