//! The request-level options of a create request (EXT): `match_by`, `skip_triggers`,
//! `workflow_id` and `dry_run`, given as form fields, multipart fields or JSON envelope members, checked
//! against the task type.

use crate::error::GatewayError;
use crate::problems::OptionProblem;
use userhub_domain::options::parse_flag;
use userhub_domain::{MatchBy, TaskAction, TaskOptions};

/// Option texts as they arrive, before they are checked.
#[derive(Debug, Default, Clone)]
pub struct OptionFields {
    match_by: Option<String>,
    skip_triggers: Option<String>,
    workflow_id: Option<String>,
    dry_run: Option<String>,
}

/// A boolean option's text (see [`parse_flag`]).
pub fn flag(name: &str, text: Option<&str>) -> Result<bool, GatewayError> {
    parse_flag(name, text).map_err(|invalid| OptionProblem::NotABoolean(invalid).into())
}

/// The names of the request options.
pub const OPTION_NAMES: [&str; 4] = ["match_by", "skip_triggers", "workflow_id", "dry_run"];

/// Every query parameter task creation reads: `wait`, `action` (with a CSV body) and the
/// options.
pub const CREATE_QUERY_PARAMETERS: [&str; 6] = [
    "wait",
    "action",
    OPTION_NAMES[0],
    OPTION_NAMES[1],
    OPTION_NAMES[2],
    OPTION_NAMES[3],
];

/// Whether `name` is a request option.
pub fn is_option(name: &str) -> bool {
    OPTION_NAMES.contains(&name)
}

impl OptionFields {
    /// Takes an option's text; `false` if `name` is not an option. An option given twice is
    /// refused.
    pub fn take(&mut self, name: &str, value: String) -> Result<bool, GatewayError> {
        let slot = match name {
            "match_by" => &mut self.match_by,
            "skip_triggers" => &mut self.skip_triggers,
            "workflow_id" => &mut self.workflow_id,
            "dry_run" => &mut self.dry_run,
            _ => return Ok(false),
        };
        if slot.is_some() {
            return Err(GatewayError::RepeatedField(name.to_owned()));
        }
        *slot = Some(value);
        Ok(true)
    }

    /// Checks the options for `action`.
    pub fn finish(self, action: TaskAction) -> Result<TaskOptions, GatewayError> {
        let match_by = match self.match_by.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(text.parse::<MatchBy>().map_err(OptionProblem::MatchBy)?),
        };
        match (action, &match_by) {
            (TaskAction::UpsertCoreProfiles, None) => {
                return Err(OptionProblem::MatchByRequired.into());
            }
            (TaskAction::UpsertCoreProfiles, Some(_)) | (_, None) => {}
            (other, Some(_)) => {
                return Err(OptionProblem::MatchByNotApplicable(other).into());
            }
        }
        let skip_triggers = flag("skip_triggers", self.skip_triggers.as_deref())?;
        let workflow_id = match self.workflow_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(text) => Some(
                text.parse::<i64>()
                    .ok()
                    .filter(|id| *id >= 0)
                    .ok_or_else(|| OptionProblem::WorkflowId(text.to_owned()))?,
            ),
        };
        let dry_run = flag("dry_run", self.dry_run.as_deref())?;
        if dry_run && !action.is_write() {
            return Err(OptionProblem::DryRunNotApplicable(action).into());
        }
        Ok(TaskOptions {
            match_by,
            skip_triggers,
            workflow_id,
            dry_run,
            ..TaskOptions::default()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(pairs: &[(&str, &str)], action: TaskAction) -> Result<TaskOptions, GatewayError> {
        let mut fields = OptionFields::default();
        for (name, value) in pairs {
            assert!(fields.take(name, (*value).to_owned()).unwrap());
        }
        fields.finish(action)
    }

    #[test]
    fn upserts_need_a_match_key_and_only_upserts_take_one() {
        let upsert = TaskAction::UpsertCoreProfiles;
        assert!(options(&[], upsert).is_err());
        assert!(options(&[("match_by", "mail")], upsert).is_err());
        let parsed = options(&[("match_by", "email"), ("skip_triggers", "true")], upsert).unwrap();
        assert_eq!(parsed.match_by.unwrap().to_string(), "email");
        assert!(parsed.skip_triggers);
        assert!(options(&[("match_by", "email")], TaskAction::CreateCoreProfiles).is_err());
    }

    #[test]
    fn an_option_given_twice_is_refused() {
        let mut fields = OptionFields::default();
        assert!(fields.take("match_by", "email".to_owned()).unwrap());
        assert!(matches!(
            fields.take("match_by", "uid".to_owned()),
            Err(GatewayError::RepeatedField(name)) if name == "match_by"
        ));
        assert!(!fields.take("skip_trigger", "true".to_owned()).unwrap());
    }

    #[test]
    fn flags_and_numbers_are_checked() {
        let create = TaskAction::CreateCoreProfiles;
        assert!(options(&[("skip_triggers", "maybe")], create).is_err());
        assert!(options(&[("workflow_id", "x")], create).is_err());
        assert_eq!(
            options(&[("workflow_id", " 42 ")], create)
                .unwrap()
                .workflow_id,
            Some(42)
        );
        assert!(!options(&[], create).unwrap().skip_triggers);
    }

    #[test]
    fn dry_run_is_a_flag_of_write_tasks_only() {
        let create = TaskAction::CreateCoreProfiles;
        assert!(options(&[("dry_run", "true")], create).unwrap().dry_run);
        assert!(!options(&[("dry_run", "0")], create).unwrap().dry_run);
        assert!(options(&[("dry_run", "yes")], create).is_err());
        let read = options(&[("dry_run", "true")], TaskAction::GetCoreProfiles);
        assert!(matches!(
            read,
            Err(GatewayError::InvalidOption(
                OptionProblem::DryRunNotApplicable(TaskAction::GetCoreProfiles)
            ))
        ));
        assert!(
            !options(&[("dry_run", "false")], TaskAction::GetCoreProfiles)
                .unwrap()
                .dry_run
        );
    }
}
