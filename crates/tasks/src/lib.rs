//! The task protocol, end to end: a request becomes a task, the task becomes chunks, each
//! chunk is applied once — in order per profile, with its outcomes, events and ledger row in
//! one transaction — and a task can be canceled, dry-run, retried and reverted. The modules
//! are its concepts: the chunk [`envelope`], [`intake`] (records to a committed task and its
//! published chunks), the [`handler`] contract each task type fulfils, [`apply`] (decode →
//! gate → parse → handle → record outcomes → commit), the background [`jobs`] (export
//! planning, ordered release, stall detection, retention, event relay), [`control`] (cancel,
//! retry, revert), [`readback`] (results and errors), the [`transport`] port chunks move
//! through, and the settings, faults and replica reads they share.

pub mod apply;
pub mod control;
pub mod envelope;
mod error;
mod faults;
mod gate;
pub mod handler;
pub mod intake;
pub mod jobs;
mod lost;
pub mod readback;
mod replica;
mod settings;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod transport;
mod worker;

pub use apply::{
    ChunkDisposition, ChunkError, OutcomeWriter, apply_chunk, apply_chunk_with_hook, fail_chunk,
};
pub use error::TaskError;
pub use faults::{CrashPlan, CrashPoint, WorkerFaults};
pub use handler::{
    AppProfileRef, ChunkContext, Handled, Outcome, Preview, ProfileChangeNote, ProfileKey,
    TaskHandler, Work,
};
pub use jobs::ordered::release_next;
pub use jobs::plan::plan_export;
pub use jobs::relay::{relay_round, run_event_relay};
pub use jobs::retention::{MAX_RETENTION_DAYS, RetentionSettings, run_retention_sweeper, sweep};
pub use jobs::stall::{check_stalled_tasks, run_stall_detector};
pub use replica::{Replica, ReplicaReads, replica_first};
pub use settings::WorkerSettings;
pub use transport::{ChunkTransport, TransportError};
pub use worker::run_worker;
