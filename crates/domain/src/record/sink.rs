//! The errors of one record as it is read: each with the path of the field at fault, capped so
//! that a hostile record cannot make its error list grow without bound.

use crate::record_error::{ErrorCode, FieldError};

/// At most this many errors are reported for one record; the rest are summarised.
pub const MAX_ERRORS_PER_RECORD: usize = 20;

/// Collects the errors of one record, capped at [`MAX_ERRORS_PER_RECORD`].
#[derive(Debug, Default)]
pub struct ErrorSink {
    errors: Vec<FieldError>,
    dropped: usize,
}

impl ErrorSink {
    pub fn push(&mut self, error: FieldError) {
        if self.errors.len() < MAX_ERRORS_PER_RECORD {
            self.errors.push(error);
        } else {
            self.dropped += 1;
        }
    }

    /// Reports `code` with `message` at `path`.
    pub fn report(&mut self, path: impl Into<String>, code: ErrorCode, message: impl Into<String>) {
        self.push(FieldError::new(path, code, message));
    }

    /// Reports that `path` has the wrong JSON type.
    pub fn wrong_type(&mut self, path: &str, expected: &str, found: &str) {
        let message = if path.is_empty() {
            format!("the record must be {expected}, not {found}")
        } else {
            format!("`{path}` must be {expected}, not {found}")
        };
        self.report(path, ErrorCode::InvalidValueType, message);
    }

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_errors(mut self) -> Vec<FieldError> {
        if self.dropped > 0 {
            if let Some(last) = self.errors.pop() {
                self.errors.push(FieldError {
                    message: format!(
                        "{} (and {} more errors in this record)",
                        last.message, self.dropped
                    ),
                    ..last
                });
            }
        }
        self.errors
    }
}

/// The path of `key` inside `parent` (`""` is the record itself).
pub fn child(parent: &str, key: &str) -> String {
    if parent.is_empty() {
        key.to_owned()
    } else {
        format!("{parent}.{key}")
    }
}

/// The path of the `position`-th element of `parent`.
pub fn element(parent: &str, position: usize) -> String {
    format!("{parent}[{position}]")
}

/// Shows a key in a path or message: NUL characters escaped so the text stays printable.
pub fn shown_key(key: &str) -> String {
    key.replace('\0', "\\u0000")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_error_list_of_one_record_is_capped() {
        let mut sink = ErrorSink::default();
        for _ in 0..1000 {
            sink.report("x", ErrorCode::InvalidValue, "bad");
        }
        let errors = sink.into_errors();
        assert_eq!(errors.len(), MAX_ERRORS_PER_RECORD);
        assert!(
            errors
                .last()
                .unwrap()
                .message
                .contains("and 980 more errors")
        );
    }

    #[test]
    fn paths_join_keys_and_positions() {
        assert_eq!(child("", "age"), "age");
        assert_eq!(child("names", "first_name"), "names.first_name");
        assert_eq!(element("identities", 2), "identities[2]");
    }
}
