//! `userhub import` of a file over the per-task limit as one task: when the server takes
//! resumable uploads and the file (JSONL or a JSON array) holds more records than a task but no
//! more than an upload task, the file goes up whole (resumably, see `upload`) and becomes one
//! task, whose key is derived from the upload so that a run started again gets the same task.

use crate::api::{ApiClient, Limits, Payload};
use crate::error::CliError;
use crate::import::{
    ImportOptions, UploadedPart, request_descriptor, uploaded_line, write_manifest,
};
use crate::parts::{PartLimits, split_file};
use crate::ui::Ui;
use crate::upload::{max_upload_bytes, upload_file};
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::Path;

/// The records of a JSONL or JSON-array file, counted as `userhub import` splits it (one
/// streaming reading), or `None` for a file it cannot read that way (gzip, a broken array),
/// which is left to the parts, whose errors say what is wrong.
async fn count_records(file: &Path) -> Result<Option<u64>, CliError> {
    let path = file.to_owned();
    let counted = tokio::task::spawn_blocking(move || {
        let mut start = [0u8; 2];
        let read = std::fs::File::open(&path).and_then(|mut handle| handle.read(&mut start));
        if matches!(read, Ok(2)) && start == [0x1f, 0x8b] {
            return None;
        }
        let limits = PartLimits {
            records: 10_000,
            bytes: 16 << 20,
        };
        split_file(&path, limits, |_| true).ok()
    })
    .await
    .map_err(|error| CliError::Usage(format!("counting the records failed: {error}")))?;
    Ok(counted)
}

/// The task's idempotency key: the upload and what is asked of it.
fn upload_key(options: &ImportOptions, upload_id: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(request_descriptor(options, "").as_bytes());
    hash.update(b"\nupload=");
    hash.update(upload_id.as_bytes());
    let digest: String = hash
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect();
    format!("uhcli-upload-{digest}")
}

/// Imports the file as one task from an upload if it should be; `None` to split it into parts.
pub async fn import_as_one_upload(
    client: &ApiClient,
    ui: &Ui,
    options: &ImportOptions,
    limits: &Limits,
) -> Result<Option<Vec<UploadedPart>>, CliError> {
    // Reads and dry runs judge the data anew on every run; an upload makes one task only.
    if !options.upload
        || options.part_records.is_some()
        || options.is_read()
        || options.is_dry_run()
    {
        return Ok(None);
    }
    let Some(per_upload) = limits.records_per_upload else {
        return Ok(None);
    };
    let Some(records) = count_records(&options.file)
        .await?
        .filter(|records| *records > limits.records_per_task && *records <= per_upload)
    else {
        return Ok(None);
    };
    let size = std::fs::metadata(&options.file).map_or(0, |meta| meta.len());
    if max_upload_bytes(client).await?.is_none_or(|max| size > max) {
        return Ok(None);
    }
    ui.line(format!(
        "importing {} as {} in one task of {records} records, through a resumable upload",
        options.file.display(),
        options.action
    ));
    let upload_id = upload_file(client, ui, &options.file, &options.out_dir).await?;
    let key = upload_key(options, &upload_id);
    let created = client
        .create_task(
            &options.action,
            &options.task_options,
            &Payload::Upload(upload_id),
            Some(&key),
        )
        .await?;
    let part = UploadedPart {
        part: 1,
        task_id: created.task_id,
        first_index: 0,
        first_line: Some(1),
        records,
        idempotency_key: key,
        replayed: created.replayed,
    };
    ui.line(uploaded_line(&part));
    write_manifest(options, std::slice::from_ref(&part))?;
    Ok(Some(vec![part]))
}
