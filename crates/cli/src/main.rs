//! `userhub`: the command-line client of the userhub bulk API.

mod api;
mod commands;
mod config;
mod error;
mod import;
mod merge;
mod parts;
mod rate_gate;
mod ui;
mod upload;
mod watch;
mod whole;

use api::ApiClient;
use clap::{Args, Parser, Subcommand};
use commands::{ExportSelection, TaskFilter};
use config::GivenConnection;
use error::{CliError, EXIT_FAILED, EXIT_INTERRUPTED};
use import::ImportOptions;
use std::path::PathBuf;
use std::process::ExitCode;
use ui::Ui;

/// Import and export user profiles in bulk with a userhub server.
#[derive(Debug, Parser)]
#[command(name = "userhub", version, about, long_about = None)]
struct Cli {
    #[command(flatten)]
    connection: ConnectionArgs,
    /// No progress output on stderr.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

/// Where to connect: flags, then environment, then the profile of the config file.
#[derive(Debug, Args)]
struct ConnectionArgs {
    /// Server URL [default: http://127.0.0.1:8080]
    #[arg(long, env = "USERHUB_URL", global = true)]
    url: Option<String>,
    /// The domain (tenant).
    #[arg(long, env = "USERHUB_DOMAIN", global = true)]
    domain: Option<String>,
    /// The domain's API key.
    #[arg(long, env = "USERHUB_API_KEY", global = true, hide_env_values = true)]
    api_key: Option<String>,
    /// A `[profiles.<name>]` of the config file [default: default]
    #[arg(long, env = "USERHUB_PROFILE", global = true)]
    profile: Option<String>,
    /// The config file [default: ~/.config/userhub/config.toml]
    #[arg(long, env = "USERHUB_CLI_CONFIG", global = true)]
    config: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Import a JSONL file (or a JSON array) of any size: split (or, over the per-task limit,
    /// send it whole as one resumable upload and one task), wait, download results and errors.
    /// Re-running it resumes without creating tasks twice.
    Import {
        /// The task type, e.g. create_core_profiles.
        #[arg(long)]
        action: String,
        /// The input: JSONL (one record per line) or a JSON array.
        file: PathBuf,
        /// Where results.ndjson, errors.ndjson and import.json go [default: <file>.userhub/]
        #[arg(long)]
        out: Option<PathBuf>,
        /// Parts uploaded at the same time.
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
        /// Records per part [default: the domain's limit]
        #[arg(long)]
        part_records: Option<u64>,
        /// Upload only: do not wait for the tasks.
        #[arg(long)]
        no_wait: bool,
        /// Always split the file into parts of the domain's limit, one task each, even when the
        /// server could take it whole as one resumable upload (one task).
        #[arg(long)]
        no_upload: bool,
        /// For upsert_core_profiles: what to match by (an identity kind such as email,
        /// core-profile-id, or custom_field:<name>).
        #[arg(long)]
        match_by: Option<String>,
        /// Publish no profile events for these changes.
        #[arg(long)]
        skip_triggers: bool,
        /// Carried by the profile events of these changes.
        #[arg(long)]
        workflow_id: Option<i64>,
        /// Check the file against the real data without writing anything: the results say
        /// what each record would do (would_create, would_update with old and new values).
        #[arg(long)]
        dry_run: bool,
    },
    /// Export profiles: by a selector (--all, --updated-since, --identity) or a file of ids.
    Export {
        /// get_core_profiles or get_app_profiles.
        #[arg(long, default_value = "get_core_profiles")]
        action: String,
        /// Every profile of the domain.
        #[arg(long, conflicts_with_all = ["updated_since", "identity", "file"])]
        all: bool,
        /// Profiles updated since this time (epoch milliseconds).
        #[arg(long, conflicts_with_all = ["identity", "file"])]
        updated_since: Option<i64>,
        /// The profile with this identity, as kind=value (e.g. email=a@b.example).
        #[arg(long, conflicts_with = "file")]
        identity: Option<String>,
        /// A file of ids ({"core-profile-id": N} or {"pid": "..."} records).
        file: Option<PathBuf>,
        /// Output directory [default: export-<task_id>/ or <file>.userhub/]
        #[arg(long)]
        out: Option<PathBuf>,
        #[arg(long, default_value_t = 4)]
        concurrency: usize,
    },
    /// Show a task's status as JSON.
    Status { task_id: u64 },
    /// Cancel an open task (records not applied yet fail with CANCELED).
    Cancel { task_id: u64 },
    /// Retry a completed task's failed records as a new task (records that failed with a
    /// retryable code; every failed record with --all-failed).
    Retry {
        task_id: u64,
        #[arg(long)]
        all_failed: bool,
    },
    /// Revert a completed create, update or upsert task as a new task: profiles it created
    /// are deleted, profiles it changed get their values back (a profile a later task
    /// changed fails with CONFLICT).
    Revert { task_id: u64 },
    /// Wait for tasks to complete, with a progress bar.
    Wait {
        #[arg(required = true)]
        task_ids: Vec<u64>,
    },
    /// List the domain's tasks, newest first.
    Tasks {
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        action: Option<String>,
        #[arg(long, default_value_t = 20)]
        limit: u32,
        /// Continue a listing: the cursor the previous page printed.
        #[arg(long)]
        cursor: Option<String>,
    },
    /// Download a completed task's results and errors as NDJSON.
    Download {
        task_id: u64,
        /// Output directory [default: task-<task_id>/]
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

fn selection(
    all: bool,
    updated_since: Option<i64>,
    identity: Option<String>,
    file: Option<PathBuf>,
) -> Result<ExportSelection, CliError> {
    if let Some(file) = file {
        return Ok(ExportSelection::File(file));
    }
    if all {
        return Ok(ExportSelection::Selector(serde_json::json!({"all": true})));
    }
    if let Some(since) = updated_since {
        return Ok(ExportSelection::Selector(
            serde_json::json!({"updated_since": since}),
        ));
    }
    if let Some(identity) = identity {
        let (kind, value) = identity.split_once('=').ok_or_else(|| {
            CliError::Usage(format!(
                "--identity `{identity}`: use kind=value, e.g. email=a@b.example"
            ))
        })?;
        return Ok(ExportSelection::Selector(
            serde_json::json!({"identity": {kind: value}}),
        ));
    }
    Err(CliError::Usage(
        "what to export: --all, --updated-since MS, --identity KIND=VALUE or a file of ids"
            .to_owned(),
    ))
}

async fn run(cli: Cli) -> Result<u8, CliError> {
    let given = GivenConnection {
        url: cli.connection.url,
        domain: cli.connection.domain,
        api_key: cli.connection.api_key,
        profile: cli.connection.profile,
        config_file: cli.connection.config,
    };
    let connection = config::resolve(&given)?;
    let ui = Ui::new(cli.quiet);
    let notices = ui.clone();
    let client =
        ApiClient::new(&connection)?.with_notices(std::sync::Arc::new(move |message: &str| {
            notices.line(message)
        }));
    match cli.command {
        Command::Import {
            action,
            out,
            concurrency,
            part_records,
            no_wait,
            no_upload,
            file,
            match_by,
            skip_triggers,
            workflow_id,
            dry_run,
        } => {
            let mut task_options = Vec::new();
            if let Some(match_by) = match_by {
                task_options.push(("match_by".to_owned(), match_by));
            }
            if skip_triggers {
                task_options.push(("skip_triggers".to_owned(), "true".to_owned()));
            }
            if let Some(workflow_id) = workflow_id {
                task_options.push(("workflow_id".to_owned(), workflow_id.to_string()));
            }
            if dry_run {
                task_options.push(("dry_run".to_owned(), "true".to_owned()));
            }
            let options = ImportOptions {
                action,
                task_options,
                out_dir: out.unwrap_or_else(|| commands::default_out_dir(&file)),
                file,
                concurrency,
                part_records,
                wait: !no_wait,
                upload: !no_upload,
            };
            commands::import(&client, &ui, &options).await
        }
        Command::Export {
            action,
            all,
            updated_since,
            identity,
            file,
            out,
            concurrency,
        } => {
            let selection = selection(all, updated_since, identity, file)?;
            commands::export(&client, &ui, &action, selection, out, concurrency).await
        }
        Command::Status { task_id } => commands::status(&client, task_id).await,
        Command::Cancel { task_id } => commands::cancel(&client, task_id).await,
        Command::Retry {
            task_id,
            all_failed,
        } => commands::retry(&client, task_id, all_failed).await,
        Command::Revert { task_id } => commands::revert(&client, task_id).await,
        Command::Wait { task_ids } => commands::wait(&client, &ui, &task_ids).await,
        Command::Tasks {
            state,
            action,
            limit,
            cursor,
        } => {
            let filter = TaskFilter {
                state,
                action,
                limit,
                cursor,
            };
            commands::tasks(&client, &filter).await
        }
        Command::Download { task_id, out } => {
            let out = out.unwrap_or_else(|| PathBuf::from(format!("task-{task_id}")));
            commands::download(&client, &ui, task_id, &out).await
        }
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("userhub: cannot start: {error}");
            return ExitCode::from(EXIT_FAILED);
        }
    };
    let on_interrupt = interrupt_note(&cli.command);
    let outcome = runtime.block_on(async {
        tokio::select! {
            outcome = run(cli) => Some(outcome),
            _ = tokio::signal::ctrl_c() => None,
        }
    });
    match outcome {
        Some(Ok(code)) => ExitCode::from(code),
        Some(Err(error)) => {
            eprintln!("userhub: {error}");
            ExitCode::from(EXIT_FAILED)
        }
        None => {
            eprintln!("\nuserhub: interrupted. {on_interrupt}");
            ExitCode::from(EXIT_INTERRUPTED)
        }
    }
}

/// What an interrupted command leaves behind, for the user.
fn interrupt_note(command: &Command) -> String {
    let resumable = |file: &PathBuf, out: &Option<PathBuf>| {
        let out = out
            .clone()
            .unwrap_or_else(|| commands::default_out_dir(file));
        format!(
            "The parts uploaded so far are listed in {}; the server goes on processing them. \
             Run the same command again to resume.",
            out.join("import.json").display()
        )
    };
    match command {
        Command::Import { file, out, .. } => resumable(file, out),
        Command::Export {
            file: Some(file),
            out,
            ..
        } => resumable(file, out),
        Command::Export { .. } => {
            "An export task that was created goes on; `userhub tasks` lists it.".to_owned()
        }
        _ => "Nothing was changed by the interruption; tasks go on on the server.".to_owned(),
    }
}
