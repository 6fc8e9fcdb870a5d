//! OpenAPI schemas for values whose allowed set lives in the domain crate (task types, states),
//! so that the document lists exactly what the server accepts and answers.

use userhub_domain::{TaskAction, TaskOutcome, TaskState};
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::{ObjectBuilder, Schema, Type};
use utoipa::{PartialSchema, ToSchema};

fn string_enum(description: &str, values: impl IntoIterator<Item = &'static str>) -> RefOr<Schema> {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(description))
        .enum_values(Some(values))
        .into()
}

/// A task type (`action`), e.g. `create_core_profiles`.
pub struct ActionName;

impl PartialSchema for ActionName {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "A task type.",
            TaskAction::ALL.iter().map(|action| action.as_str()),
        )
    }
}

impl ToSchema for ActionName {}

/// A task state: `created` → `queued` → `processing` → `completed`.
pub struct StateName;

impl PartialSchema for StateName {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "`created` → `queued` → `processing` → `completed`.",
            TaskState::ALL.iter().map(|state| state.as_str()),
        )
    }
}

impl ToSchema for StateName {}

/// How a completed task ended.
pub struct OutcomeName;

impl PartialSchema for OutcomeName {
    fn schema() -> RefOr<Schema> {
        string_enum(
            "EXT, once completed: how the task ended.",
            TaskOutcome::ALL.iter().map(|outcome| outcome.as_str()),
        )
    }
}

impl ToSchema for OutcomeName {}
