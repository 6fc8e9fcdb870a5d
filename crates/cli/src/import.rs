//! `userhub import`: split the file into parts of the domain's record limit, upload them with
//! bounded concurrency (each with an idempotency key derived from its content, so a re-run
//! resumes without duplicates), wait for the tasks, and merge their results and errors into one
//! NDJSON file each with the file's indexes and line numbers.

use crate::api::{ApiClient, ApiError, Limits, Payload, TaskStatus};
use crate::error::CliError;
use crate::merge::{Offsets, append_download};
use crate::parts::{Part, PartLimits, split_file};
use crate::ui::Ui;
use crate::watch::wait_for;
use futures_util::StreamExt;
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// What to import and how.
#[derive(Debug, Clone)]
pub struct ImportOptions {
    pub action: String,
    /// Request options sent with every part (`match_by`, `skip_triggers`, `workflow_id`).
    pub task_options: Vec<(String, String)>,
    pub file: PathBuf,
    pub out_dir: PathBuf,
    pub concurrency: usize,
    /// At most the domain's limit.
    pub part_records: Option<u64>,
    pub wait: bool,
    /// Send a file over the per-task limit as one resumable upload, as one task (when the
    /// server takes uploads).
    pub upload: bool,
}

impl ImportOptions {
    /// Reads (`get_*`) are never resumed from an earlier run: their answer must be current.
    pub fn is_read(&self) -> bool {
        self.action.starts_with("get_")
    }

    /// A dry run judges the data as it is now: like a read, it is never resumed from an
    /// earlier run (and the server does not replay a dry run by its key either).
    pub fn is_dry_run(&self) -> bool {
        self.task_options
            .iter()
            .any(|(name, value)| name == "dry_run" && value == "true")
    }
}

/// One uploaded part, as `import.json` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct UploadedPart {
    /// 1-based, as the progress lines show it.
    pub part: usize,
    pub task_id: u64,
    pub first_index: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_line: Option<u64>,
    pub records: u64,
    pub idempotency_key: String,
    /// Created by an earlier run.
    pub replayed: bool,
}

/// How the import went.
#[derive(Debug)]
pub struct ImportSummary {
    pub parts: Vec<UploadedPart>,
    /// Set once waited for.
    pub statuses: Option<BTreeMap<u64, TaskStatus>>,
    pub results_file: Option<PathBuf>,
    pub errors_file: Option<PathBuf>,
}

impl ImportSummary {
    pub fn records(&self) -> u64 {
        self.parts.iter().map(|part| part.records).sum()
    }
}

/// Servers without the limits endpoint get the original API's limits.
async fn limits_of(client: &ApiClient) -> Result<Limits, ApiError> {
    match client.limits().await {
        Err(ApiError::Server { status: 404, .. }) => Ok(Limits {
            records_per_task: 10_000,
            records_per_upload: None,
            requests_per_minute: 60,
            max_multipart_bytes: 16 * 1024 * 1024,
        }),
        other => other,
    }
}

pub fn write_manifest(options: &ImportOptions, parts: &[UploadedPart]) -> Result<(), CliError> {
    let path = options.out_dir.join("import.json");
    let manifest = serde_json::json!({
        "file": options.file.display().to_string(),
        "action": options.action,
        "options": options.task_options.iter().cloned().collect::<BTreeMap<String, String>>(),
        "parts": parts,
    });
    let text =
        serde_json::to_vec_pretty(&manifest).map_err(|error| CliError::write(&path, error))?;
    std::fs::write(&path, text).map_err(|error| CliError::write(&path, error))
}

/// What the idempotency key covers besides the bytes: the action and any options (an import
/// without options keeps the keys of earlier versions), and for reads and dry runs this run, so
/// that a retry within the run is idempotent but a new run judges the data afresh.
pub fn request_descriptor(options: &ImportOptions, run: &str) -> String {
    let mut descriptor = options.action.clone();
    for (name, value) in &options.task_options {
        descriptor.push_str(&format!("\n{name}={value}"));
    }
    if options.is_read() || options.is_dry_run() {
        descriptor.push_str(&format!("\nrun={run}"));
    }
    descriptor
}

