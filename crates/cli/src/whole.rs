//! `userhub import` of a file over the per-task limit as one task: when the server takes
//! resumable uploads and the file holds more records than a task but no more than an upload
//! task, the file goes up whole (resumably, see `upload`) and becomes one task, whose key is
//! derived from the upload so that a run started again gets the same task.

use crate::api::{ApiClient, Limits, Payload};
use crate::error::CliError;
use crate::import::{
    ImportOptions, UploadedPart, request_descriptor, uploaded_line, write_manifest,
};
use crate::ui::Ui;
use crate::upload::{max_upload_bytes, upload_file};
use sha2::{Digest, Sha256};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// The records of a plain JSONL file (its non-blank lines), or `None` for any other file (a
/// JSON array, gzip), which is imported in parts.
fn jsonl_records(file: &Path) -> Result<Option<u64>, CliError> {
    let fail =
        |error: std::io::Error| CliError::Usage(format!("cannot read {}: {error}", file.display()));
    let mut reader = BufReader::with_capacity(1 << 20, std::fs::File::open(file).map_err(fail)?);
    let start = reader.fill_buf().map_err(fail)?;
    let first = start
        .iter()
        .find(|byte| !byte.is_ascii_whitespace() && !b"\xEF\xBB\xBF".contains(byte));
    if matches!(first, Some(b'[') | Some(0x1f) | None) {
        return Ok(None);
    }
    let mut records = 0;
    let mut line = Vec::new();
    loop {
        line.clear();
        let read = (&mut reader)
            .take(u64::MAX)
            .read_until(b'\n', &mut line)
            .map_err(fail)?;
        if read == 0 {
            return Ok(Some(records));
        }
        if !line.iter().all(u8::is_ascii_whitespace) {
            records += 1;
        }
    }
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
    let Some(records) = jsonl_records(&options.file)?
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
