//! The command line of `userhub-server`: which service to run, and the operator commands.

use clap::{Parser, Subcommand};
use userhub_domain::TaskAction;

#[derive(Parser)]
#[command(
    name = "userhub-server",
    version,
    about = "userhub: bulk import and export of user profiles"
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Subcommand)]
pub enum Command {
    /// Gateway, status and every worker in one process on one HTTP port.
    All,
    /// Gateway and status on one port, without workers (run those separately).
    Api,
    /// The HTTP ingest service (POST).
    Gateway,
    /// The status service (GET status, results, errors).
    Status,
    /// The worker of one task type, e.g. `create_core_profiles`.
    Worker { task_type: TaskAction },
    /// Apply database migrations and exit.
    Migrate {
        /// Create the database first if it does not exist.
        #[arg(long)]
        create_database: bool,
    },
    /// Operator commands.
    #[command(subcommand)]
    Admin(AdminCommand),
}

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Domains (tenants).
    #[command(subcommand)]
    Domain(DomainCommand),
    /// API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Dead-lettered chunks.
    #[command(subcommand)]
    Dlq(DlqCommand),
    /// A domain's webhook endpoints.
    #[command(subcommand)]
    Webhook(WebhookCommand),
}

#[derive(Subcommand)]
pub enum WebhookCommand {
    /// List the domain's endpoints with their delivery counts.
    List { domain: String },
    /// Delete one endpoint of the domain (by id), or all of them with `--all`; their
    /// deliveries go with them.
    Delete {
        domain: String,
        /// The endpoint's id (as `list` shows it).
        id: Option<i64>,
        /// Every endpoint of the domain.
        #[arg(long, conflicts_with = "id")]
        all: bool,
    },
}

#[derive(Subcommand)]
pub enum DlqCommand {
    /// List dead-lettered chunks (nothing is removed).
    List {
        /// Only this task type's queue.
        #[arg(long)]
        action: Option<TaskAction>,
    },
    /// Send dead-lettered chunks back to work (after fixing their cause).
    Replay {
        /// Only this task type's queue.
        #[arg(long)]
        action: Option<TaskAction>,
        /// Only this task's chunks.
        #[arg(long)]
        task: Option<String>,
    },
}

#[derive(Subcommand)]
pub enum DomainCommand {
    /// Create a domain (no-op if it exists).
    Create { name: String },
    /// List the domains with their limits and keys.
    List,
    /// Set the domain's requests per minute (`default` for the server default).
    SetRateLimit { domain: String, per_minute: String },
    /// Set the domain's records per request (`default` for the server default).
    SetRecordLimit { domain: String, records: String },
    /// Set the records a task from an upload may hold (`default` for the server default).
    SetUploadRecordLimit { domain: String, records: String },
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create a key; prints only the key, which is never shown again.
    Create {
        domain: String,
        /// The key may only read (GET and `get_*` tasks).
        #[arg(long)]
        read_only: bool,
    },
    /// Revoke a key by its id (the hex after `uh_`).
    Revoke { key_id: String },
}

impl Command {
    /// The service name in logs and traces.
    pub fn service_name(&self) -> String {
        match self {
            Command::Worker { task_type } => format!("userhub-worker-{task_type}"),
            Command::All => "userhub-all".to_owned(),
            Command::Api => "userhub-api".to_owned(),
            Command::Gateway => "userhub-gateway".to_owned(),
            Command::Status => "userhub-status".to_owned(),
            Command::Migrate { .. } | Command::Admin(_) => "userhub-admin".to_owned(),
        }
    }
}