/// An id of this run (for the idempotency keys of reads).
fn run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_nanos());
    format!("{nanos:x}-{:x}", std::process::id())
}

async fn upload(
    client: &ApiClient,
    options: &ImportOptions,
    run: &str,
    part: Part,
) -> Result<(UploadedPart, u64), (usize, ApiError)> {
    let action = options.action.as_str();
    let number = part.number + 1;
    let key = part.idempotency_key(&request_descriptor(options, run));
    let payload = Payload::File {
        bytes: part.bytes.clone(),
        jsonl: part.jsonl,
    };
    let created = client
        .create_task(action, &options.task_options, &payload, Some(&key))
        .await
        .map_err(|error| (number, error))?;
    Ok((
        UploadedPart {
            part: number,
            task_id: created.task_id,
            first_index: part.first_index,
            first_line: part.first_line,
            records: part.records,
            idempotency_key: key,
            replayed: created.replayed,
        },
        part.bytes.len() as u64,
    ))
}

/// Parts of at most the domain's records per task, and of a size its multipart limit takes.
fn part_limits(limits: &Limits, options: &ImportOptions) -> PartLimits {
    PartLimits {
        records: options
            .part_records
            .unwrap_or(limits.records_per_task)
            .clamp(1, limits.records_per_task.max(1)),
        // Leave room for the multipart framing.
        bytes: limits
            .max_multipart_bytes
            .saturating_sub(64 * 1024)
            .max(1024),
    }
}

/// What the user sees for an uploaded part.
pub fn uploaded_line(part: &UploadedPart) -> String {
    format!(
        "part {}: records {}..{} -> task {}{}",
        part.part,
        part.first_index,
        part.first_index + part.records - 1,
        part.task_id,
        if part.replayed {
            " (already uploaded)"
        } else {
            ""
        }
    )
}

/// What the user sees when an upload stopped at part `number`, and how to go on.
fn stopped_line(
    options: &ImportOptions,
    error: &ApiError,
    number: usize,
    uploaded: usize,
) -> String {
    if error.is_retryable() || options.is_read() {
        format!("stopped after {uploaded} uploaded parts; run the same command again to resume")
    } else {
        format!(
            "the server refused part {number}; fix the input and run the command again \
             (the {uploaded} parts uploaded so far are recognised and not sent twice)"
        )
    }
}

/// Splits and uploads; returns the parts in input order.
async fn upload_all(
    client: &ApiClient,
    ui: &Ui,
    options: &ImportOptions,
) -> Result<Vec<UploadedPart>, CliError> {
    let limits = limits_of(client).await?;
    if let Some(whole) = crate::whole::import_as_one_upload(client, ui, options, &limits).await? {
        return Ok(whole);
    }
    let part_limits = part_limits(&limits, options);
    let records = part_limits.records;
    let concurrency = options.concurrency.max(1);
    let size = std::fs::metadata(&options.file).map_or(0, |meta| meta.len());
    let bar = ui.bar("upload", size, "bytes");
    ui.line(format!(
        "importing {} as {} in parts of up to {records} records, {concurrency} at a time \
         (the domain allows {} requests a minute)",
        options.file.display(),
        options.action,
        limits.requests_per_minute
    ));
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Part>(concurrency);
    let file = options.file.clone();
    let splitter = tokio::task::spawn_blocking(move || {
        split_file(&file, part_limits, |part| {
            sender.blocking_send(part).is_ok()
        })
    });
    let parts = futures_util::stream::poll_fn(|context| receiver.poll_recv(context));
    let run = run_id();
    let mut uploads = parts
        .map(|part| upload(client, options, &run, part))
        .buffer_unordered(concurrency);
    let mut uploaded = Vec::new();
    let mut failure = None;
    while let Some(outcome) = uploads.next().await {
        match outcome {
            Ok((part, bytes)) => {
                bar.add(bytes);
                ui.line(uploaded_line(&part));
                uploaded.push(part);
                // Kept current, so that an interrupted run leaves the list of what it uploaded.
                uploaded.sort_by_key(|part| part.part);
                write_manifest(options, &uploaded)?;
            }
            Err(error) => {
                failure = Some(error);
                break;
            }
        }
    }
    drop(uploads);
    uploaded.sort_by_key(|part| part.part);
    write_manifest(options, &uploaded)?;
    if let Some((number, error)) = failure {
        ui.line(stopped_line(options, &error, number, uploaded.len()));
        return Err(error.into());
    }
    match splitter.await {
        Ok(Ok(_)) => {}
        Ok(Err(error)) => {
            if !uploaded.is_empty() {
                ui.line(format!(
                    "{} parts were uploaded before the input failed; fix it and re-run to resume",
                    uploaded.len()
                ));
            }
            return Err(error.into());
        }
        Err(error) => return Err(CliError::Usage(format!("the reader failed: {error}"))),
    }
    bar.finish();
    Ok(uploaded)
}

