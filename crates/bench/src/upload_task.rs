//! B8: one file of N records sent through a resumable (tus) upload and made into one task, timed
//! from the upload's first byte to the task's completion — the way a user with one large export
//! loads it — against B1, the same records as tasks of 10 000 from 4 clients, on fresh stacks in
//! the same run (target: no slower than B1).

use crate::client::{client, wait_completed};
use crate::scenarios::{Results, TASK_RECORDS, jsonl_batch, rate};
use crate::stack::{Layout, Stack};
use anyhow::Context;
use serde_json::{Value, json};
use std::path::Path;
use std::time::Instant;
use userhub_datagen::Generator;

/// Bytes per PATCH request, as `userhub import` sends them.
const PATCH_BYTES: usize = 8 * 1024 * 1024;

/// Sends `file` as one upload; its id.
async fn upload(stack: &Stack, http: &reqwest::Client, file: &[u8]) -> anyhow::Result<String> {
    let created = http
        .post(format!(
            "{}/v2/{}/uploads",
            stack.base,
            crate::stack::DOMAIN
        ))
        .bearer_auth(&stack.key)
        .header("tus-resumable", "1.0.0")
        .header("upload-length", file.len())
        // `filename bench.jsonl`
        .header("upload-metadata", "filename YmVuY2guanNvbmw=")
        .send()
        .await?
        .error_for_status()?;
    let location = created
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .context("an upload without Location")?
        .to_owned();
    let url = format!("{}{location}", stack.base);
    for (n, piece) in file.chunks(PATCH_BYTES).enumerate() {
        http.patch(&url)
            .bearer_auth(&stack.key)
            .header("tus-resumable", "1.0.0")
            .header("upload-offset", n * PATCH_BYTES)
            .header("content-type", "application/offset+octet-stream")
            .body(piece.to_vec())
            .send()
            .await?
            .error_for_status()?;
    }
    Ok(location.rsplit('/').next().unwrap_or_default().to_owned())
}

/// B8's rate, records per second, with its checks.
pub async fn upload_task(server: &Path, records: u64, generator: Generator) -> anyhow::Result<f64> {
    let stack = Stack::start(server, Layout::All, &[]).await?;
    let mut file = Vec::new();
    for batch in 0..(records / TASK_RECORDS) as usize {
        file.extend(jsonl_batch(&generator, 0, batch));
    }
    let http = client();
    let started = Instant::now();
    let upload_id = upload(&stack, &http, &file).await?;
    let uploaded = started.elapsed();
    drop(file);
    let created: Value = http
        .post(stack.tasks_url())
        .bearer_auth(&stack.key)
        .json(&json!({"action": "create_core_profiles", "upload_id": upload_id}))
        .send()
        .await?
        .error_for_status()?
        .json()
        .await?;
    let task_id = created["task_id"].as_u64().context("no task_id")?;
    let accepted = started.elapsed();
    let statuses = wait_completed(&stack, &[task_id]).await?;
    let elapsed = started.elapsed();
    eprintln!(
        "  upload task: uploaded after {:.2} s, task answered ({}) after {:.2} s, completed after {:.2} s",
        uploaded.as_secs_f64(),
        created["state"].as_str().unwrap_or("?"),
        accepted.as_secs_f64(),
        elapsed.as_secs_f64()
    );
    let failed = statuses[0]["failed"].as_i64().unwrap_or(-1);
    let total = statuses[0]["total"].as_u64().unwrap_or(0);
    anyhow::ensure!(
        failed == 0 && total == records,
        "B8: {total} records, {failed} failed"
    );
    stack.stop().await?;
    Ok(rate(records, elapsed))
}

/// Runs B8 into `results` (B1 ran before it, on a stack of its own).
pub async fn add_upload_task(
    server: &Path,
    records: u64,
    generator: Generator,
    results: &mut Results,
) -> anyhow::Result<()> {
    results.upload_task = Some(upload_task(server, records, generator).await?);
    results.checks.push(format!(
        "B8: one task of {records} records from one upload, 0 failed records"
    ));
    Ok(())
}
