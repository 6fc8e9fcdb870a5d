//! Baselines measured in the same run on the same machine: PostgreSQL's own bulk paths on an
//! empty copy of our schema, `pgbench`, and a typical hand-written per-record worker.

use crate::columns::{IDENTITY_COLUMNS, PROFILE_COLUMNS, WIDE_COLUMNS};
use anyhow::Context;
use bytes::Bytes;
use futures_util::SinkExt;
use std::path::Path;
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;
use tokio_postgres::NoTls;
use userhub_datagen::Generator;
use userhub_domain::profile::core::CoreProfileState;
use userhub_domain::record::parse_new_core_profile;

async fn connect(url: &str) -> anyhow::Result<tokio_postgres::Client> {
    let (client, connection) = tokio_postgres::connect(url, NoTls).await?;
    tokio::spawn(connection);
    Ok(client)
}

/// Streams a CSV file into `COPY table (columns) FROM STDIN`.
pub async fn copy_file(
    client: &tokio_postgres::Client,
    table: &str,
    columns: &str,
    file: &Path,
) -> anyhow::Result<()> {
    let sink = client
        .copy_in(
            &include_str!("../queries/copy_csv.sql")
                .replace("{table}", table)
                .replace("{columns}", columns),
        )
        .await?;
    let mut sink = std::pin::pin!(sink);
    let mut reader = tokio::fs::File::open(file)
        .await
        .with_context(|| file.display().to_string())?;
    let mut buffer = vec![0; 1 << 20];
    loop {
        let read = reader.read(&mut buffer).await?;
        if read == 0 {
            break;
        }
        sink.send(Bytes::copy_from_slice(&buffer[..read])).await?;
    }
    sink.as_mut().finish().await?;
    Ok(())
}

/// B1 baseline: `COPY` of the profiles and identities into the empty tables.
pub async fn copy_import(
    url: &str,
    profiles: &Path,
    identities: &Path,
) -> anyhow::Result<Duration> {
    let client = connect(url).await?;
    let started = Instant::now();
    copy_file(&client, "core_profiles", PROFILE_COLUMNS, profiles).await?;
    copy_file(&client, "identities", IDENTITY_COLUMNS, identities).await?;
    Ok(started.elapsed())
}

/// B1 baseline (b): `COPY` of the same rows into one wide table (the profile columns plus `uid`,
/// `email` and `phone`) with a unique index on (domain, uid) and an index on (domain,
/// lower(email)), created empty before the clock starts.
pub async fn copy_import_wide(url: &str, wide: &Path) -> anyhow::Result<Duration> {
    let client = connect(url).await?;
    client
        .batch_execute(include_str!("../queries/create_wide_table.sql"))
        .await?;
    let started = Instant::now();
    copy_file(&client, "wide_profiles", WIDE_COLUMNS, wide).await?;
    let elapsed = started.elapsed();
    client
        .batch_execute(include_str!("../queries/drop_wide_table.sql"))
        .await?;
    Ok(elapsed)
}

/// B2 baseline: `COPY` into a staging table and one set-based `UPDATE ... FROM`.
pub async fn copy_update(url: &str, updates: &Path) -> anyhow::Result<Duration> {
    let client = connect(url).await?;
    let started = Instant::now();
    client
        .batch_execute(include_str!("../queries/create_staging.sql"))
        .await?;
    copy_file(
        &client,
        "staging",
        "id, last_city, age, user_persona, custom_fields",
        updates,
    )
    .await?;
    client
        .batch_execute(include_str!("../queries/update_from_staging.sql"))
        .await?;
    Ok(started.elapsed())
}

/// B3 baseline: `COPY (SELECT row_to_json(...)) TO STDOUT` piped through `gzip -1`.
pub async fn copy_export(url: &str) -> anyhow::Result<Duration> {
    let started = Instant::now();
    let status = tokio::process::Command::new("bash")
        .arg("-c")
        .arg("set -o pipefail; psql \"$1\" -qAt -c \"$2\" | gzip -1 > /dev/null")
        .arg("copy-export")
        .arg(url)
        .arg(include_str!("../queries/export_copy.psql").trim())
        .status()
        .await?;
    anyhow::ensure!(status.success(), "psql | gzip failed");
    Ok(started.elapsed())
}