/// Downloads `kind` of every part with entries into `<out_dir>/<kind>.ndjson` (written to a
/// temporary name first, so that a file that is there is whole).
pub async fn download_merged(
    client: &ApiClient,
    ui: &Ui,
    out_dir: &Path,
    kind: &str,
    parts: &[(Offsets, u64)],
) -> Result<PathBuf, CliError> {
    let path = out_dir.join(format!("{kind}.ndjson"));
    let partial = out_dir.join(format!(".{kind}.ndjson.partial"));
    let file = std::fs::File::create(&partial).map_err(|error| CliError::write(&partial, error))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
    let expected: u64 = parts.iter().map(|(_, entries)| entries).sum();
    if expected == 0 {
        ui.line(format!("{kind}: none"));
    }
    let bar = ui.bar(
        if kind == "results" {
            "results"
        } else {
            "errors"
        },
        expected,
        "entries",
    );
    let name = path.display().to_string();
    for (offsets, entries) in parts {
        if *entries == 0 {
            continue;
        }
        let written = append_download(client, kind, *offsets, &mut out, &name).await?;
        bar.add(written);
    }
    out.flush()
        .map_err(|error| CliError::write(&partial, error))?;
    drop(out);
    std::fs::rename(&partial, &path).map_err(|error| CliError::write(&path, error))?;
    bar.finish();
    Ok(path)
}

pub async fn run_import(
    client: &ApiClient,
    ui: &Ui,
    options: &ImportOptions,
) -> Result<ImportSummary, CliError> {
    std::fs::create_dir_all(&options.out_dir)
        .map_err(|error| CliError::write(&options.out_dir, error))?;
    let parts = upload_all(client, ui, options).await?;
    if !options.wait {
        return Ok(ImportSummary {
            parts,
            statuses: None,
            results_file: None,
            errors_file: None,
        });
    }
    let task_ids: Vec<u64> = parts.iter().map(|part| part.task_id).collect();
    let bar = ui.bar(
        "processing",
        parts.iter().map(|part| part.records).sum(),
        "records",
    );
    let statuses = wait_for(client, ui, &bar, &task_ids).await?;
    let offsets = |part: &UploadedPart| Offsets {
        task_id: part.task_id,
        first_index: part.first_index,
        first_line: part.first_line,
    };
    let count = |part: &UploadedPart, pick: fn(&TaskStatus) -> u64| {
        statuses.get(&part.task_id).map_or(0, pick)
    };
    let results: Vec<(Offsets, u64)> = parts
        .iter()
        .map(|part| (offsets(part), count(part, |status| status.succeeded)))
        .collect();
    let errors: Vec<(Offsets, u64)> = parts
        .iter()
        .map(|part| (offsets(part), count(part, |status| status.failed)))
        .collect();
    let results_file = download_merged(client, ui, &options.out_dir, "results", &results).await?;
    let errors_file = download_merged(client, ui, &options.out_dir, "errors", &errors).await?;
    Ok(ImportSummary {
        parts,
        statuses: Some(statuses),
        results_file: Some(results_file),
        errors_file: Some(errors_file),
    })
}
