//! `userhub-bench`: the benchmarks B1–B7 of the project against the real stack in release mode,
//! each with its baseline measured in the same run, verifying correctness as they go. Prints a
//! Markdown table and writes it into `docs/benchmarks.md`.

mod baselines;
mod client;
mod columns;
mod cpu;
mod cpu_quota;
mod growth;
mod parse;
mod report;
mod results;
mod rss;
mod scenarios;
mod stack;
mod status;
mod status_wrk;
mod storage;
mod upload_task;
mod versions;

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::io::Write;
use std::path::PathBuf;
use userhub_datagen::Generator;

#[derive(Parser)]
#[command(
    name = "userhub-bench",
    about = "userhub benchmarks with same-run baselines"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the benchmarks.
    Run {
        /// Records per scenario (N).
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        /// The `userhub-server` binary (release build).
        #[arg(long, default_value = "target/release/userhub-server")]
        server: PathBuf,
        /// Where the results table goes (between its markers).
        #[arg(long, default_value = "docs/benchmarks.md")]
        out: PathBuf,
        /// Seed of the generated records.
        #[arg(long, default_value_t = 1)]
        seed: u64,
        /// Profiles to add between two B1 imports measuring the cost of growth (0: skip it).
        #[arg(long, default_value_t = 0)]
        preload: u64,
    },
    /// Only the cost of growth: B1 on an empty database, then again after `--preload` more
    /// profiles, without baselines.
    Growth {
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        #[arg(long, default_value_t = 1_000_000)]
        preload: u64,
        #[arg(long, default_value = "target/release/userhub-server")]
        server: PathBuf,
    },
    /// Only B8 against B1: one file through an upload and one task, and the same records as
    /// tasks of 10 000, each on a fresh stack.
    Upload {
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        #[arg(long, default_value = "target/release/userhub-server")]
        server: PathBuf,
    },
    /// Only the version guard's cost: B1 and B2 with and without a `version` on every record.
    Versions {
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        #[arg(long, default_value = "target/release/userhub-server")]
        server: PathBuf,
    },
    /// Only B1 through `userhub-server all`, without baselines (for profiling): its rate and
    /// the CPU time per record of each process.
    Import {
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        #[arg(long, default_value = "target/release/userhub-server")]
        server: PathBuf,
        /// Run `userhub-server api` and one worker process instead of `all`.
        #[arg(long)]
        split: bool,
    },
    /// Only B7: the import with 1, 2, 4 and 8 worker processes, each under a CPU quota.
    Scaling {
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        #[arg(long, default_value = "target/release/userhub-server")]
        server: PathBuf,
    },
    /// B1 then only B3 (export by id and by `all`), without baselines (for profiling).
    Export {
        #[arg(long, default_value_t = 100_000)]
        records: u64,
        #[arg(long, default_value = "target/release/userhub-server")]
        server: PathBuf,
    },
    /// Only B5 (status reads, 32 connections) with rate-limit leases of 1 and of the default,
    /// against `pgbench -S` in the same run.
    Status {
        #[arg(long, default_value = "target/release/userhub-server")]
        server: PathBuf,
    },
    /// Only the record readers: CPU time per record of reading generated records, one thread,
    /// no services (for measuring a change to the readers apart from an import's noise).
    Parse {
        #[arg(long, default_value_t = 200_000)]
        records: u64,
    },
    /// Print generated `create_core_profiles` records as JSONL.
    Generate {
        #[arg(long, default_value_t = 1000)]
        records: u64,
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Generate { records, seed } => {
            let stdout = std::io::stdout();
            let mut out = std::io::BufWriter::new(stdout.lock());
            Generator::new(seed).write_create_jsonl(0..records, &mut out)?;
            out.flush()?;
        }
        Command::Import {
            records,
            server,
            split,
        } => {
            let (rate, cpu, written) =
                scenarios::import_only(records, &std::fs::canonicalize(&server)?, split).await?;
            println!("import: {rate:.0} records/s");
            for (component, micros) in cpu {
                println!("  {component}: {micros:.1} µs CPU per record");
            }
            println!(
                "  written per record: {:.0} B in the profile tables, {:.0} B of task bookkeeping, {:.0} B of WAL",
                written.profiles, written.bookkeeping, written.wal
            );
        }
        Command::Scaling { records, server } => {
            let results =
                scenarios::scaling_only(records, &std::fs::canonicalize(&server)?).await?;
            let single = results.scaling.first().map_or(0.0, |(_, rate, _, _)| *rate);
            println!("quota per worker: {:?} core", results.scaling_quota);
            for (workers, rate, failed, stored) in &results.scaling {
                println!(
                    "{workers} worker(s): {rate:.0} records/s ({:.2}×), {failed} failed, {stored} stored",
                    rate / single.max(1e-9)
                );
            }
        }
        Command::Status { server } => print_status_only(&server).await?,
        Command::Export { records, server } => {
            let (by_id, all) =
                scenarios::export_only(records, &std::fs::canonicalize(&server)?).await?;
            println!("export by id: {by_id:.0} records/s; export of all: {all:.0} records/s");
        }
        Command::Parse { records } => parse::print_parse_cost(records)?,
        Command::Versions { records, server } => print_version_cost(records, &server).await?,
        Command::Upload { records, server } => print_upload_task(records, &server).await?,
        Command::Growth {
            records,
            preload,
            server,
        } => {
            anyhow::ensure!(
                records % 10_000 == 0 && preload % 10_000 == 0,
                "--records and --preload must be multiples of 10 000"
            );
            let server = std::fs::canonicalize(&server)?;
            let measured = growth::growth(&server, records, preload).await?;
            println!(
                "empty: {:.0} records/s; with {} profiles stored: {:.0} records/s ({:.3})",
                measured.empty,
                measured.preloaded,
                measured.loaded,
                measured.loaded / measured.empty.max(1e-9)
            );
        }
        Command::Run {
            records,
            server,
            out,
            seed,
            preload,
        } => {
            anyhow::ensure!(
                records >= 10_000 && records % 10_000 == 0 && preload % 10_000 == 0,
                "--records and --preload must be multiples of 10 000"
            );
            let server = std::fs::canonicalize(&server).with_context(|| {
                format!(
                    "{} not found: run `cargo build --release` first",
                    server.display()
                )
            })?;
            let results = scenarios::run_all(records, &server, seed, preload).await?;
            let table = report::render(&results, records);
            println!("{table}");
            report::write_into(&out, &table)?;
            eprintln!("results written to {}", out.display());
        }
    }
    Ok(())
}

