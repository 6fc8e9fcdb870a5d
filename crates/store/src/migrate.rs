//! Embedded migrations, applied in order under an advisory lock; running them twice is a no-op.

use crate::error::StoreError;
use deadpool_postgres::Pool;

/// `(version, name, sql)` of every migration, oldest first.
const MIGRATIONS: &[(i32, &str, &str)] = &[
    (1, "initial", include_str!("../migrations/0001_initial.sql")),
    (
        2,
        "app_profiles",
        include_str!("../migrations/0002_app_profiles.sql"),
    ),
    (
        3,
        "stall_detection",
        include_str!("../migrations/0003_stall_detection.sql"),
    ),
    (
        4,
        "tags_as_jsonb",
        include_str!("../migrations/0004_tags_as_jsonb.sql"),
    ),
    (
        5,
        "dashboard",
        include_str!("../migrations/0005_dashboard.sql"),
    ),
    (
        6,
        "task_options",
        include_str!("../migrations/0006_task_options.sql"),
    ),
    (
        7,
        "profile_events",
        include_str!("../migrations/0007_profile_events.sql"),
    ),
    (
        8,
        "exact_values",
        include_str!("../migrations/0008_exact_values.sql"),
    ),
    (
        9,
        "deferred_chunks",
        include_str!("../migrations/0009_deferred_chunks.sql"),
    ),
    (
        10,
        "tag_colors",
        include_str!("../migrations/0010_tag_colors.sql"),
    ),
    (
        11,
        "retention",
        include_str!("../migrations/0011_retention.sql"),
    ),
    (
        12,
        "outcome_frames",
        include_str!("../migrations/0012_outcome_frames.sql"),
    ),
    (
        13,
        "task_cancel",
        include_str!("../migrations/0013_task_cancel.sql"),
    ),
    (
        14,
        "rate_windows",
        include_str!("../migrations/0014_rate_windows.sql"),
    ),
    (
        15,
        "compact_event_outbox",
        include_str!("../migrations/0015_compact_event_outbox.sql"),
    ),
    (
        16,
        "dry_run_ids",
        include_str!("../migrations/0016_dry_run_ids.sql"),
    ),
    (
        17,
        "task_lineage",
        include_str!("../migrations/0017_task_lineage.sql"),
    ),
    (
        18,
        "webhooks",
        include_str!("../migrations/0018_webhooks.sql"),
    ),
    (19, "revert", include_str!("../migrations/0019_revert.sql")),
    (
        20,
        "partition_profiles",
        include_str!("../migrations/0020_partition_profiles.sql"),
    ),
    (
        21,
        "domain_led_task_keys",
        include_str!("../migrations/0021_domain_led_task_keys.sql"),
    ),
    (
        22,
        "webhook_safety",
        include_str!("../migrations/0022_webhook_safety.sql"),
    ),
    (
        23,
        "rate_leases",
        include_str!("../migrations/0023_rate_leases.sql"),
    ),
    (
        24,
        "chunk_bodies",
        include_str!("../migrations/0024_chunk_bodies.sql"),
    ),
    (
        25,
        "exact_identity_metadata",
        include_str!("../migrations/0025_exact_identity_metadata.sql"),
    ),
    (
        26,
        "record_versions",
        include_str!("../migrations/0026_record_versions.sql"),
    ),
    (
        27,
        "uploads",
        include_str!("../migrations/0027_uploads.sql"),
    ),
    (
        28,
        "upload_tasks",
        include_str!("../migrations/0028_upload_tasks.sql"),
    ),
    (
        29,
        "cheaper_identity_capture",
        include_str!("../migrations/0029_cheaper_identity_capture.sql"),
    ),
    (
        30,
        "lz4_chunk_arrays",
        include_str!("../migrations/0030_lz4_chunk_arrays.sql"),
    ),
    (
        31,
        "tasks_accepted_in_batches",
        include_str!("../migrations/0031_tasks_accepted_in_batches.sql"),
    ),
    (
        32,
        "lz4_upload_parts",
        include_str!("../migrations/0032_lz4_upload_parts.sql"),
    ),
    (
        33,
        "identity_capture_without_trigger",
        include_str!("../migrations/0033_identity_capture_without_trigger.sql"),
    ),
];

