//! Why a create request was refused for its action or options, as typed values: each problem
//! renders its own sentence (naming the field the caller sent) and `GatewayError` maps its kind
//! to a status and code once. Problems of the body itself are http-common's.

use userhub_domain::TaskAction;
use userhub_domain::options::{InvalidFlag, InvalidMatchBy};

/// The action names, for the message of an unknown one.
fn known_actions() -> String {
    TaskAction::ALL
        .iter()
        .map(|action| action.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// What is wrong with `action`.
#[derive(Debug, thiserror::Error)]
pub enum ActionProblem {
    #[error("`action` is required")]
    Missing,
    #[error("unknown action `{given}`; expected one of {}", known_actions())]
    Unknown { given: String },
    /// The JSON kind given instead of a string.
    #[error("`action` must be a string, not {0}")]
    NotAString(&'static str),
}

/// What is wrong with a request option (EXT) or a query parameter's value.
#[derive(Debug, thiserror::Error)]
pub enum OptionProblem {
    #[error(transparent)]
    NotABoolean(#[from] InvalidFlag),
    #[error("`match_by`: {0}")]
    MatchBy(#[from] InvalidMatchBy),
    #[error(
        "`match_by` is required for upsert_core_profiles: an identity kind, `core-profile-id` \
         or `custom_field:<name>`"
    )]
    MatchByRequired,
    #[error("`match_by` applies to upsert_core_profiles only, not to {0}")]
    MatchByNotApplicable(TaskAction),
    #[error("`dry_run` applies to write tasks only, not to {0}: a read changes nothing")]
    DryRunNotApplicable(TaskAction),
    #[error("`workflow_id` must be a whole number, not `{0}`")]
    WorkflowId(String),
    #[error("`{0}` is too long")]
    TooLong(String),
    #[error("`wait=true` takes at most {limit} records; this request has {given}")]
    TooManyToWait { limit: usize, given: usize },
}
