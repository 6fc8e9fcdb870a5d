//! Why the protocol refused or failed a request to take, control or read back a task; the
//! HTTP front ends map each kind to their answer.

use crate::control::ControlRefusal;
use crate::transport::TransportError;
use userhub_domain::TaskId;
use userhub_store::StoreError;

/// Why a task could not be taken, controlled or read back.
#[derive(Debug, thiserror::Error)]
pub enum TaskError {
    #[error("this API key is read-only and cannot start `{0}` tasks")]
    ReadOnlyKey(String),
    #[error("an export selector (`all`, `updated_since`, `identity`) must be the only record")]
    SelectorNotAlone,
    /// A control request (cancel, retry, revert) the task or the caller does not allow.
    #[error(transparent)]
    Refused(#[from] ControlRefusal),
    #[error("this Idempotency-Key was already used for a different request")]
    IdempotencyKeyReused,
    #[error("a request with this Idempotency-Key is still being accepted; retry shortly")]
    IdempotencyKeyInUse,
    /// PostgreSQL failed: unavailable when transient, a fault otherwise.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The message broker failed or cannot be reached.
    #[error(transparent)]
    Transport(#[from] TransportError),
    /// A chunk message could not be encoded.
    #[error("cannot encode a chunk message: {0}")]
    ChunkEncoding(serde_json::Error),
    /// A stored outcome blob of the task could not be inflated.
    #[error("the stored outcomes of task {task_id} cannot be inflated: {source}")]
    StoredOutcomes {
        task_id: TaskId,
        source: std::io::Error,
    },
    /// A stored outcome line of the task is not what the runtime writes.
    #[error("a stored outcome of task {task_id} is malformed: {source}")]
    StoredOutcomeLine {
        task_id: TaskId,
        source: serde_json::Error,
    },
    /// A file read twice for one task read differently the second time.
    #[error("the file changed while its task was accepted")]
    SourceChanged,
    /// The awaited task was deleted while the request waited.
    #[error("task {0} vanished while awaited")]
    TaskVanished(TaskId),
}

impl TaskError {
    /// Whether this is the service's own fault (not the request's).
    pub fn is_fault(&self) -> bool {
        matches!(
            self,
            TaskError::Store(_)
                | TaskError::Transport(_)
                | TaskError::ChunkEncoding(_)
                | TaskError::StoredOutcomes { .. }
                | TaskError::StoredOutcomeLine { .. }
                | TaskError::TaskVanished(_)
                | TaskError::SourceChanged
        )
    }
}
