//! B1–B7: each scenario against the real stack, with its same-run baseline and its checks.

use crate::baselines;
use crate::client::{download_count, upload_all, wait_completed};
use crate::columns::{CreateCsv, write_create_csv, write_update_csv};
use crate::cpu::CpuTimes;
use crate::cpu_quota::CpuQuota;
use crate::rss::RssWatch;
use crate::stack::{Layout, Stack, fresh_database, suffix};
use anyhow::Context;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use userhub_datagen::Generator;

/// Records per task, as the protocol says.
pub const TASK_RECORDS: u64 = 10_000;
/// Concurrent uploading clients.
const CLIENTS: usize = 4;
/// Records the per-record baseline inserts (it is slow by design).
const PER_RECORD_SAMPLE: u64 = 50_000;

pub use crate::results::Results;

pub(crate) fn rate(records: u64, elapsed: Duration) -> f64 {
    records as f64 / elapsed.as_secs_f64().max(1e-9)
}

pub fn percentile(values: &mut [f64], share: f64) -> f64 {
    if values.is_empty() {
        return 0.0;
    }
    values.sort_by(f64::total_cmp);
    values[((values.len() - 1) as f64 * share).round() as usize]
}

/// The JSONL of batch `batch` (of `TASK_RECORDS`) of the create records from `first` on.
pub(crate) fn jsonl_batch(generator: &Generator, first: u64, batch: usize) -> Vec<u8> {
    let start = first + batch as u64 * TASK_RECORDS;
    let mut body = Vec::with_capacity(TASK_RECORDS as usize * 450);
    let _ = generator.write_create_jsonl(start..start + TASK_RECORDS, &mut body);
    body
}

fn records_jsonl(records: impl Iterator<Item = Value>) -> Vec<u8> {
    let mut body = Vec::new();
    for record in records {
        let _ = serde_json::to_writer(&mut body, &record);
        body.push(b'\n');
    }
    body
}

/// What an import measured.
pub(crate) struct Imported {
    pub(crate) rate: f64,
    latencies_ms: Vec<f64>,
    /// Each POST's `Server-Timing` steps (milliseconds).
    server_timings: Vec<Vec<(String, f64)>>,
    statuses: Vec<Value>,
}

impl Imported {
    /// Records that failed, over every task of the import.
    pub(crate) fn failed(&self) -> i64 {
        self.statuses
            .iter()
            .map(|status| status["failed"].as_i64().unwrap_or(0))
            .sum()
    }
}

/// The median of each `Server-Timing` step over the POSTs, in the order the server names them.
fn median_steps(timings: &[Vec<(String, f64)>]) -> Vec<(String, f64)> {
    let Some(first) = timings.first() else {
        return Vec::new();
    };
    first
        .iter()
        .map(|(name, _)| {
            let mut values: Vec<f64> = timings
                .iter()
                .filter_map(|steps| steps.iter().find(|(step, _)| step == name))
                .map(|(_, ms)| *ms)
                .collect();
            (name.clone(), percentile(&mut values, 0.5))
        })
        .collect()
}

/// Imports N generated records through the stack; returns the rate and the POST latencies.
pub(crate) async fn import(
    stack: &Stack,
    generator: Generator,
    records: u64,
) -> anyhow::Result<Imported> {
    import_range(stack, generator, 0, records).await
}