/// An arbitrary constant naming the advisory lock that serialises concurrent migrators.
const MIGRATION_LOCK_KEY: i64 = 0x0075_7365_7268_7562;

/// Applies every migration the database does not have yet; returns how many were applied.
pub async fn run_migrations(pool: &Pool) -> Result<usize, StoreError> {
    run_migrations_through(pool, i32::MAX).await
}

/// Applies the missing migrations up to version `last` (tests of upgrades stop before one).
pub async fn run_migrations_through(pool: &Pool, last: i32) -> Result<usize, StoreError> {
    let mut client = pool.get().await?;
    client
        .execute(
            include_str!("../queries/advisory/lock.sql"),
            &[&MIGRATION_LOCK_KEY],
        )
        .await?;
    let result = async {
        client
            .batch_execute(include_str!("../queries/migrations_table/create.sql"))
            .await?;
        apply_missing(&mut client, last).await
    }
    .await;
    client
        .execute(
            include_str!("../queries/advisory/unlock.sql"),
            &[&MIGRATION_LOCK_KEY],
        )
        .await?;
    result
}

async fn apply_missing(
    client: &mut deadpool_postgres::Object,
    last: i32,
) -> Result<usize, StoreError> {
    let applied: Vec<i32> = client
        .query(include_str!("../queries/migrations_table/applied.sql"), &[])
        .await?
        .iter()
        .map(|row| row.get(0))
        .collect();
    let mut count = 0;
    for (version, name, sql) in MIGRATIONS
        .iter()
        .filter(|(version, _, _)| *version <= last && !applied.contains(version))
    {
        let transaction = client.transaction().await?;
        let failed = |source| StoreError::Migration {
            version: *version,
            name,
            source,
        };
        transaction.batch_execute(sql).await.map_err(failed)?;
        transaction
            .execute(
                include_str!("../queries/migrations_table/record.sql"),
                &[version, name],
            )
            .await?;
        transaction.commit().await?;
        tracing::info!(version, name, "applied migration");
        count += 1;
    }
    Ok(count)
}

/// How long start-up waits for the database to accept migrations.
const DATABASE_START_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// Connects the pool and applies migrations, waiting for a database that is still starting.
pub async fn connect_migrated(settings: &crate::DatabaseSettings) -> Result<Pool, StoreError> {
    let pool = crate::connect(settings)?;
    let deadline = tokio::time::Instant::now() + DATABASE_START_TIMEOUT;
    loop {
        match run_migrations(&pool).await {
            Ok(_) => return Ok(pool),
            Err(error) if error.is_transient() && tokio::time::Instant::now() < deadline => {
                tracing::warn!(%error, "database not ready; retrying");
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            Err(error) => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::MIGRATIONS;

    /// Every file in `migrations/` is applied, under the version and name its file name gives,
    /// in order: a migration written but not listed would silently never run.
    #[test]
    fn every_migration_file_is_listed_in_order() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
        let mut files: Vec<String> = std::fs::read_dir(&dir)
            .expect("the migrations folder")
            .map(|entry| {
                entry
                    .expect("an entry")
                    .file_name()
                    .to_string_lossy()
                    .into_owned()
            })
            .filter(|name| name.ends_with(".sql"))
            .collect();
        files.sort();
        let listed: Vec<String> = MIGRATIONS
            .iter()
            .map(|(version, name, _)| format!("{version:04}_{name}.sql"))
            .collect();
        assert_eq!(listed, files);
        for (file, (_, _, sql)) in files.iter().zip(MIGRATIONS) {
            let text = std::fs::read_to_string(dir.join(file)).expect("the migration's text");
            assert_eq!(&text, sql, "{file} is the text applied");
        }
    }
}
