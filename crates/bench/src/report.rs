//! The results table, printed and written between markers into `docs/benchmarks.md`.

use crate::scenarios::Results;
use std::fmt::Write as _;
use std::path::Path;

const BEGIN: &str = "<!-- results:begin -->";
const END: &str = "<!-- results:end -->";

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

fn ratio_row(
    table: &mut String,
    label: &str,
    scenario: &str,
    ours: f64,
    baseline: f64,
    baseline_name: &str,
    target: f64,
) {
    let ratio = ours / baseline.max(1e-9);
    let _ = writeln!(
        table,
        "| {label} | {scenario} | {ours:.0} rec/s | {baseline:.0} rec/s ({baseline_name}) | {ratio:.3} | ≥ {target} | {} |",
        verdict(ratio >= target)
    );
}

/// The Markdown report of one run.
pub fn render(results: &Results, records: u64) -> String {
    let mut table = String::new();
    header(&mut table, records);
    throughput_rows(&mut table, results);
    latency_rows(&mut table, results);
    memory_rows(&mut table, results);
    scaling_rows(&mut table, results);
    cost_rows(&mut table, results);
    growth_row(&mut table, results);
    version_rows(&mut table, results);
    upload_row(&mut table, results);
    checks(&mut table, results);
    table
}

/// B1 once the database holds more profiles, against B1 on an empty one.
fn growth_row(table: &mut String, results: &Results) {
    let Some(growth) = results.growth else {
        return;
    };
    ratio_row(
        table,
        "B9",
        &format!(
            "import into a database already holding {} profiles",
            growth.preloaded
        ),
        growth.loaded,
        growth.empty,
        "the same import into an empty database",
        0.85,
    );
}

/// B1 and B2 with a version on every record, against the same without (target: within 5 %).
fn version_rows(table: &mut String, results: &Results) {
    let Some(cost) = results.versions else {
        return;
    };
    ratio_row(
        table,
        "B1v",
        "import with a `version` on every record",
        cost.import_versioned,
        cost.import_plain,
        "the same import without versions",
        0.95,
    );
    ratio_row(
        table,
        "B2v",
        "update with a `version` on every record",
        cost.update_versioned,
        cost.update_plain,
        "the same update without versions",
        0.95,
    );
}

/// B8 against B1's COPY baseline; its target is B1's own ratio (no slower than B1).
fn upload_row(table: &mut String, results: &Results) {
    let Some(ours) = results.upload_task else {
        return;
    };
    let b1 = results.import.ours / results.import.baseline.max(1e-9);
    ratio_row(
        table,
        "B8",
        "one file of N records: a resumable upload, then one task of it",
        ours,
        results.import.baseline,
        "(a) COPY into our tables; target: B1's ratio",
        (b1 * 1000.0).floor() / 1000.0,
    );
}

/// The run's line (date, machine, N) and the table's head.
fn header(table: &mut String, records: u64) {
    let _ = writeln!(
        table,
        "Run of {} on {} with N = {records} (`make bench BENCH_RECORDS={records}`), release build, everything local.\n",
        chrono::Utc::now().format("%Y-%m-%d %H:%M UTC"),
        std::fs::read_to_string("/proc/cpuinfo")
            .ok()
            .and_then(|info| info
                .lines()
                .find(|line| line.starts_with("model name"))
                .map(|line| { line.split(':').nth(1).unwrap_or("").trim().to_owned() }))
            .map(|cpu| format!(
                "{} × {cpu}",
                std::thread::available_parallelism().map_or(1, |n| n.get())
            ))
            .unwrap_or_else(|| "this machine".to_owned()),
    );
    let _ = writeln!(
        table,
        "| # | scenario | userhub | baseline (same run) | ratio | target | |"
    );
    let _ = writeln!(table, "|---|---|---|---|---|---|---|");
}

/// B1–B3: throughput against PostgreSQL's own bulk paths.
fn throughput_rows(table: &mut String, results: &Results) {
    ratio_row(
        table,
        "B1",
        "import (4 clients, tasks of 10 000), events on",
        results.import.ours,
        results.import.baseline,
        "(a) COPY into our tables",
        0.75,
    );
    ratio_row(
        table,
        "B1",
        "import, as above",
        results.import.ours,
        results.import_wide_baseline,
        "(b) COPY into one wide table",
        0.40,
    );
    ratio_row(
        table,
        "B2",
        "update (3 fields + 1 custom field)",
        results.update.ours,
        results.update.baseline,
        "COPY + UPDATE FROM",
        0.65,
    );
    ratio_row(
        table,
        "B3",
        "export by id, zips downloaded",
        results.export_by_id,
        results.export_baseline,
        "COPY TO + gzip -1",
        0.75,
    );
    ratio_row(
        table,
        "B3",
        "export `{\"all\": true}`, zip downloaded",
        results.export_all,
        results.export_baseline,
        "COPY TO + gzip -1",
        0.75,
    );
}