/// `userhub-bench upload`: B1 then B8, each on a fresh stack.
async fn print_upload_task(records: u64, server: &std::path::Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        records % 10_000 == 0,
        "--records must be a multiple of 10 000"
    );
    let server = std::fs::canonicalize(server)?;
    let generator = userhub_datagen::Generator::new(7);
    let stack = stack::Stack::start(&server, stack::Layout::All, &[]).await?;
    let tasks = scenarios::import(&stack, generator, records).await?;
    stack.stop().await?;
    let upload = upload_task::upload_task(&server, records, generator).await?;
    println!(
        "B1 (tasks of 10 000): {:.0} records/s; B8 (one upload, one task): {upload:.0} records/s ({:.3})",
        tasks.rate,
        upload / tasks.rate.max(1e-9)
    );
    Ok(())
}

/// `userhub-bench versions`: B1 and B2 with and without a version on every record.
async fn print_version_cost(records: u64, server: &std::path::Path) -> anyhow::Result<()> {
    anyhow::ensure!(
        records % 20_000 == 0,
        "--records must be a multiple of 20 000"
    );
    let server = std::fs::canonicalize(server)?;
    let cost = versions::version_cost(&server, records).await?;
    println!(
        "import: {:.0} records/s plain, {:.0} versioned ({:.3}); update: {:.0} plain, {:.0} \
         versioned ({:.3})",
        cost.import_plain,
        cost.import_versioned,
        cost.import_versioned / cost.import_plain,
        cost.update_plain,
        cost.update_versioned,
        cost.update_versioned / cost.update_plain
    );
    Ok(())
}

/// B5 alone: prints each lease setting's status reads by each client against pgbench.
async fn print_status_only(server: &std::path::Path) -> anyhow::Result<()> {
    let (runs, pgbench) = status::status_only(&std::fs::canonicalize(server)?).await?;
    println!("pgbench -S -M prepared, 32 clients: {pgbench:.0} tps");
    for (max_lease, reads) in runs {
        println!(
            "max_lease {max_lease}, {}: {:.0} req/s ({:.3} of pgbench), p50 {:.1} ms, p99 {:.1} ms",
            reads.client.name(),
            reads.per_second,
            reads.per_second / pgbench.max(1e-9),
            reads.p50_ms,
            reads.p99_ms
        );
    }
    Ok(())
}
