//! The stack under test: a fresh database, a fresh broker prefix, and `userhub-server` processes
//! (`all`, or `api` plus separate workers), with a domain and key to call it with.

use anyhow::Context;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::{Child, Command};
use userhub_store::{DatabaseSettings, Pool};

use crate::cpu_quota::CpuQuota;

/// The PostgreSQL server the benchmarks use.
pub const POSTGRES: &str = "postgres://postgres@127.0.0.1:5432";
pub const DOMAIN: &str = "bench";

/// How the services run.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Layout {
    /// Everything in one `userhub-server all` process.
    All,
    /// `userhub-server api` plus this many `worker` processes per task type used, each limited
    /// to `worker_cpu` cores when given (B7).
    Split {
        workers: usize,
        worker_cpu: Option<f64>,
    },
}

/// A process of the stack.
pub struct Service {
    pub role: String,
    pub child: Child,
}

impl Service {
    pub fn pid(&self) -> u32 {
        self.child.id().unwrap_or(0)
    }
}

pub struct Stack {
    pub database_url: String,
    pub pool: Pool,
    pub base: String,
    pub key: String,
    pub services: Vec<Service>,
    /// The workers' CPU quotas (B7), removed once the processes have stopped.
    quotas: Vec<CpuQuota>,
}

/// A random lowercase suffix for names.
pub fn suffix() -> String {
    uuid::Uuid::new_v4().simple().to_string()[..10].to_owned()
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

/// A fresh database with the schema applied.
pub async fn fresh_database(name: &str) -> anyhow::Result<(String, Pool)> {
    let url = format!("{POSTGRES}/{name}");
    userhub_store::drop_database(&url).await?;
    userhub_store::create_database_if_missing(&url).await?;
    let settings = DatabaseSettings {
        url: url.clone(),
        pool_size: 8,
        ..DatabaseSettings::default()
    };
    let pool = userhub_store::connect(&settings)?;
    userhub_store::run_migrations(&pool).await?;
    Ok((url, pool))
}

fn spawn(server: &Path, args: &[&str], env: &[(String, String)]) -> anyhow::Result<Child> {
    Command::new(server)
        .args(args)
        .envs(
            env.iter()
                .map(|(key, value)| (key.as_str(), value.as_str())),
        )
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .with_context(|| format!("cannot start {}", server.display()))
}

/// The environment of one of the stack's processes: its database, broker names and address,
/// no rate limit in the way, and the run's extra `settings`.
fn process_env(
    database: &str,
    database_url: &str,
    addr: String,
    settings: &[(&str, &str)],
) -> Vec<(String, String)> {
    let mut env = vec![
        ("USERHUB__DATABASE__URL".to_owned(), database_url.to_owned()),
        (
            "USERHUB__BROKER__PREFIX".to_owned(),
            format!("bench{}", &database[14..]),
        ),
        (
            "USERHUB__BROKER__QUEUE_EXPIRES_MS".to_owned(),
            "600000".to_owned(),
        ),
        ("USERHUB__HTTP__ADDR".to_owned(), addr),
        (
            "USERHUB__RATE_LIMIT__PER_MINUTE".to_owned(),
            "100000000".to_owned(),
        ),
        ("USERHUB__LOG__FILTER".to_owned(), "warn".to_owned()),
    ];
    env.extend(
        settings
            .iter()
            .map(|(key, value)| ((*key).to_owned(), (*value).to_owned())),
    );
    env
}

impl Stack {
    pub async fn start(server: &Path, layout: Layout, actions: &[&str]) -> anyhow::Result<Stack> {
        Stack::start_with(server, layout, actions, &[]).await
    }

    /// Starts the stack with `settings` (environment variables) added to every process's.
    pub async fn start_with(
        server: &Path,
        layout: Layout,
        actions: &[&str],
        settings: &[(&str, &str)],
    ) -> anyhow::Result<Stack> {
        let database = format!("userhub_bench_{}", suffix());
        let (database_url, pool) = fresh_database(&database).await?;
        userhub_server::admin::create_domain(&pool, DOMAIN).await?;
        let key = userhub_server::admin::create_key(&pool, DOMAIN, false).await?;
        let port = free_port()?;
        let env = |addr: String| process_env(&database, &database_url, addr, settings);
        let mut services = Vec::new();
        let mut quotas = Vec::new();
        match layout {
            Layout::All => {
                let child = spawn(server, &["all"], &env(format!("127.0.0.1:{port}")))?;
                services.push(Service {
                    role: "all".to_owned(),
                    child,
                });
            }
            Layout::Split {
                workers,
                worker_cpu,
            } => {
                let child = spawn(server, &["api"], &env(format!("127.0.0.1:{port}")))?;
                services.push(Service {
                    role: "api".to_owned(),
                    child,
                });
                for action in actions {
                    for n in 0..workers {
                        let child =
                            spawn(server, &["worker", action], &env("127.0.0.1:0".to_owned()))?;
                        if let Some(cores) = worker_cpu {
                            let quota = CpuQuota::create(&format!("{database}_{n}"), cores)?;
                            let pid = child.id().context("the worker exited at once")?;
                            quota.add(pid)?;
                            quotas.push(quota);
                        }
                        services.push(Service {
                            role: format!("worker {action} #{}", n + 1),
                            child,
                        });
                    }
                }
            }
        }
        let base = format!("http://127.0.0.1:{port}");
        let http = reqwest::Client::new();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        while !http
            .get(format!("{base}/readyz"))
            .send()
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            anyhow::ensure!(
                tokio::time::Instant::now() < deadline,
                "the server did not become ready"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // Workers need a moment to declare their consumers.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(Stack {
            database_url,
            pool,
            base,
            key,
            services,
            quotas,
        })
    }

    pub fn tasks_url(&self) -> String {
        format!("{}/v2/{DOMAIN}/identity/bulk_actions", self.base)
    }

    /// Stops the processes and drops the database.
    pub async fn stop(mut self) -> anyhow::Result<()> {
        for service in &self.services {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &service.pid().to_string()])
                .status();
        }
        for service in &mut self.services {
            let _ = tokio::time::timeout(Duration::from_secs(30), service.child.wait()).await;
        }
        self.quotas.clear();
        self.pool.close();
        userhub_store::drop_database(&self.database_url).await?;
        Ok(())
    }
}
