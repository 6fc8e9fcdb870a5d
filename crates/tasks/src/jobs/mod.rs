//! The protocol's background jobs: planning an export's chunks, releasing the chunks of
//! in-order tasks, detecting stalled tasks, retention, and relaying profile events.

pub mod ordered;
pub mod plan;
pub mod relay;
pub mod retention;
pub mod stall;
