//! What each command of the command line does: start a service with a shutdown on SIGTERM or
//! Ctrl-C, apply migrations, or run an operator command and print its answer.

use crate::cli::{
    AdminCommand, Cli, Command, DlqCommand, DomainCommand, KeyCommand, WebhookCommand,
};
use crate::{Settings, admin, dead_letters, services};
use anyhow::Context;
use tokio_util::sync::CancellationToken;
use userhub_domain::TaskAction;
use userhub_tasks::ChunkTransport;

fn optional_limit(text: &str) -> anyhow::Result<Option<i32>> {
    if text == "default" {
        return Ok(None);
    }
    let value: i32 = text
        .parse()
        .with_context(|| format!("`{text}` is not a number or `default`"))?;
    anyhow::ensure!(value > 0, "the limit must be at least 1");
    Ok(Some(value))
}

fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let trigger = token.clone();
    tokio::spawn(async move {
        let terminate = async {
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(mut signal) => {
                    signal.recv().await;
                }
                Err(_) => std::future::pending::<()>().await,
            }
        };
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            () = terminate => {}
        }
        tracing::info!("shutdown requested");
        trigger.cancel();
    });
    token
}

/// Runs the command until it ends (a service: until a shutdown signal).
pub async fn run(cli: Cli, settings: Settings) -> anyhow::Result<()> {
    let listen = || async {
        let addr = settings.http.socket_addr()?;
        tokio::net::TcpListener::bind(addr)
            .await
            .with_context(|| format!("cannot listen on {addr}"))
    };
    match cli.command {
        Command::All => {
            services::run_all(settings.clone(), listen().await?, shutdown_on_signals()).await?
        }
        Command::Api => {
            services::run_api(settings.clone(), listen().await?, shutdown_on_signals()).await?
        }
        Command::Gateway => {
            services::run_gateway(settings.clone(), listen().await?, shutdown_on_signals()).await?
        }
        Command::Status => {
            services::run_status(settings.clone(), listen().await?, shutdown_on_signals()).await?
        }
        Command::Worker { task_type } => {
            services::run_worker(
                settings.clone(),
                task_type,
                listen().await?,
                shutdown_on_signals(),
            )
            .await?
        }
        Command::Migrate { create_database } => {
            if create_database {
                userhub_store::create_database_if_missing(&settings.database.url).await?;
            }
            services::connect_database(&settings).await?;
            eprintln!("migrations applied");
        }
        Command::Admin(command) => {
            let pool = services::connect_database(&settings).await?;
            match command {
                AdminCommand::Domain(DomainCommand::Create { name }) => {
                    let id = admin::create_domain(&pool, &name).await?;
                    eprintln!("domain `{name}` ready (id {id})");
                }
                AdminCommand::Domain(DomainCommand::List) => {
                    print!("{}", admin::domain_table(&pool).await?);
                }
                AdminCommand::Domain(DomainCommand::SetRateLimit { domain, per_minute }) => {
                    admin::set_rate_limit(&pool, &domain, optional_limit(&per_minute)?).await?;
                    eprintln!("rate limit of `{domain}` set to {per_minute} requests per minute");
                }
                AdminCommand::Domain(DomainCommand::SetRecordLimit { domain, records }) => {
                    admin::set_record_limit(&pool, &domain, optional_limit(&records)?).await?;
                    eprintln!("record limit of `{domain}` set to {records} records per request");
                }
                AdminCommand::Domain(DomainCommand::SetUploadRecordLimit { domain, records }) => {
                    admin::set_upload_record_limit(&pool, &domain, optional_limit(&records)?)
                        .await?;
                    eprintln!(
                        "upload record limit of `{domain}` set to {records} records per task"
                    );
                }
                AdminCommand::Key(KeyCommand::Create { domain, read_only }) => {
                    println!("{}", admin::create_key(&pool, &domain, read_only).await?);
                }
                AdminCommand::Dlq(command) => run_dlq(&settings, &pool, command).await?,
                AdminCommand::Webhook(command) => run_webhook(&pool, command).await?,
                AdminCommand::Key(KeyCommand::Revoke { key_id }) => {
                    admin::revoke_key(&pool, &key_id).await?;
                    eprintln!("key {key_id} revoked");
                }
            }
        }
    }
    Ok(())
}

async fn run_webhook(pool: &userhub_store::Pool, command: WebhookCommand) -> anyhow::Result<()> {
    match command {
        WebhookCommand::List { domain } => print!("{}", admin::webhook_table(pool, &domain).await?),
        WebhookCommand::Delete { domain, id, all } => {
            anyhow::ensure!(
                id.is_some() || all,
                "name the endpoint's id, or pass --all to delete every endpoint of `{domain}`"
            );
            let deleted = admin::delete_webhooks(pool, &domain, id).await?;
            eprintln!("{deleted} webhook endpoint(s) of `{domain}` deleted");
        }
    }
    Ok(())
}

async fn run_dlq(
    settings: &Settings,
    pool: &userhub_store::Pool,
    command: DlqCommand,
) -> anyhow::Result<()> {
    let stop = CancellationToken::new();
    let broker = userhub_broker::Broker::start(settings.broker.clone(), stop.clone());
    tokio::time::timeout(std::time::Duration::from_secs(10), broker.up())
        .await
        .context("cannot reach the message broker")?;
    let actions =
        |only: Option<TaskAction>| only.map_or(TaskAction::ALL.to_vec(), |action| vec![action]);
    let result = match command {
        DlqCommand::List { action } => {
            let letters = dead_letters::list(&broker, &actions(action)).await?;
            println!(
                "{:<22} {:>16} {:>6} {:>8} {:>8}  reason",
                "action", "task", "chunk", "records", "attempts"
            );
            for letter in &letters {
                let task = letter.task_id.map_or("-".to_owned(), |id| id.to_string());
                let chunk = letter
                    .chunk_no
                    .map_or("-".to_owned(), |chunk| chunk.to_string());
                println!(
                    "{:<22} {task:>16} {chunk:>6} {:>8} {:>8}  {}",
                    letter.action.as_str(),
                    letter.records,
                    letter.attempts,
                    letter.reason
                );
            }
            eprintln!("{} dead-lettered chunks", letters.len());
            Ok(())
        }
        DlqCommand::Replay { action, task } => {
            let task = task
                .map(|text| text.parse::<userhub_domain::TaskId>())
                .transpose()
                .context("--task must be a task id")?;
            let replayed = dead_letters::replay(pool, &broker, &actions(action), task).await?;
            eprintln!("{} chunks sent back to work", replayed.len());
            Ok(())
        }
    };
    stop.cancel();
    result
}
