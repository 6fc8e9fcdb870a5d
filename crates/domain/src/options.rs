//! Request-level options of a task (EXT): what an upsert matches profiles by, whether profile
//! events are published, and the workflow they start.

use crate::TaskId;
use crate::identity::IdentityKind;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What `upsert_core_profiles` matches existing profiles by.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum MatchBy {
    /// The record's identity of this kind (e.g. `email`).
    Identity(IdentityKind),
    /// The record's `core-profile-id` (an unknown id is `NOT_FOUND`, never created).
    CoreProfileId,
    /// The record's value of this custom field.
    CustomField(String),
}

/// The text is not a `match_by` value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a match key: use an identity kind (uid, email, phone_number, device_id, ...), \
     `core-profile-id` or `custom_field:<name>`"
)]
pub struct InvalidMatchBy(pub String);

const CUSTOM_FIELD_PREFIX: &str = "custom_field:";

impl FromStr for MatchBy {
    type Err = InvalidMatchBy;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        if text == "core-profile-id" {
            return Ok(MatchBy::CoreProfileId);
        }
        if let Some(name) = text.strip_prefix(CUSTOM_FIELD_PREFIX) {
            let name = name.trim();
            let valid = !name.is_empty()
                && name.chars().count() <= crate::limits::MAX_CUSTOM_FIELD_KEY_CHARS;
            return if valid {
                Ok(MatchBy::CustomField(name.to_owned()))
            } else {
                Err(InvalidMatchBy(text.to_owned()))
            };
        }
        text.parse::<IdentityKind>()
            .map(MatchBy::Identity)
            .map_err(|()| InvalidMatchBy(text.to_owned()))
    }
}

impl TryFrom<String> for MatchBy {
    type Error = InvalidMatchBy;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        text.parse()
    }
}

impl fmt::Display for MatchBy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            MatchBy::Identity(kind) => f.write_str(kind.as_str()),
            MatchBy::CoreProfileId => f.write_str("core-profile-id"),
            MatchBy::CustomField(name) => write!(f, "{CUSTOM_FIELD_PREFIX}{name}"),
        }
    }
}

impl From<MatchBy> for String {
    fn from(match_by: MatchBy) -> String {
        match_by.to_string()
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Options given with a create request; carried by the task and each of its chunks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaskOptions {
    /// Required for `upsert_core_profiles`, refused for other task types.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub match_by: Option<MatchBy>,
    /// No profile events for this task's changes.
    #[serde(default, skip_serializing_if = "is_false")]
    pub skip_triggers: bool,
    /// Carried by this task's profile events, for the downstream workflow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workflow_id: Option<i64>,
    /// EXT: run the write task against the real data inside transactions that are rolled
    /// back — nothing is written, no events — and report what each record would do.
    #[serde(default, skip_serializing_if = "is_false")]
    pub dry_run: bool,
    /// EXT: for a `revert_profiles` task, the task whose changes it undoes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reverts: Option<TaskId>,
    /// Colors of tags (the HelpCrunch-compatible update sends `{name, color}` tags), stored
    /// for the domain in the same transaction as the task's changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag_colors: Vec<TagColor>,
}

/// A tag's display color.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagColor {
    pub tag: String,
    pub color: String,
}

impl TaskOptions {
    pub fn is_default(&self) -> bool {
        *self == TaskOptions::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn match_keys_parse_and_print_back() {
        for text in [
            "email",
            "uid",
            "device_id",
            "core-profile-id",
            "custom_field:CRM_ID",
        ] {
            let parsed: MatchBy = text.parse().unwrap();
            assert_eq!(parsed.to_string(), text);
        }
        assert_eq!(
            "phone_number".parse::<MatchBy>(),
            Ok(MatchBy::Identity(IdentityKind::PhoneNumber))
        );
        for bad in ["", "mail", "custom_field:", "custom_field:  "] {
            assert!(bad.parse::<MatchBy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn options_serialise_compactly() {
        assert_eq!(
            serde_json::to_string(&TaskOptions::default()).unwrap(),
            "{}"
        );
        let options = TaskOptions {
            match_by: Some(MatchBy::CustomField("CRM_ID".to_owned())),
            skip_triggers: true,
            workflow_id: Some(7),
            dry_run: true,
            reverts: Some(TaskId::from(1_700_000_000_000_i64 << 10)),
            tag_colors: vec![TagColor {
                tag: "vip".to_owned(),
                color: "#c377e0".to_owned(),
            }],
        };
        let text = serde_json::to_string(&options).unwrap();
        assert_eq!(
            text,
            r##"{"match_by":"custom_field:CRM_ID","skip_triggers":true,"workflow_id":7,"dry_run":true,"reverts":1740800000000000,"tag_colors":[{"tag":"vip","color":"#c377e0"}]}"##
        );
        assert_eq!(serde_json::from_str::<TaskOptions>(&text).unwrap(), options);
    }
}

/// A boolean option's text that is neither true nor false.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{name}` must be true, false, 1 or 0, not `{given}`")]
pub struct InvalidFlag {
    pub name: String,
    pub given: String,
}

/// The one grammar of every boolean option (query parameter, form or multipart field, JSON
/// member given as text): `true` or `1`, `false` or `0`, in any letter case and with blanks
/// around it; absent or blank is `false`.
pub fn parse_flag(name: &str, text: Option<&str>) -> Result<bool, InvalidFlag> {
    let text = text.map(str::trim).unwrap_or_default();
    if text.is_empty() || text == "0" || text.eq_ignore_ascii_case("false") {
        return Ok(false);
    }
    if text == "1" || text.eq_ignore_ascii_case("true") {
        return Ok(true);
    }
    Err(InvalidFlag {
        name: name.to_owned(),
        given: text.to_owned(),
    })
}

#[cfg(test)]
mod flag_tests {
    use super::parse_flag;
    use proptest::prelude::*;

    #[test]
    fn every_spelling_of_true_and_false_is_read_alike() {
        for text in ["true", "TRUE", "True", " tRuE ", "1"] {
            assert_eq!(parse_flag("dry_run", Some(text)), Ok(true), "{text}");
        }
        for text in ["false", "FALSE", "False", "0", "", "  "] {
            assert_eq!(parse_flag("dry_run", Some(text)), Ok(false), "{text}");
        }
        assert_eq!(parse_flag("dry_run", None), Ok(false));
        let refused = parse_flag("dry_run", Some("yes")).unwrap_err();
        assert_eq!(
            refused.to_string(),
            "`dry_run` must be true, false, 1 or 0, not `yes`"
        );
    }

    proptest! {
        #[test]
        fn anything_else_is_refused_naming_the_option(text in "\\PC{0,12}") {
            let trimmed = text.trim();
            let known = ["", "0", "1"].contains(&trimmed)
                || trimmed.eq_ignore_ascii_case("true")
                || trimmed.eq_ignore_ascii_case("false");
            let parsed = parse_flag("wait", Some(&text));
            prop_assert_eq!(parsed.is_ok(), known);
            if let Err(refused) = parsed {
                prop_assert_eq!(refused.name, "wait");
            }
        }
    }
}
