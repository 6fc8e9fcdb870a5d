//! The `userhub-server` binary as a library: settings, the services it can run (all in one
//! process, or gateway, status and workers separately) and the admin commands.

pub mod admin;
pub mod cli;
pub mod commands;
pub mod dead_letters;
pub mod openapi;
pub mod services;
pub mod settings;
mod worker_threads;

pub use services::{ServerError, run_all, run_api, run_gateway, run_status, run_worker};
pub use settings::Settings;
