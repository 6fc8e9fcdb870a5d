//! The small commands: `status`, `tasks`, `wait`, `download` and `export`, and the summaries
//! they print on stdout.

use crate::api::{ApiClient, Payload, TaskStatus};
use crate::error::{CliError, EXIT_RECORD_ERRORS};
use crate::import::{ImportOptions, ImportSummary, download_merged, run_import};
use crate::merge::Offsets;
use crate::ui::Ui;
use crate::watch::wait_for;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// 0 when every record succeeded, else [`EXIT_RECORD_ERRORS`].
pub fn exit_code_of<'a>(statuses: impl IntoIterator<Item = &'a TaskStatus>) -> u8 {
    let failed = statuses
        .into_iter()
        .any(|status| status.failed > 0 || status.outcome.as_deref() == Some("failed"));
    if failed { EXIT_RECORD_ERRORS } else { 0 }
}

pub async fn status(client: &ApiClient, task_id: u64) -> Result<u8, CliError> {
    let status = client.status(task_id).await?;
    let text = serde_json::to_string_pretty(&status_json(&status))
        .map_err(|error| CliError::Usage(error.to_string()))?;
    println!("{text}");
    Ok(0)
}

/// Cancels an open task: records not applied yet end with `CANCELED`; `wait` then shows it
/// complete with outcome `canceled`.
pub async fn cancel(client: &ApiClient, task_id: u64) -> Result<u8, CliError> {
    let answer = client.cancel(task_id).await?;
    eprintln!(
        "cancel of task {task_id} requested; records not applied yet will fail with CANCELED \
         (`userhub wait {task_id}` shows it complete)"
    );
    let text = serde_json::to_string_pretty(&answer)
        .map_err(|error| CliError::Usage(error.to_string()))?;
    println!("{text}");
    Ok(0)
}

/// Creates the retry of a task's failed records and prints it (`userhub wait` follows it).
pub async fn retry(client: &ApiClient, task_id: u64, all_failed: bool) -> Result<u8, CliError> {
    let answer = client.retry(task_id, all_failed).await?;
    if let Some(child) = answer["task_id"].as_u64() {
        eprintln!(
            "task {child} retries {} record(s) of task {task_id} (`userhub wait {child}` follows it)",
            answer["total"]
        );
    }
    let text = serde_json::to_string_pretty(&answer)
        .map_err(|error| CliError::Usage(error.to_string()))?;
    println!("{text}");
    Ok(0)
}

/// Creates the task reverting a completed task and prints it (`userhub wait` follows it).
pub async fn revert(client: &ApiClient, task_id: u64) -> Result<u8, CliError> {
    let answer = client.revert(task_id).await?;
    if let Some(child) = answer["task_id"].as_u64() {
        eprintln!(
            "task {child} reverts {} profile(s) task {task_id} created or changed \
             (`userhub wait {child}` follows it; `userhub download {child}` fetches its outcomes)",
            answer["total"]
        );
    }
    let text = serde_json::to_string_pretty(&answer)
        .map_err(|error| CliError::Usage(error.to_string()))?;
    println!("{text}");
    Ok(0)
}

/// The status as printed: every field the server reported, none that it did not.
fn status_json(status: &TaskStatus) -> serde_json::Value {
    let mut fields = serde_json::json!({
        "task_id": status.task_id,
        "action": status.action,
        "state": status.state,
        "progress_percentage": status.progress_percentage,
        "total": status.total,
        "processed": status.processed,
        "succeeded": status.succeeded,
        "failed": status.failed,
        "outcome": status.outcome,
        "failure_reason": status.failure_reason,
        "stalled": status.stalled,
        "stall_reason": status.stall_reason,
        "created_at": status.created_at,
        "started_at": status.started_at,
        "completed_at": status.completed_at,
    });
    if let Some(object) = fields.as_object_mut() {
        object.retain(|_, value| !value.is_null());
    }
    fields
}

