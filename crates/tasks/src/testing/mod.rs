//! Test support (feature `testing`): a migrated PostgreSQL database of its own per test, and
//! the task protocol running over the in-memory transport, so that the protocol and every task
//! type's handler are tested with PostgreSQL alone — no broker, no HTTP.

mod database;
mod file;
mod protocol;

pub use database::TestDatabase;
pub use file::{Hold, TestFile};
pub use protocol::{OutcomesExt, Protocol, ProtocolOptions, records};
