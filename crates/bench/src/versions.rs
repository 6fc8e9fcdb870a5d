//! The cost of the version guard: B1 and B2 with a `version` on every record against the same
//! imports and updates without, on one stack in one run, in the order plain, versioned,
//! versioned, plain (so that neither side gets the warmer or the fuller database).

use crate::scenarios::{Results, TASK_RECORDS, ids_by_uid, import_range, update_range};
use crate::stack::{Layout, Stack};
use std::path::Path;
use std::sync::Arc;
use userhub_datagen::Generator;

/// The generator of the four parts, which take disjoint ranges of its records.
const SEED: u64 = 202;

/// Rates with and without versions, records per second.
#[derive(Debug, Clone, Copy, Default)]
pub struct VersionCost {
    pub import_plain: f64,
    pub import_versioned: f64,
    pub update_plain: f64,
    pub update_versioned: f64,
}

/// The harmonic mean of two rates over equal record counts (total records over total time).
fn combined(first: f64, second: f64) -> f64 {
    2.0 / (1.0 / first.max(1e-9) + 1.0 / second.max(1e-9))
}

/// Imports and then updates four parts of `records / 2` each, plain and versioned in turn.
pub async fn version_cost(server: &Path, records: u64) -> anyhow::Result<VersionCost> {
    let part = (records / 2 / TASK_RECORDS).max(1) * TASK_RECORDS;
    let stack = Stack::start(server, Layout::All, &[]).await?;
    let plain = Generator::new(SEED);
    let versioned = plain.with_versions();
    // Warm the processes and caches up first.
    let warm_up = import_range(&stack, plain, 0, TASK_RECORDS).await?;
    let order = [plain, versioned, versioned, plain];
    let mut imports = Vec::new();
    for (n, generator) in order.iter().enumerate() {
        let first = TASK_RECORDS + n as u64 * part;
        imports.push(import_range(&stack, *generator, first, part).await?);
    }
    let ids = Arc::new(ids_by_uid(&stack).await?);
    let mut updates = Vec::new();
    for (n, generator) in order.iter().enumerate() {
        let first = TASK_RECORDS + n as u64 * part;
        updates.push(update_range(&stack, *generator, ids.clone(), first, part).await?);
    }
    let failed: i64 = warm_up.failed()
        + imports.iter().map(|run| run.failed()).sum::<i64>()
        + updates.iter().map(|run| run.failed()).sum::<i64>();
    anyhow::ensure!(failed == 0, "versions: {failed} failed records");
    let client = stack.pool.get().await?;
    let versions: i64 = client
        .query_one(
            "SELECT count(*) FROM core_profiles WHERE version = $1",
            &[&((userhub_datagen::CREATE_VERSION + 1) as i64)],
        )
        .await?
        .get(0);
    anyhow::ensure!(
        versions == 2 * part as i64,
        "versions: {versions} profiles at the updates' version, {} expected",
        2 * part
    );
    drop(client);
    stack.stop().await?;
    Ok(VersionCost {
        import_plain: combined(imports[0].rate, imports[3].rate),
        import_versioned: combined(imports[1].rate, imports[2].rate),
        update_plain: combined(updates[0].rate, updates[3].rate),
        update_versioned: combined(updates[1].rate, updates[2].rate),
    })
}

/// Runs the scenario into `results`.
pub async fn add_version_cost(
    server: &Path,
    records: u64,
    results: &mut Results,
) -> anyhow::Result<()> {
    let measured = version_cost(server, records).await?;
    results.checks.push(
        "versions: every versioned update applied (its profiles hold its version), 0 failed \
         records"
            .to_owned(),
    );
    results.versions = Some(measured);
    Ok(())
}
