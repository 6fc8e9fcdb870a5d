//! Webhooks (EXT): which URLs an endpoint may have (never the installation's own network by
//! accident), Standard Webhooks signatures, secrets sealed at rest, and the dispatcher that
//! delivers what the task-completion trigger and the profile-event relay queued — at least
//! once, with backoff for 24 hours, fairly between domains, off the import path.

mod dispatch;
pub mod routes;
mod sealing;
mod settings;
mod signature;
mod target;

pub use dispatch::{run_dispatcher, seal_clear_secrets};
pub use routes::router;
pub use sealing::{SealError, Sealer};
pub use settings::WebhookSettings;
pub use signature::{new_secret, signature_header};
pub use target::{TargetError, checked_target};

/// The events an endpoint may subscribe to: a task completed, or a chunk's profile events
/// (a `userhub.profile_event_batch.v1` object as `data`, created, updated and deleted profiles).
pub const EVENT_TYPES: [&str; 2] = ["task.completed", "profile.changed"];
