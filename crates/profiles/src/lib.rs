//! The profile service: how create, update and upsert records change core and app profiles,
//! shared by every task type that writes profiles. It takes typed batches (the records of one
//! chunk, in input order), applies them inside the caller's transaction with set-based SQL and
//! reports, per record, what happened and, per profile, what changed.

pub mod app;
pub mod core;
#[cfg(feature = "testing")]
pub mod testing;

pub use app::{AppApplied, AppChange, AppOutcome};
pub use core::{CoreApplied, CoreChange, CoreOutcome, Indexed};
