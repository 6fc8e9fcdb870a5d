//! The userhub domain: task kinds and states, ids, typed profile records with their validation,
//! per-record error codes and the broker message envelope. No I/O happens here.

pub mod action;
pub mod api_key;
pub mod country;
mod country_table;
pub mod echo;
pub mod events;
pub mod field;
pub mod identity;
pub mod ids;
pub mod language;
pub mod limits;
pub mod manifest;
pub mod options;
pub mod outcome_line;
pub mod profile;
pub mod record;
pub mod record_error;
pub mod setting;
pub mod task;
#[cfg(any(test, feature = "testing"))]
pub mod testing;
pub mod upload;
pub mod values;

pub use action::TaskAction;
pub use field::Field;
pub use identity::{Identity, IdentityKind};
pub use ids::{CoreProfileId, DomainId, TaskId, TaskKey};
pub use options::{MatchBy, TagColor, TaskOptions};
pub use record_error::{ErrorCode, FieldError};
pub use setting::InvalidSetting;
pub use task::{TaskOutcome, TaskState};
