//! The errors of one record as it is read: each with the path of the field at fault, capped so
//! that a hostile record cannot make its error list grow without bound.

use crate::record_error::{ErrorCode, FieldError};
use std::fmt;

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
    pub fn report(&mut self, path: impl fmt::Display, code: ErrorCode, message: impl Into<String>) {
        self.push(FieldError::new(path.to_string(), code, message));
    }

    /// Reports that `path` has the wrong JSON type.
    pub fn wrong_type(&mut self, path: impl fmt::Display, expected: &str, found: &str) {
        let path = path.to_string();
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

/// Where a value sits in its record (`identities[0].email`), written out only when an error
/// names it: spelling the path of every field read would cost an allocation per field.
#[derive(Debug, Clone, Copy)]
pub enum FieldPath<'a> {
    /// A path given whole (`""` is the record itself).
    Whole(&'a str),
    /// `key` inside `parent`.
    Key(&'a FieldPath<'a>, &'a str),
    /// The `position`-th element of `parent`.
    Element(&'a FieldPath<'a>, usize),
}

impl<'a> From<&'a str> for FieldPath<'a> {
    fn from(path: &'a str) -> FieldPath<'a> {
        FieldPath::Whole(path)
    }
}

impl fmt::Display for FieldPath<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldPath::Whole(path) => f.write_str(path),
            FieldPath::Key(parent, key) => {
                if !matches!(parent, FieldPath::Whole("")) {
                    write!(f, "{parent}.")?;
                }
                write_shown_key(f, key)
            }
            FieldPath::Element(parent, position) => write!(f, "{parent}[{position}]"),
        }
    }
}

/// Writes `key` as [`shown_key`] shows it.
fn write_shown_key(f: &mut fmt::Formatter<'_>, key: &str) -> fmt::Result {
    let mut parts = key.split('\0');
    if let Some(first) = parts.next() {
        f.write_str(first)?;
    }
    for part in parts {
        f.write_str("\\u0000")?;
        f.write_str(part)?;
    }
    Ok(())
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
        let root = FieldPath::Whole("");
        assert_eq!(FieldPath::Key(&root, "age").to_string(), "age");
        let names = FieldPath::Whole("names");
        let first = FieldPath::Key(&names, "first_name");
        assert_eq!(first.to_string(), "names.first_name");
        let identities = FieldPath::Whole("identities");
        let second = FieldPath::Element(&identities, 2);
        assert_eq!(second.to_string(), "identities[2]");
        let meta = FieldPath::Key(&second, "a\0b\0");
        assert_eq!(meta.to_string(), "identities[2].a\\u0000b\\u0000");
        assert_eq!(
            FieldPath::Element(&meta, 0).to_string(),
            format!("{meta}[0]")
        );
    }

    proptest::proptest! {
        #[test]
        fn a_key_is_shown_in_a_path_as_shown_key_shows_it(key in ".*") {
            let parent = FieldPath::Whole("custom_fields");
            let path = FieldPath::Key(&parent, &key);
            proptest::prop_assert_eq!(path.to_string(), format!("custom_fields.{}", shown_key(&key)));
        }
    }
}