/// B4 and B5: accept latency and status reads.
fn latency_rows(table: &mut String, results: &Results) {
    let (p50, p99, samples) = results.accept_latency_ms;
    let _ = writeln!(
        table,
        "| B4 | accept latency, 10 000-record POST during B1 | p50 {p50:.0} ms, p99 {p99:.0} ms ({samples} POSTs) | — | — | p99 < 250 ms | {} |",
        verdict(p99 < 250.0)
    );
    if !results.accept_steps_ms.is_empty() {
        let steps: Vec<String> = results
            .accept_steps_ms
            .iter()
            .map(|(name, ms)| format!("{name} {ms:.1} ms"))
            .collect();
        let _ = writeln!(
            table,
            "| B4 | where an accept's time goes (medians of `Server-Timing`): {} | — | — | — | — | |",
            steps.join(", ")
        );
    }
    let reads = results.status;
    let (status_rps, status_p50, status_p99) = (reads.per_second, reads.p50_ms, reads.p99_ms);
    let status_ratio = status_rps / results.pgbench_tps.max(1e-9);
    let _ = writeln!(
        table,
        "| B5 | status reads, 32 connections, 10 s ({}) | {status_rps:.0} req/s, p50 {status_p50:.1} ms, p99 {status_p99:.1} ms | {:.0} tps (pgbench -S -M prepared) | {status_ratio:.3} | ≥ 0.5, p99 < 20 ms | {} |",
        reads.client.name(),
        results.pgbench_tps,
        verdict(status_ratio >= 0.5 && status_p99 < 20.0)
    );
}

/// B6: peak memory of each process.
fn memory_rows(table: &mut String, results: &Results) {
    for (process, phase, mib) in &results.memory {
        let limit = if process == "all" { 400 } else { 150 };
        let _ = writeln!(
            table,
            "| B6 | peak RSS, {process}, {phase} | {mib} MiB | — | — | < {limit} MiB | {} |",
            verdict(*mib < limit)
        );
    }
}

/// B7: scaling with worker processes.
fn scaling_rows(table: &mut String, results: &Results) {
    let quota = match results.scaling_quota {
        Some(cores) => format!("each worker limited to {cores} core (cgroup cpu.cfs_quota_us)"),
        None => "no CPU quota (cgroup v1 cpu controller not writable)".to_owned(),
    };
    let single = results.scaling.first().map_or(0.0, |(_, rate, _, _)| *rate);
    for (workers, rate, failed, stored) in &results.scaling {
        let speedup = rate / single.max(1e-9);
        let target = match workers {
            2 => Some(1.8),
            4 => Some(3.2),
            _ => None,
        };
        let sound = *failed == 0 && *stored == results.scaling_records as i64;
        let met = sound && target.is_none_or(|target| speedup >= target);
        let target_text = match target {
            Some(target) => format!("≥ {target}×, no errors, no loss"),
            None => "no errors, no loss".to_owned(),
        };
        let _ = writeln!(
            table,
            "| B7 | import of {} records with {workers} worker process(es), {quota} | {rate:.0} rec/s | 1 worker: {single:.0} rec/s | {speedup:.2}× | {target_text} | {} ({failed} failed, {stored} stored) |",
            results.scaling_records,
            verdict(met)
        );
    }
}

/// CPU per record, the per-record worker comparison, and the run's checks.
fn cost_rows(table: &mut String, results: &Results) {
    if !results.cpu_per_record.is_empty() {
        let shares: Vec<String> = results
            .cpu_per_record
            .iter()
            .map(|(component, micros)| format!("{component} {micros:.0} µs"))
            .collect();
        let total: f64 = results
            .cpu_per_record
            .iter()
            .map(|(_, micros)| micros)
            .sum();
        let _ = writeln!(
            table,
            "| — | CPU per record, B7 import with 1 worker process: {} | {total:.0} µs | — | — | — | |",
            shares.join(", ")
        );
    }
    let per_record_ratio = results.import.ours / results.per_record_worker.max(1e-9);
    let _ = writeln!(
        table,
        "| — | a typical per-record worker (one INSERT … ON CONFLICT per row, 1 000 per transaction) | {:.0} rec/s | — | userhub is {per_record_ratio:.1}× faster | — | |",
        results.per_record_worker
    );
}

/// What the run checked as it went.
fn checks(table: &mut String, results: &Results) {
    let _ = writeln!(table, "\nChecks made during the run:\n");
    for check in &results.checks {
        let _ = writeln!(table, "- {check}");
    }
}

/// Replaces the results section of `path` (between its markers), or appends one.
pub fn write_into(path: &Path, table: &str) -> anyhow::Result<()> {
    let existing = std::fs::read_to_string(path)
        .unwrap_or_else(|_| format!("# Benchmarks\n\n{BEGIN}\n{END}\n"));
    let section = format!("{BEGIN}\n{table}{END}");
    let updated = match (existing.find(BEGIN), existing.find(END)) {
        (Some(begin), Some(end)) if begin < end => {
            format!(
                "{}{section}{}",
                &existing[..begin],
                &existing[end + END.len()..]
            )
        }
        _ => format!("{existing}\n{section}\n"),
    };
    std::fs::write(path, updated)?;
    Ok(())
}