/// B5 baseline: `pgbench -S -M prepared` with `clients` clients for `seconds`; returns tps.
pub async fn pgbench(database_url: &str, clients: u32, seconds: u32) -> anyhow::Result<f64> {
    let init = tokio::process::Command::new("pgbench")
        .args(["-i", "-s", "1", "-q", database_url])
        .output()
        .await?;
    anyhow::ensure!(
        init.status.success(),
        "pgbench -i: {}",
        String::from_utf8_lossy(&init.stderr)
    );
    let run = tokio::process::Command::new("pgbench")
        .args([
            "-S",
            "-M",
            "prepared",
            "-c",
            &clients.to_string(),
            "-j",
            "2",
            "-T",
            &seconds.to_string(),
            database_url,
        ])
        .output()
        .await?;
    let report = String::from_utf8_lossy(&run.stdout);
    anyhow::ensure!(
        run.status.success(),
        "pgbench: {}",
        String::from_utf8_lossy(&run.stderr)
    );
    report
        .lines()
        .find(|line| line.starts_with("tps = "))
        .and_then(|line| {
            line.trim_start_matches("tps = ")
                .split_whitespace()
                .next()?
                .parse()
                .ok()
        })
        .context("no tps in the pgbench report")
}

/// The typical hand-written worker: one `INSERT ... ON CONFLICT` per row, 1 000 records per
/// transaction. Returns how long `range` took.
pub async fn per_record_inserts(
    url: &str,
    generator: &Generator,
    range: std::ops::Range<u64>,
    domain_id: i64,
) -> anyhow::Result<Duration> {
    let mut client = connect(url).await?;
    let profile = client
        .prepare(include_str!("../queries/insert_profile.sql"))
        .await?;
    let identity = client
        .prepare(include_str!("../queries/insert_identity.sql"))
        .await?;
    let records: Vec<_> = range
        .clone()
        .map(|n| {
            parse_new_core_profile(&generator.create_record(n).to_string())
                .map_err(|errors| anyhow::anyhow!("{errors:?}"))
        })
        .collect::<anyhow::Result<_>>()?;
    let started = Instant::now();
    for (batch_no, batch) in records.chunks(1_000).enumerate() {
        let transaction = client.transaction().await?;
        for (offset, record) in batch.iter().enumerate() {
            let id = 1 + (batch_no * 1_000 + offset) as i64;
            let f = &record.fields;
            let mut state = CoreProfileState::default();
            state
                .apply(f)
                .map_err(|error| anyhow::anyhow!("{error:?}"))?;
            let names =
                (!state.names.is_empty()).then(|| tokio_postgres::types::Json(state.names.clone()));
            let custom = (!state.custom_fields.is_empty())
                .then(|| tokio_postgres::types::Json(state.custom_fields.clone()));
            let age = f.age.value().map(|age| *age as i16);
            let tags = f
                .tags
                .value()
                .map(|tags| serde_json::Value::from(tags.clone()));
            transaction
                .execute(
                    &profile,
                    &[
                        &id,
                        &domain_id,
                        &names,
                        &tags,
                        &custom,
                        &f.last_country.value(),
                        &f.last_city.value(),
                        &age,
                        &f.lifetime_value.value().map(|ltv| ltv.as_str()),
                        &f.user_persona.value(),
                        &f.preferred_language.value(),
                        &f.last_active_date.value(),
                    ],
                )
                .await?;
            for entry in &record.identities {
                transaction
                    .execute(
                        &identity,
                        &[
                            &domain_id,
                            &entry.kind().as_str(),
                            &entry.normalized(),
                            &entry.value(),
                            &id,
                        ],
                    )
                    .await?;
            }
        }
        transaction.commit().await?;
    }
    Ok(started.elapsed())
}
