//! The connection pool and database creation for local runs and tests.

use crate::error::StoreError;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime, Timeouts};
use serde::{Deserialize, Serialize};
use std::str::FromStr;
use std::time::Duration;
use tokio_postgres::NoTls;

/// `[database]` settings.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DatabaseSettings {
    /// `postgres://user@host:port/dbname`.
    pub url: String,
    /// Connections per process.
    pub pool_size: usize,
    /// How long a caller waits for a free connection before the database counts as unavailable.
    pub acquire_timeout_ms: u64,
    /// EXT: a streaming read replica (`postgres://user@replica:port/dbname`) for status reads and
    /// task lists; unset, everything reads the primary.
    #[serde(default)]
    pub read_url: Option<String>,
}

impl Default for DatabaseSettings {
    fn default() -> Self {
        DatabaseSettings {
            url: "postgres://postgres@127.0.0.1:5432/userhub".to_owned(),
            pool_size: 16,
            acquire_timeout_ms: 5_000,
            read_url: None,
        }
    }
}

/// Builds the pool. Connections are opened lazily, so this succeeds while the server is down.
pub fn connect(settings: &DatabaseSettings) -> Result<Pool, StoreError> {
    let mut config = tokio_postgres::Config::from_str(&settings.url)
        .map_err(|error| StoreError::Config(format!("invalid database URL: {error}")))?;
    config.application_name("userhub");
    config.connect_timeout(Duration::from_secs(5));
    let manager = Manager::from_config(
        config,
        NoTls,
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let wait = Duration::from_millis(settings.acquire_timeout_ms);
    Pool::builder(manager)
        .max_size(settings.pool_size.max(1))
        .runtime(Runtime::Tokio1)
        .timeouts(Timeouts {
            wait: Some(wait),
            create: Some(wait),
            recycle: Some(wait),
        })
        .build()
        .map_err(|error| StoreError::Config(error.to_string()))
}

/// The read replica's pool, when one is configured (connections open lazily, no migrations:
/// the replica replays the primary's).
pub fn connect_replica(settings: &DatabaseSettings) -> Result<Option<Pool>, StoreError> {
    let Some(url) = settings
        .read_url
        .as_deref()
        .filter(|url| !url.trim().is_empty())
    else {
        return Ok(None);
    };
    let replica = DatabaseSettings {
        url: url.to_owned(),
        read_url: None,
        ..settings.clone()
    };
    connect(&replica).map(Some)
}

/// Splits a database URL into the URL of the `postgres` maintenance database and the name.
fn maintenance_url(url: &str) -> Result<(String, String), StoreError> {
    let config = tokio_postgres::Config::from_str(url)
        .map_err(|error| StoreError::Config(format!("invalid database URL: {error}")))?;
    let name = config.get_dbname().unwrap_or("postgres").to_owned();
    let (base, _) = url
        .rsplit_once('/')
        .ok_or_else(|| StoreError::Config("the database URL needs a /dbname".to_owned()))?;
    let (_, query) = url
        .split_once('?')
        .map_or((url, ""), |(head, query)| (head, query));
    let suffix = if query.is_empty() {
        String::new()
    } else {
        format!("?{query}")
    };
    Ok((format!("{base}/postgres{suffix}"), name))
}

async fn maintenance_client(url: &str) -> Result<tokio_postgres::Client, StoreError> {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .map_err(|error| StoreError::Unavailable(error.to_string()))?;
    tokio::spawn(connection);
    Ok(client)
}

/// The statement `statement_sql` renders for database `name` (quoted by PostgreSQL's `%I`).
async fn database_statement(
    client: &tokio_postgres::Client,
    statement_sql: &str,
    name: &str,
) -> Result<String, StoreError> {
    Ok(client.query_one(statement_sql, &[&name]).await?.get(0))
}

/// Creates the database named in `url` if it does not exist yet.
pub async fn create_database_if_missing(url: &str) -> Result<(), StoreError> {
    let (admin_url, name) = maintenance_url(url)?;
    let client = maintenance_client(&admin_url).await?;
    let exists = client
        .query_opt(include_str!("../queries/database/exists.sql"), &[&name])
        .await?;
    if exists.is_none() {
        let create = include_str!("../queries/database/create_statement.sql");
        let create = database_statement(&client, create, &name).await?;
        match client.batch_execute(&create).await {
            Ok(()) => {}
            // Another process created it at the same moment.
            Err(error)
                if error.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) => {}
            Err(error) => return Err(error.into()),
        }
    }
    Ok(())
}

/// Drops the database named in `url` (tests clean up after themselves).
pub async fn drop_database(url: &str) -> Result<(), StoreError> {
    let (admin_url, name) = maintenance_url(url)?;
    let client = maintenance_client(&admin_url).await?;
    let drop = include_str!("../queries/database/drop_statement.sql");
    let drop = database_statement(&client, drop, &name).await?;
    client.batch_execute(&drop).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_maintenance_url_keeps_host_and_options() {
        let (admin, name) =
            maintenance_url("postgres://postgres@127.0.0.1:5432/userhub?sslmode=disable").unwrap();
        assert_eq!(
            admin,
            "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
        );
        assert_eq!(name, "userhub");
    }
}
