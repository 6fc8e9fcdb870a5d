//! The cost of growth: B1 on an empty database against B1 on one that already holds
//! `--preload` profiles (imported through the API, like any other), on one stack in one run,
//! after one task that warms the processes and caches up.

use crate::scenarios::{Results, TASK_RECORDS, import_range};
use crate::stack::{Layout, Stack};
use std::path::Path;
use userhub_datagen::Generator;

/// The generator of the three imports, which take disjoint ranges of its records (so that no
/// uid, email or phone number of one meets another's).
const SEED: u64 = 101;

/// Records before the generator's phone numbers repeat.
const PHONE_NUMBERS: u64 = 10_000_000;

/// What growth costs an import.
#[derive(Debug, Clone, Copy, Default)]
pub struct Growth {
    /// Profiles stored before the second import.
    pub preloaded: u64,
    /// B1's rate on the empty database, records per second.
    pub empty: f64,
    /// B1's rate once `preloaded` profiles are stored.
    pub loaded: f64,
}

/// Imports `records` into an empty database, then `preload` more, then `records` again.
pub async fn growth(server: &Path, records: u64, preload: u64) -> anyhow::Result<Growth> {
    anyhow::ensure!(
        TASK_RECORDS + 2 * records + preload <= PHONE_NUMBERS,
        "growth: at most {PHONE_NUMBERS} records in all (the generator's phone numbers repeat after that)"
    );
    let stack = Stack::start(server, Layout::All, &[]).await?;
    let generator = Generator::new(SEED);
    // One task first, so that both measured imports find the processes and caches warm.
    let warm_up = import_range(&stack, generator, 0, TASK_RECORDS).await?;
    let empty = import_range(&stack, generator, TASK_RECORDS, records).await?;
    eprintln!("  growth: preloading {preload} profiles...");
    let preloaded = import_range(&stack, generator, TASK_RECORDS + records, preload).await?;
    let last = TASK_RECORDS + records + preload;
    let loaded = import_range(&stack, generator, last, records).await?;
    let failed = warm_up.failed() + empty.failed() + preloaded.failed() + loaded.failed();
    anyhow::ensure!(failed == 0, "growth: {failed} failed records");
    let client = stack.pool.get().await?;
    let stored: i64 = client
        .query_one(include_str!("../queries/count_profiles.sql"), &[])
        .await?
        .get(0);
    let expected = TASK_RECORDS + 2 * records + preload;
    anyhow::ensure!(
        stored == expected as i64,
        "growth: {stored} profiles stored, {expected} expected"
    );
    drop(client);
    stack.stop().await?;
    Ok(Growth {
        preloaded: TASK_RECORDS + records + preload,
        empty: empty.rate,
        loaded: loaded.rate,
    })
}

/// Runs the growth scenario into `results` when `preload` is not zero.
pub async fn add_growth(
    server: &Path,
    records: u64,
    preload: u64,
    results: &mut Results,
) -> anyhow::Result<()> {
    if preload == 0 {
        return Ok(());
    }
    let measured = growth(server, records, preload).await?;
    results.checks.push(format!(
        "growth: {} profiles stored after the four imports, 0 failed records",
        TASK_RECORDS + 2 * records + preload
    ));
    results.growth = Some(measured);
    Ok(())
}