/// Filters of `userhub tasks`.
#[derive(Debug, Clone, Default)]
pub struct TaskFilter {
    pub state: Option<String>,
    pub action: Option<String>,
    pub limit: u32,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub async fn tasks(client: &ApiClient, filter: &TaskFilter) -> Result<u8, CliError> {
    let mut query = vec![("limit", filter.limit.clamp(1, 100).to_string())];
    if let Some(state) = &filter.state {
        query.push(("state", state.clone()));
    }
    if let Some(action) = &filter.action {
        query.push(("action", action.clone()));
    }
    if let Some(cursor) = &filter.cursor {
        query.push(("cursor", cursor.clone()));
    }
    let page = client.list(&query).await?;
    println!(
        "{:<17} {:<22} {:<11} {:>5} {:>21} {:>9}  CREATED",
        "TASK", "ACTION", "STATE", "%", "PROCESSED/TOTAL", "FAILED"
    );
    for task in &page.tasks {
        println!(
            "{:<17} {:<22} {:<11} {:>4}% {:>21} {:>9}  {}",
            task.task_id,
            task.action,
            task.state,
            task.progress_percentage,
            format!("{}/{}", task.processed, task.total),
            task.failed,
            task.created_at
        );
    }
    if let Some(cursor) = &page.next_cursor {
        println!("(more: userhub tasks --cursor {cursor})");
    }
    Ok(0)
}

fn print_statuses(statuses: &BTreeMap<u64, TaskStatus>) {
    for status in statuses.values() {
        println!(
            "task {}: {} {} — {} succeeded, {} failed{}",
            status.task_id,
            status.state,
            status.outcome.as_deref().unwrap_or(""),
            status.succeeded,
            status.failed,
            status
                .failure_reason
                .as_deref()
                .map(|reason| format!(" ({reason})"))
                .unwrap_or_default()
        );
    }
}

pub async fn wait(client: &ApiClient, ui: &Ui, task_ids: &[u64]) -> Result<u8, CliError> {
    let bar = ui.bar("processing", 0, "records");
    let statuses = wait_for(client, ui, &bar, task_ids).await?;
    print_statuses(&statuses);
    Ok(exit_code_of(statuses.values()))
}

/// `results.ndjson` and `errors.ndjson` of one completed task.
pub async fn download(
    client: &ApiClient,
    ui: &Ui,
    task_id: u64,
    out_dir: &Path,
) -> Result<u8, CliError> {
    let status = client.status(task_id).await?;
    if !status.is_completed() {
        return Err(CliError::Usage(format!(
            "task {task_id} is {}; run `userhub wait {task_id}` first",
            status.state
        )));
    }
    std::fs::create_dir_all(out_dir).map_err(|error| CliError::write(out_dir, error))?;
    let offsets = Offsets {
        task_id,
        first_index: 0,
        first_line: Some(1),
    };
    let results = download_merged(
        client,
        ui,
        out_dir,
        "results",
        &[(offsets, status.succeeded)],
    )
    .await?;
    let errors =
        download_merged(client, ui, out_dir, "errors", &[(offsets, status.failed)]).await?;
    println!("results: {}", results.display());
    println!("errors: {}", errors.display());
    Ok(exit_code_of([&status]))
}

pub fn print_import_summary(summary: &ImportSummary) -> u8 {
    let replayed = summary.parts.iter().filter(|part| part.replayed).count();
    println!(
        "tasks: {}{}",
        summary.parts.len(),
        if replayed > 0 {
            format!(" ({replayed} already uploaded by an earlier run)")
        } else {
            String::new()
        }
    );
    for part in &summary.parts {
        println!(
            "  task {}: records {}..{}",
            part.task_id,
            part.first_index,
            part.first_index + part.records - 1
        );
    }
    let Some(statuses) = &summary.statuses else {
        println!("records: {} uploaded; not waited for", summary.records());
        return 0;
    };
    let succeeded: u64 = statuses.values().map(|status| status.succeeded).sum();
    let failed: u64 = statuses.values().map(|status| status.failed).sum();
    println!(
        "records: {}: {succeeded} succeeded, {failed} failed",
        summary.records()
    );
    for status in statuses.values() {
        if let Some(reason) = &status.failure_reason {
            println!("  task {} failed: {reason}", status.task_id);
        }
    }
    if let Some(path) = &summary.results_file {
        println!("results: {}", path.display());
    }
    if let Some(path) = &summary.errors_file {
        println!("errors: {}", path.display());
    }
    exit_code_of(statuses.values())
}

pub async fn import(client: &ApiClient, ui: &Ui, options: &ImportOptions) -> Result<u8, CliError> {
    let summary = run_import(client, ui, options).await?;
    Ok(print_import_summary(&summary))
}

/// What `userhub export` selects.
#[derive(Debug, Clone)]
pub enum ExportSelection {
    /// A file of ids (JSONL or a JSON array), imported like any input.
    File(PathBuf),
    /// One selector record (`{"all": true}`, `{"updated_since": ms}`, `{"identity": {...}}`).
    Selector(serde_json::Value),
}

pub async fn export(
    client: &ApiClient,
    ui: &Ui,
    action: &str,
    selection: ExportSelection,
    out_dir: Option<PathBuf>,
    concurrency: usize,
) -> Result<u8, CliError> {
    match selection {
        ExportSelection::File(file) => {
            let options = ImportOptions {
                action: action.to_owned(),
                task_options: Vec::new(),
                out_dir: out_dir.unwrap_or_else(|| default_out_dir(&file)),
                file,
                concurrency,
                part_records: None,
                wait: true,
                upload: false,
            };
            import(client, ui, &options).await
        }
        ExportSelection::Selector(selector) => {
            let created = client
                .create_task(
                    action,
                    &[],
                    &Payload::Json(serde_json::json!([selector])),
                    None,
                )
                .await?;
            ui.line(format!(
                "export task {} ({})",
                created.task_id, created.state
            ));
            let out_dir =
                out_dir.unwrap_or_else(|| PathBuf::from(format!("export-{}", created.task_id)));
            let code = {
                let bar = ui.bar("exporting", 0, "profiles");
                let statuses = wait_for(client, ui, &bar, &[created.task_id]).await?;
                print_statuses(&statuses);
                exit_code_of(statuses.values())
            };
            let download_code = download(client, ui, created.task_id, &out_dir).await?;
            Ok(code.max(download_code))
        }
    }
}

/// `<input>.userhub/` beside the input file.
pub fn default_out_dir(file: &Path) -> PathBuf {
    let mut name = file.file_name().unwrap_or_default().to_owned();
    name.push(".userhub");
    file.with_file_name(name)
}