/// Imports the generated records `first..first + records`.
pub(crate) async fn import_range(
    stack: &Stack,
    generator: Generator,
    first: u64,
    records: u64,
) -> anyhow::Result<Imported> {
    let started = Instant::now();
    let batches = (records / TASK_RECORDS) as usize;
    let uploads = upload_all(
        stack,
        "create_core_profiles",
        batches,
        CLIENTS,
        move |batch| jsonl_batch(&generator, first, batch),
    )
    .await?;
    let uploaded = started.elapsed();
    let statuses = wait_completed(stack, &uploads.task_ids).await?;
    eprintln!(
        "  import: uploads done after {:.2} s, completed after {:.2} s",
        uploaded.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    Ok(Imported {
        rate: rate(records, started.elapsed()),
        latencies_ms: uploads.latencies_ms,
        server_timings: uploads.server_timings,
        statuses,
    })
}

/// Updates the generated profiles `first..first + records` (B2's records), `ids` by uid.
pub(crate) async fn update_range(
    stack: &Stack,
    generator: Generator,
    ids: Arc<HashMap<String, i64>>,
    first: u64,
    records: u64,
) -> anyhow::Result<Imported> {
    let started = Instant::now();
    let batches = (records / TASK_RECORDS) as usize;
    let uploads = upload_all(
        stack,
        "update_core_profiles",
        batches,
        CLIENTS,
        move |batch| {
            let start = first + batch as u64 * TASK_RECORDS;
            records_jsonl((start..start + TASK_RECORDS).map(|n| {
                let id = ids.get(&generator.uid(n)).copied().unwrap_or(0);
                generator.update_record(n, id)
            }))
        },
    )
    .await?;
    let statuses = wait_completed(stack, &uploads.task_ids).await?;
    Ok(Imported {
        rate: rate(records, started.elapsed()),
        latencies_ms: uploads.latencies_ms,
        server_timings: uploads.server_timings,
        statuses,
    })
}

async fn count(stack: &Stack, sql: &str) -> anyhow::Result<i64> {
    let client = stack.pool.get().await?;
    Ok(client.query_one(sql, &[]).await?.get(0))
}

/// Checks a sample of stored profiles against the records they came from, field by field.
async fn check_sample(
    stack: &Stack,
    generator: &Generator,
    records: u64,
    updated: bool,
) -> anyhow::Result<String> {
    let client = stack.pool.get().await?;
    let step = (records / 97).max(1);
    let mut checked = 0;
    for n in (0..records).step_by(step as usize) {
        let row = client
            .query_one(
                include_str!("../queries/profile_by_uid.sql"),
                &[&generator.uid(n)],
            )
            .await
            .with_context(|| format!("record {n} is missing"))?;
        let created = generator.create_record(n);
        let expected = if updated {
            generator.update_record(n, row.get::<_, i64>(0))
        } else {
            created.clone()
        };
        anyhow::ensure!(
            row.get::<_, Option<String>>(1).as_deref() == expected["last_city"].as_str(),
            "last_city of {n}"
        );
        anyhow::ensure!(
            Some(row.get::<_, Option<i64>>(2).unwrap_or(-1)) == expected["age"].as_i64(),
            "age of {n}"
        );
        anyhow::ensure!(
            row.get::<_, Option<String>>(3).as_deref() == expected["user_persona"].as_str(),
            "persona of {n}"
        );
        let custom: Value = row.get(4);
        anyhow::ensure!(
            custom["plan"] == expected["custom_fields"]["plan"],
            "custom field of {n}"
        );
        anyhow::ensure!(
            custom["seats"] == created["custom_fields"]["seats"],
            "untouched custom field of {n}"
        );
        anyhow::ensure!(
            row.get::<_, Option<String>>(5).as_deref() == created["last_country"].as_str(),
            "country of {n}"
        );
        checked += 1;
    }
    Ok(format!(
        "{checked} sampled profiles match their records field by field{}",
        if updated { " after the update" } else { "" }
    ))
}

/// The uid → id map of every stored profile.
pub(crate) async fn ids_by_uid(stack: &Stack) -> anyhow::Result<HashMap<String, i64>> {
    let client = stack.pool.get().await?;
    let rows = client
        .query(include_str!("../queries/uid_owners.sql"), &[])
        .await?;
    Ok(rows.iter().map(|row| (row.get(0), row.get(1))).collect())
}

fn work_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("userhub-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

/// Writes the baseline CSV files (before any clock starts).
/// The CSV files of the baselines.
struct BaselineFiles {
    profiles: PathBuf,
    identities: PathBuf,
    wide: PathBuf,
    updates: PathBuf,
}

fn prepare_csv(generator: &Generator, records: u64, dir: &Path) -> anyhow::Result<BaselineFiles> {
    let files = BaselineFiles {
        profiles: dir.join("profiles.csv"),
        identities: dir.join("identities.csv"),
        wide: dir.join("wide.csv"),
        updates: dir.join("updates.csv"),
    };
    let create = |path: &Path| -> anyhow::Result<BufWriter<std::fs::File>> {
        Ok(BufWriter::new(std::fs::File::create(path)?))
    };
    let mut profile_out = create(&files.profiles)?;
    let mut identity_out = create(&files.identities)?;
    let mut wide_out = create(&files.wide)?;
    let mut update_out = create(&files.updates)?;
    let out = CreateCsv {
        profiles: &mut profile_out,
        identities: &mut identity_out,
        wide: &mut wide_out,
    };
    write_create_csv(generator, 0..records, 1, 1, out)?;
    write_update_csv(generator, 0..records, 1, &mut update_out)?;
    for out in [profile_out, identity_out, wide_out, update_out] {
        out.into_inner()?.sync_all()?;
    }
    Ok(files)
}

async fn baselines(
    records: u64,
    generator: &Generator,
    results: &mut Results,
) -> anyhow::Result<()> {
    let dir = work_dir()?;
    let files = prepare_csv(generator, records, &dir)?;
    let BaselineFiles {
        profiles,
        identities,
        wide,
        updates,
    } = &files;
    let (url, pool) = fresh_database(&format!("userhub_bench_baseline_{}", suffix())).await?;
    userhub_server::admin::create_domain(&pool, crate::stack::DOMAIN).await?;
    results.import.baseline = rate(
        records,
        baselines::copy_import(&url, profiles, identities).await?,
    );
    results.import_wide_baseline = rate(records, baselines::copy_import_wide(&url, wide).await?);
    results.update.baseline = rate(records, baselines::copy_update(&url, updates).await?);
    results.export_baseline = rate(records, baselines::copy_export(&url).await?);
    {
        let client = pool.get().await?;
        client
            .batch_execute(include_str!("../queries/truncate_profiles.sql"))
            .await?;
    }
    let sample = records.min(PER_RECORD_SAMPLE);
    results.per_record_worker = rate(
        sample,
        baselines::per_record_inserts(&url, generator, 0..sample, 1).await?,
    );
    pool.close();
    userhub_store::drop_database(&url).await?;
    let pgbench_url = format!(
        "{}/userhub_bench_pgbench_{}",
        crate::stack::POSTGRES,
        suffix()
    );
    userhub_store::create_database_if_missing(&pgbench_url).await?;
    results.pgbench_tps = baselines::pgbench(&pgbench_url, 32, 10).await?;
    userhub_store::drop_database(&pgbench_url).await?;
    for file in [profiles, identities, wide, updates] {
        let _ = std::fs::remove_file(file);
    }
    let _ = std::fs::remove_dir(&dir);
    Ok(())
}

fn memory_of(stack: &Stack, watch: RssWatch, phase: &str, results: &mut Results) {
    let peaks = watch.stop();
    for service in &stack.services {
        let peak = peaks.get(&service.pid()).copied().unwrap_or(0);
        results
            .memory
            .push((service.role.clone(), phase.to_owned(), peak));
    }
}

async fn all_in_one(
    server: &Path,
    records: u64,
    generator: Generator,
    results: &mut Results,
) -> anyhow::Result<()> {
    let stack = Stack::start(server, Layout::All, &[]).await?;
    let pids = stack
        .services
        .iter()
        .map(|service| service.pid())
        .collect::<Vec<_>>();

    let watch = RssWatch::start(pids.clone());
    let Imported {
        rate: import_rate,
        latencies_ms: mut latencies,
        server_timings,
        statuses,
    } = import(&stack, generator, records).await?;
    memory_of(&stack, watch, "B1 import", results);
    results.import.ours = import_rate;
    results.accept_steps_ms = median_steps(&server_timings);
    let failed: i64 = statuses
        .iter()
        .map(|status| status["failed"].as_i64().unwrap_or(0))
        .sum();
    let stored = count(&stack, include_str!("../queries/count_profiles.sql")).await?;
    anyhow::ensure!(
        failed == 0 && stored == records as i64,
        "import: {failed} failed, {stored} stored"
    );
    results
        .checks
        .push(format!("B1: {stored} profiles stored, 0 failed records"));
    results
        .checks
        .push(check_sample(&stack, &generator, records, false).await?);
    let samples = latencies.len();
    results.accept_latency_ms = (
        percentile(&mut latencies, 0.5),
        percentile(&mut latencies, 0.99),
        samples,
    );

    let ids = Arc::new(ids_by_uid(&stack).await?);
    anyhow::ensure!(ids.len() == records as usize, "every profile has its uid");
    let updated = update_range(&stack, generator, ids.clone(), 0, records).await?;
    results.update.ours = updated.rate;
    let failed = updated.failed();
    anyhow::ensure!(failed == 0, "update: {failed} failed records");
    results
        .checks
        .push(check_sample(&stack, &generator, records, true).await?);

    let watch = RssWatch::start(pids);
    let (by_id, all) = exports(&stack, &ids, records).await?;
    results.export_by_id = by_id;
    results.export_all = all;
    memory_of(&stack, watch, "B3 export", results);
    results.checks.push(format!(
        "B3: {records} entries by id and {records} by `all` in the downloaded zips"
    ));

    results.status = crate::status::status_reads(&stack, last_task(&stack).await?, 10).await?;
    stack.stop().await
}

/// B3: every profile exported by id (tasks of `TASK_RECORDS`) and then by `{"all": true}`, the
/// zips downloaded and their entries counted; the two rates in records per second.
async fn exports(
    stack: &Stack,
    ids: &HashMap<String, i64>,
    records: u64,
) -> anyhow::Result<(f64, f64)> {
    let http = crate::client::client();
    let started = Instant::now();
    let batches = (records / TASK_RECORDS) as usize;
    let mut sorted_ids: Vec<i64> = ids.values().copied().collect();
    sorted_ids.sort_unstable();
    let export_ids = Arc::new(sorted_ids);
    let uploads = upload_all(stack, "get_core_profiles", batches, CLIENTS, move |batch| {
        let ids = &export_ids[batch * TASK_RECORDS as usize..(batch + 1) * TASK_RECORDS as usize];
        records_jsonl(ids.iter().map(|id| json!({"core-profile-id": id})))
    })
    .await?;
    let uploaded = started.elapsed();
    wait_completed(stack, &uploads.task_ids).await?;
    let completed = started.elapsed();
    let mut exported = 0;
    for task_id in &uploads.task_ids {
        exported += download_count(&http, stack, *task_id, "results").await?;
    }
    eprintln!(
        "  export by id: uploads done after {:.2} s, completed after {:.2} s, downloaded after {:.2} s",
        uploaded.as_secs_f64(),
        completed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let by_id = rate(records, started.elapsed());
    anyhow::ensure!(exported == records, "export by id: {exported} entries");
    let started = Instant::now();
    let body = records_jsonl(std::iter::once(json!({"all": true})));
    let (task_id, _) = crate::client::post_jsonl(&http, stack, "get_core_profiles", body).await?;
    wait_completed(stack, &[task_id]).await?;
    let completed = started.elapsed();
    let everything = download_count(&http, stack, task_id, "results").await?;
    eprintln!(
        "  export of all: completed after {:.2} s, downloaded after {:.2} s",
        completed.as_secs_f64(),
        started.elapsed().as_secs_f64()
    );
    let all = rate(records, started.elapsed());
    anyhow::ensure!(everything == records, "export of all: {everything} entries");
    Ok((by_id, all))
}

/// The id of the newest task (the status reads of B5 ask for it).
pub(crate) async fn last_task(stack: &Stack) -> anyhow::Result<u64> {
    Ok(u64::try_from(
        count(stack, include_str!("../queries/last_task.sql")).await?,
    )?)
}

/// B7's worker counts.
const WIDTHS: [usize; 4] = [1, 2, 4, 8];
/// B7's share of a core per worker process: small enough that four workers and everything
/// else still fit on two cores.
const WORKER_CPU: f64 = 0.1;
/// B7 imports at most this many records per width (at 0.1 core a worker does ≈ 5 000 a second).
const SCALING_RECORDS: u64 = 200_000;

async fn scaling(
    server: &Path,
    records: u64,
    generator: Generator,
    results: &mut Results,
) -> anyhow::Result<()> {
    let records = records.min(SCALING_RECORDS);
    let worker_cpu = CpuQuota::available().then_some(WORKER_CPU);
    if worker_cpu.is_none() {
        eprintln!("  no cgroup v1 cpu controller to write to: B7 runs without CPU quotas");
    }
    results.scaling_quota = worker_cpu;
    results.scaling_records = records;
    for workers in WIDTHS {
        let layout = Layout::Split {
            workers,
            worker_cpu,
        };
        let stack = Stack::start(server, layout, &["create_core_profiles"]).await?;
        let watch = RssWatch::start(stack.services.iter().map(|service| service.pid()).collect());
        let cpu_before = CpuTimes::now(&stack);
        let imported = import(&stack, generator, records).await?;
        let (import_rate, statuses) = (imported.rate, imported.statuses);
        if workers == 1 {
            results.cpu_per_record = CpuTimes::now(&stack).since(&cpu_before).per_record(records);
        }
        memory_of(
            &stack,
            watch,
            &format!("B7 import, {workers} workers"),
            results,
        );
        let failed: i64 = statuses
            .iter()
            .map(|status| status["failed"].as_i64().unwrap_or(0))
            .sum();
        let stored = count(&stack, include_str!("../queries/count_profiles.sql")).await?;
        results.scaling.push((workers, import_rate, failed, stored));
        anyhow::ensure!(
            failed == 0 && stored == records as i64,
            "{workers} workers: {failed} failed, {stored} stored"
        );
        stack.stop().await?;
    }
    Ok(())
}

/// B7 alone.
pub async fn scaling_only(records: u64, server: &Path) -> anyhow::Result<Results> {
    let mut results = Results::default();
    scaling(server, records, Generator::new(1), &mut results).await?;
    Ok(results)
}

/// B1 alone, for profiling: its rate and its CPU per record by component (with one worker
/// process per type when `split`).
pub async fn import_only(
    records: u64,
    server: &Path,
    split: bool,
) -> anyhow::Result<(f64, Vec<(String, f64)>, crate::storage::StoragePerRecord)> {
    let layout = if split {
        Layout::Split {
            workers: 1,
            worker_cpu: None,
        }
    } else {
        Layout::All
    };
    let stack = Stack::start(server, layout, &["create_core_profiles"]).await?;
    let before = CpuTimes::now(&stack);
    let storage = crate::storage::StorageProbe::start(&stack).await?;
    let rate = import(&stack, Generator::new(1), records).await?.rate;
    let cpu = CpuTimes::now(&stack).since(&before).per_record(records);
    let written = storage.per_record(&stack, records).await?;
    stack.stop().await?;
    Ok((rate, cpu, written))
}

/// B1 then B3, without baselines (for profiling exports); the export rates by id and by `all`.
pub async fn export_only(records: u64, server: &Path) -> anyhow::Result<(f64, f64)> {
    anyhow::ensure!(
        records % TASK_RECORDS == 0,
        "--records must be a multiple of {TASK_RECORDS}"
    );
    let stack = Stack::start(server, Layout::All, &[]).await?;
    import(&stack, Generator::new(1), records).await?;
    let ids = ids_by_uid(&stack).await?;
    let rates = exports(&stack, &ids, records).await?;
    stack.stop().await?;
    Ok(rates)
}

/// Runs every scenario (growth only when `preload` is not zero).
pub async fn run_all(
    records: u64,
    server: &Path,
    seed: u64,
    preload: u64,
) -> anyhow::Result<Results> {
    let generator = Generator::new(seed);
    let mut results = Results::default();
    eprintln!("baselines...");
    baselines(records, &generator, &mut results).await?;
    eprintln!("B1-B6 with userhub-server all...");
    all_in_one(server, records, generator, &mut results).await?;
    eprintln!("B7 scaling...");
    scaling(server, records, generator, &mut results).await?;
    if preload > 0 {
        eprintln!("growth: B1 on an empty database and after {preload} more profiles...");
    }
    crate::growth::add_growth(server, records, preload, &mut results).await?;
    eprintln!("versions: B1 and B2 with and without a version on every record...");
    crate::versions::add_version_cost(server, records, &mut results).await?;
    eprintln!("B8: one file through an upload and one task...");
    crate::upload_task::add_upload_task(server, records, generator, &mut results).await?;
    Ok(results)
}
