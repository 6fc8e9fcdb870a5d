//! Everything that can stop a command, with the exit code it ends the process with.

use crate::api::ApiError;
use crate::config::ConfigError;
use crate::merge::MergeError;
use crate::parts::SplitError;

/// A command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum CliError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error(transparent)]
    Split(#[from] SplitError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("{0}")]
    Usage(String),
}

impl CliError {
    pub fn write(path: &std::path::Path, error: impl std::fmt::Display) -> CliError {
        CliError::Write {
            path: path.display().to_string(),
            reason: error.to_string(),
        }
    }
}

/// Exit codes: 0 everything succeeded, 1 the command failed, 2 bad usage (clap's), 3 the tasks
/// completed but some records failed (see the errors file), 130 interrupted (Ctrl-C).
pub const EXIT_FAILED: u8 = 1;
pub const EXIT_RECORD_ERRORS: u8 = 3;
pub const EXIT_INTERRUPTED: u8 = 130;
