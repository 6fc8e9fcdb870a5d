//! PostgreSQL storage of userhub: the connection pool, embedded migrations, and one module per
//! table or aggregate with its set-based SQL (never a round trip per record).

pub mod api_keys;
pub mod app_profiles;
pub mod chunk_bodies;
pub mod core_profiles;
pub mod deferred;
pub mod domains;
mod error;
pub mod exports;
pub mod identities;
pub mod ledger;
mod migrate;
pub mod numeric;
pub mod outcome_blob;
pub mod overview;
mod pool;
pub mod profile_events;
pub mod rate_windows;
pub mod replication;
pub mod retention;
pub mod reverts;
mod shares;
pub mod statistics;
pub mod tag_colors;
pub mod tasks;
pub mod uploads;
pub mod webhooks;

pub use deadpool_postgres::{GenericClient, Object as PooledClient, Pool, Transaction};
pub use error::StoreError;
pub use migrate::{connect_migrated, run_migrations, run_migrations_through};
pub use pool::{
    DatabaseSettings, connect, connect_replica, create_database_if_missing, drop_database,
};
pub use shares::{DomainShares, SharedPool, TenantClient, TenantPool};
pub use tokio_postgres::IsolationLevel;

/// Whether the database answers a trivial query on this connection (readiness).
pub async fn ping(client: &impl GenericClient) -> bool {
    client
        .query(include_str!("../queries/ping.sql"), &[])
        .await
        .is_ok()
}
