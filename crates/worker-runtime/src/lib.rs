//! The worker process: one consume loop per task type it runs, over the task protocol of
//! `userhub-tasks`, plus the protocol's background jobs, served beside the health routes.

mod service;

pub use service::{Consumers, WorkerResources, run, spawn_workers};
