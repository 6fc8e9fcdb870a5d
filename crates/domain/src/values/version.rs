//! External record versions (EXT): an integer 0 ≤ v < 2^63 that the sending system attaches to
//! a record (a CDC position, a timestamp, a counter), and the guard that keeps an older record
//! from overwriting a profile that a newer one already set.

use crate::record_error::{ErrorCode, FieldError};
use crate::values::number::number_parts;
use serde::{Deserialize, Serialize};
use std::fmt;

/// The key of the version in records, exports and events.
pub const VERSION_KEY: &str = "version";

/// A record's or a profile's external version.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
#[serde(try_from = "i64", into = "i64")]
pub struct Version(i64);

impl Version {
    /// A version from a stored or sent integer; `None` below zero.
    pub fn new(value: i64) -> Option<Version> {
        (value >= 0).then_some(Version(value))
    }

    pub fn get(self) -> i64 {
        self.0
    }

    /// Reads a version as sent: a JSON number holding a whole number, or a string of ASCII
    /// digits (no sign, no spaces), between 0 and 2^63 − 1.
    pub fn parse(text: &str, quoted: bool) -> Option<Version> {
        let value = if quoted {
            if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
                return None;
            }
            text.parse::<i64>().ok()?
        } else {
            number_parts(text)?.to_i64().ok()?
        };
        Version::new(value)
    }
}

impl TryFrom<i64> for Version {
    type Error = String;
    fn try_from(value: i64) -> Result<Version, String> {
        Version::new(value).ok_or_else(|| format!("a version cannot be negative ({value})"))
    }
}

impl From<Version> for i64 {
    fn from(version: Version) -> i64 {
        version.0
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Whether a record carrying `sent` may be applied to a profile holding `stored`: a record
/// without a version always may; one with a version only when it is greater than the stored
/// one (`STALE_VERSION` otherwise, naming both).
pub fn guard(sent: Option<Version>, stored: Option<Version>) -> Result<(), FieldError> {
    match (sent, stored) {
        (Some(sent), Some(stored)) if sent <= stored => Err(FieldError::new(
            VERSION_KEY,
            ErrorCode::StaleVersion,
            format!(
                "the record's version {sent} is not greater than the profile's version {stored}: \
                 a newer record was applied already"
            ),
        )
        .with_details(serde_json::json!({
            "version": sent.get(),
            "stored_version": stored.get(),
        }))),
        _ => Ok(()),
    }
}

/// Sets `stored` to `sent` when the record carries a version; whether it changed.
pub fn advance(stored: &mut Option<Version>, sent: Option<Version>) -> bool {
    match sent {
        Some(sent) if *stored != Some(sent) => {
            *stored = Some(sent);
            true
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn numbers_and_digit_strings_are_versions() {
        assert_eq!(Version::parse("0", false), Version::new(0));
        assert_eq!(Version::parse("42", true), Version::new(42));
        assert_eq!(Version::parse("1e3", false), Version::new(1000));
        assert_eq!(
            Version::parse("9223372036854775807", true),
            Version::new(i64::MAX)
        );
        for refused in ["-1", "1.5", "9223372036854775808", "1e30"] {
            assert_eq!(Version::parse(refused, false), None, "{refused}");
        }
        for refused in [
            "",
            " 1",
            "+1",
            "-1",
            "1.0",
            "0x10",
            "9223372036854775808",
            "١",
        ] {
            assert_eq!(Version::parse(refused, true), None, "{refused:?}");
        }
    }

    #[test]
    fn a_stale_record_names_both_versions() {
        let error = guard(Version::new(3), Version::new(5)).unwrap_err();
        assert_eq!(error.code, ErrorCode::StaleVersion);
        assert_eq!(error.field, "version");
        let details = serde_json::to_string(&error.details).unwrap();
        assert_eq!(details, r#"{"version":3,"stored_version":5}"#);
        assert!(guard(Version::new(5), Version::new(5)).is_err());
        assert!(guard(Version::new(6), Version::new(5)).is_ok());
        assert!(guard(None, Version::new(5)).is_ok());
        assert!(guard(Version::new(0), None).is_ok());
    }

    proptest! {
        #[test]
        fn every_non_negative_i64_reads_back_from_its_digits(value in 0..=i64::MAX) {
            let text = value.to_string();
            prop_assert_eq!(Version::parse(&text, true), Version::new(value));
            prop_assert_eq!(Version::parse(&text, false), Version::new(value));
        }

        #[test]
        fn the_guard_admits_exactly_the_greater_versions(sent in 0..100i64, stored in 0..100i64) {
            let admitted = guard(Version::new(sent), Version::new(stored)).is_ok();
            prop_assert_eq!(admitted, sent > stored);
        }
    }
}
