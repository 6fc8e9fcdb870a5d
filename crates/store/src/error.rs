//! The store's error type and its transient/permanent classification.

use tokio_postgres::error::SqlState;

/// A failure talking to PostgreSQL.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No connection could be had (pool timeout, connection refused, server restarting).
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error("database error: {}", describe(.0))]
    Query(#[from] tokio_postgres::Error),
    /// Settings that cannot work (bad URL...).
    #[error("database configuration: {0}")]
    Config(String),
    /// The work kept meeting concurrent changes; retrying later will succeed.
    #[error("contention: {0}")]
    Contention(String),
    /// Stored data that cannot be read back as it was written.
    #[error("stored data unreadable: {0}")]
    Corrupt(String),
    /// A migration failed.
    #[error("migration {version} ({name}) failed: {source}")]
    Migration {
        version: i32,
        name: &'static str,
        source: tokio_postgres::Error,
    },
}

/// The server's message and SQLSTATE when there is one (tokio-postgres only says "db error").
fn describe(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} (SQLSTATE {})", db.message(), db.code().code()),
        None => error.to_string(),
    }
}

impl From<deadpool_postgres::PoolError> for StoreError {
    fn from(error: deadpool_postgres::PoolError) -> Self {
        match error {
            deadpool_postgres::PoolError::Backend(error) => StoreError::Query(error),
            other => StoreError::Unavailable(other.to_string()),
        }
    }
}

impl StoreError {
    /// Whether retrying the same work later may succeed (connection loss, serialization
    /// failure, deadlock, server shutting down) as opposed to a fault in the work itself.
    pub fn is_transient(&self) -> bool {
        match self {
            StoreError::Unavailable(_) | StoreError::Contention(_) => true,
            StoreError::Config(_) | StoreError::Corrupt(_) | StoreError::Migration { .. } => false,
            StoreError::Query(error) => {
                if error.is_closed() {
                    return true;
                }
                let Some(code) = error.code() else {
                    // No SQLSTATE: an I/O or protocol failure on the connection.
                    return error.as_db_error().is_none();
                };
                let transient_codes = [
                    SqlState::T_R_SERIALIZATION_FAILURE,
                    SqlState::T_R_DEADLOCK_DETECTED,
                    SqlState::ADMIN_SHUTDOWN,
                    SqlState::CRASH_SHUTDOWN,
                    SqlState::CANNOT_CONNECT_NOW,
                    SqlState::TOO_MANY_CONNECTIONS,
                    SqlState::LOCK_NOT_AVAILABLE,
                    SqlState::QUERY_CANCELED,
                ];
                transient_codes.contains(code) || code.code().starts_with("08")
            }
        }
    }

    /// Whether the error is a unique-constraint violation.
    pub fn is_unique_violation(&self) -> bool {
        matches!(self, StoreError::Query(error) if error.code() == Some(&SqlState::UNIQUE_VIOLATION))
    }

    /// The constraint or index a violation was about, if any.
    pub fn constraint(&self) -> Option<&str> {
        match self {
            StoreError::Query(error) => error.as_db_error().and_then(|db| db.constraint()),
            _ => None,
        }
    }
}
