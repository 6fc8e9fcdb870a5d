//! The task types a bulk request can ask for.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// One bulk task type (`action` in the API).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord)]
#[serde(rename_all = "snake_case")]
pub enum TaskAction {
    CreateCoreProfiles,
    UpdateCoreProfiles,
    UpdateAppProfiles,
    GetCoreProfiles,
    GetAppProfiles,
    CreateAppProfiles,
    /// EXT: create or update, matching existing profiles by the task's `match_by`.
    UpsertCoreProfiles,
    /// EXT: undoes a completed task's changes, profile by profile. Made only by
    /// `POST .../{task_id}/revert`, never submitted.
    RevertProfiles,
}

impl TaskAction {
    /// Every task type, in the order of the contract.
    pub const ALL: [TaskAction; 8] = [
        TaskAction::CreateCoreProfiles,
        TaskAction::UpdateCoreProfiles,
        TaskAction::UpdateAppProfiles,
        TaskAction::GetCoreProfiles,
        TaskAction::GetAppProfiles,
        TaskAction::CreateAppProfiles,
        TaskAction::UpsertCoreProfiles,
        TaskAction::RevertProfiles,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TaskAction::CreateCoreProfiles => "create_core_profiles",
            TaskAction::UpdateCoreProfiles => "update_core_profiles",
            TaskAction::UpdateAppProfiles => "update_app_profiles",
            TaskAction::GetCoreProfiles => "get_core_profiles",
            TaskAction::GetAppProfiles => "get_app_profiles",
            TaskAction::CreateAppProfiles => "create_app_profiles",
            TaskAction::UpsertCoreProfiles => "upsert_core_profiles",
            TaskAction::RevertProfiles => "revert_profiles",
        }
    }

    /// Whether the task changes data (read-only keys may not start it).
    pub fn is_write(self) -> bool {
        !matches!(
            self,
            TaskAction::GetCoreProfiles | TaskAction::GetAppProfiles
        )
    }

    /// Whether a request may ask for this task type (a revert task is made by the server).
    pub fn is_submittable(self) -> bool {
        self != TaskAction::RevertProfiles
    }

    /// Whether a completed task of this type can be reverted: its chunks keep before-images.
    pub fn is_revertible(self) -> bool {
        self.is_write() && self.is_submittable()
    }
}

impl fmt::Display for TaskAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The text was not one of the known task types.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown action `{0}`")]
pub struct UnknownAction(pub String);

impl FromStr for TaskAction {
    type Err = UnknownAction;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        TaskAction::ALL
            .into_iter()
            .find(|action| action.as_str() == text.trim())
            .ok_or_else(|| UnknownAction(text.to_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_action_round_trips_through_its_name() {
        for action in TaskAction::ALL {
            assert_eq!(action.as_str().parse::<TaskAction>(), Ok(action));
        }
        assert!("delete_everything".parse::<TaskAction>().is_err());
    }

    #[test]
    fn only_get_actions_are_read_only() {
        assert!(!TaskAction::GetCoreProfiles.is_write());
        assert!(TaskAction::UpdateAppProfiles.is_write());
    }

    #[test]
    fn only_submittable_write_tasks_are_revertible() {
        let revertible: Vec<TaskAction> = TaskAction::ALL
            .into_iter()
            .filter(|action| action.is_revertible())
            .collect();
        assert_eq!(revertible.len(), 5);
        assert!(!TaskAction::RevertProfiles.is_revertible());
        assert!(!TaskAction::RevertProfiles.is_submittable());
        assert!(!TaskAction::GetAppProfiles.is_revertible());
    }
}
