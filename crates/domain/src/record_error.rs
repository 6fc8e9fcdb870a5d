//! Per-record error codes and the field-level errors reported in the errors file.

use serde::{Deserialize, Serialize};

/// Why one record could not be applied (the `code` of an errors-file entry).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum ErrorCode {
    InvalidJson,
    MissingRequiredField,
    UnsupportedKey,
    InvalidValueType,
    InvalidValue,
    ExceededKeyLengthLimit,
    ExceededValueLengthLimit,
    ExceededCountLimit,
    EmptyData,
    InvalidIdentity,
    IdentityConflict,
    DuplicateInPayload,
    /// A key appears twice in one object of a record.
    DuplicateKey,
    NotFound,
    AlreadyExists,
    ProcessingFailed,
    /// EXT: an upsert's match key finds more than one profile.
    AmbiguousMatch,
    /// EXT: the task was canceled before this record was applied.
    Canceled,
    /// EXT: a revert found the profile changed by a later task (named in `details`).
    Conflict,
    /// EXT: a revert ran after the reverted task's before-images were deleted.
    RevertExpired,
    /// EXT: the record's `version` is not greater than the profile's stored version.
    StaleVersion,
}

impl ErrorCode {
    /// Whether a record that failed with this code may succeed when sent again unchanged:
    /// the failure came from the data or the moment (a missing or taken profile, a stopped or
    /// failing chunk), not from the record itself.
    pub fn is_retryable(self) -> bool {
        matches!(
            self,
            ErrorCode::ProcessingFailed
                | ErrorCode::Canceled
                | ErrorCode::NotFound
                | ErrorCode::AlreadyExists
                | ErrorCode::IdentityConflict
                | ErrorCode::AmbiguousMatch
                | ErrorCode::Conflict
        )
    }
}

/// One problem with one field of a record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FieldError {
    /// Path of the field, e.g. `identities[0].email`; empty for the record as a whole.
    pub field: String,
    pub code: ErrorCode,
    /// A human sentence.
    pub message: String,
    /// Extra facts, e.g. the owner of a conflicting identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub details: Option<Box<serde_json::Value>>,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: ErrorCode, message: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            code,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(Box::new(details));
        self
    }
}

/// `IDENTITY_CONFLICT` for the identity at `path`, naming the owning profile when known.
pub fn identity_conflict(
    path: String,
    kind: &str,
    owner: Option<crate::CoreProfileId>,
) -> FieldError {
    match owner {
        Some(owner) => FieldError::new(
            path,
            ErrorCode::IdentityConflict,
            format!("this {kind} already belongs to core profile {owner}"),
        )
        .with_details(serde_json::json!({ "core-profile-id": owner })),
        None => FieldError::new(
            path,
            ErrorCode::IdentityConflict,
            format!("this {kind} already belongs to another core profile"),
        ),
    }
}

/// Cuts a text to at most `max_bytes` bytes on a character boundary.
pub fn truncate_utf8(text: &str, max_bytes: usize) -> &str {
    if text.len() <= max_bytes {
        return text;
    }
    let mut end = max_bytes;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_in_screaming_snake_case() {
        let json = serde_json::to_string(&ErrorCode::DuplicateInPayload).unwrap();
        assert_eq!(json, "\"DUPLICATE_IN_PAYLOAD\"");
    }

    #[test]
    fn truncation_keeps_characters_whole() {
        assert_eq!(truncate_utf8("héllo", 2), "h");
        assert_eq!(truncate_utf8("héllo", 3), "hé");
        assert_eq!(truncate_utf8("abc", 10), "abc");
    }
}
