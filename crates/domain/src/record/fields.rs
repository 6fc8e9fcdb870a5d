//! What each kind of scalar field accepts, given what it was sent (a [`Scalar`]): strings,
//! booleans, integers in a range, decimals, countries and languages. Every problem is reported
//! with the field's path and a message that says what is expected; `None` means "reported".

use super::read::Scalar;
use super::sink::{ErrorSink, FieldPath};
use crate::country::country_alpha2;
use crate::field::Field;
use crate::language::language_code;
use crate::record_error::ErrorCode;
use crate::values::decimal::{Decimal, DecimalProblem, MAX_DECIMAL_CHARS};
use crate::values::number::{IntegerProblem, number_parts};
use crate::values::version::{VERSION_KEY, Version};
use std::ops::RangeInclusive;

/// Reports NUL characters, which PostgreSQL cannot store.
pub fn reject_nul<'p>(text: &str, path: impl Into<FieldPath<'p>>, sink: &mut ErrorSink) -> bool {
    let path = path.into();
    if text.contains('\0') {
        sink.report(
            path,
            ErrorCode::InvalidValue,
            "NUL characters (\\u0000) are not allowed in strings",
        );
        return false;
    }
    true
}

/// A string of at most `max_chars` characters, or `null`.
pub fn text<'p>(
    scalar: Scalar<'_>,
    path: impl Into<FieldPath<'p>>,
    max_chars: usize,
    sink: &mut ErrorSink,
) -> Option<Field<String>> {
    let path = path.into();
    match scalar {
        Scalar::Null => Some(Field::Clear),
        Scalar::Text(text) => {
            if !reject_nul(&text, path, sink) {
                return None;
            }
            if text.chars().count() > max_chars {
                sink.report(
                    path,
                    ErrorCode::ExceededValueLengthLimit,
                    format!("`{path}` may have at most {max_chars} characters"),
                );
                return None;
            }
            Some(Field::Set(text.into_owned()))
        }
        other => {
            sink.wrong_type(path, "a string", other.type_name());
            None
        }
    }
}

/// `true`/`false`, also as strings in any case; or `null`.
pub fn boolean<'p>(
    scalar: Scalar<'_>,
    path: impl Into<FieldPath<'p>>,
    sink: &mut ErrorSink,
) -> Option<Field<bool>> {
    let path = path.into();
    match scalar {
        Scalar::Null => Some(Field::Clear),
        Scalar::Bool(flag) => Some(Field::Set(flag)),
        Scalar::Text(text) => match text.trim().to_ascii_lowercase().as_str() {
            "true" => Some(Field::Set(true)),
            "false" => Some(Field::Set(false)),
            _ => {
                sink.report(
                    path,
                    ErrorCode::InvalidValueType,
                    format!("`{path}` must be a boolean (true or false); the string holds neither"),
                );
                None
            }
        },
        other => {
            sink.wrong_type(path, "a boolean (true or false)", other.type_name());
            None
        }
    }
}

/// A whole number within `range` (a number, or a string holding one); or `null`.
pub fn integer<'p>(
    scalar: Scalar<'_>,
    path: impl Into<FieldPath<'p>>,
    range: RangeInclusive<i64>,
    sink: &mut ErrorSink,
) -> Option<Field<i64>> {
    let path = path.into();
    let (text, from_string) = match &scalar {
        Scalar::Null => return Some(Field::Clear),
        Scalar::Number(text) => (text.as_ref(), false),
        Scalar::Text(text) => (text.trim(), true),
        other => {
            sink.wrong_type(path, "an integer", other.type_name());
            return None;
        }
    };
    let Some(parts) = number_parts(text) else {
        let message = if from_string {
            format!("`{path}` must be an integer; the string does not hold one")
        } else {
            format!("`{path}` must be an integer")
        };
        sink.report(path, ErrorCode::InvalidValueType, message);
        return None;
    };
    let out_of_range = || {
        format!(
            "`{path}` must be between {} and {}",
            range.start(),
            range.end()
        )
    };
    match parts.to_i64() {
        Ok(value) if range.contains(&value) => Some(Field::Set(value)),
        Ok(_) | Err(IntegerProblem::OutOfRange) => {
            sink.report(path, ErrorCode::InvalidValue, out_of_range());
            None
        }
        Err(IntegerProblem::NotWhole) => {
            sink.report(
                path,
                ErrorCode::InvalidValue,
                format!("`{path}` must be a whole number"),
            );
            None
        }
    }
}

/// A decimal ≥ 0 (and ≤ `max` when given) in plain notation, as a number or a string; or
/// `null`.
pub fn decimal<'p>(
    scalar: Scalar<'_>,
    path: impl Into<FieldPath<'p>>,
    max: Option<u64>,
    sink: &mut ErrorSink,
) -> Option<Field<Decimal>> {
    let path = path.into();
    let text = match &scalar {
        Scalar::Null => return Some(Field::Clear),
        Scalar::Number(text) => text.as_ref(),
        Scalar::Text(text) => text.trim(),
        other => {
            sink.wrong_type(path, "a decimal number", other.type_name());
            return None;
        }
    };
    let range = || {
        max.map_or_else(
            || "at least 0".to_owned(),
            |max| format!("between 0 and {max}"),
        )
    };
    match Decimal::parse(text) {
        Ok(value) if max.is_some_and(|max| value.exceeds(max)) => {
            sink.report(
                path,
                ErrorCode::InvalidValue,
                format!("`{path}` must be {}", range()),
            );
            None
        }
        Ok(value) => Some(Field::Set(value)),
        Err(DecimalProblem::TooLong) => {
            sink.report(
                path,
                ErrorCode::ExceededValueLengthLimit,
                format!("`{path}` may have at most {MAX_DECIMAL_CHARS} characters"),
            );
            None
        }
        Err(DecimalProblem::Negative) => {
            sink.report(
                path,
                ErrorCode::InvalidValue,
                format!("`{path}` must be {}", range()),
            );
            None
        }
        Err(DecimalProblem::Malformed) => {
            sink.report(
                path,
                ErrorCode::InvalidValue,
                format!(
                    "`{path}` must be a decimal number in plain notation (digits with an \
                     optional fraction, such as 12.50)"
                ),
            );
            None
        }
    }
}

/// A string narrowed by `check` (e.g. a country name to its code); `INVALID_VALUE` with the
/// check's reason when it does not pass.
fn restricted(
    scalar: Scalar<'_>,
    path: FieldPath<'_>,
    sink: &mut ErrorSink,
    check: impl FnOnce(&str) -> Option<String>,
    reason: &str,
) -> Option<Field<String>> {
    match text(scalar, path, crate::limits::MAX_STRING_CHARS, sink)? {
        Field::Set(given) => match check(&given) {
            Some(value) => Some(Field::Set(value)),
            None => {
                sink.report(path, ErrorCode::InvalidValue, format!("`{given}` {reason}"));
                None
            }
        },
        other => Some(other),
    }
}

/// A country (alpha-2, alpha-3 or English name), stored as alpha-2.
pub fn country<'p>(
    scalar: Scalar<'_>,
    path: impl Into<FieldPath<'p>>,
    sink: &mut ErrorSink,
) -> Option<Field<String>> {
    restricted(
        scalar,
        path.into(),
        sink,
        |text| country_alpha2(text).map(str::to_owned),
        "is not an ISO 3166 country code or English country name",
    )
}

/// An ISO 639-1 language code, stored in lower case.
pub fn language<'p>(
    scalar: Scalar<'_>,
    path: impl Into<FieldPath<'p>>,
    sink: &mut ErrorSink,
) -> Option<Field<String>> {
    restricted(
        scalar,
        path.into(),
        sink,
        language_code,
        "is not an ISO 639-1 language code",
    )
}

/// EXT: a record's `version`: a whole JSON number or a string of digits, 0 ≤ v < 2^63; anything
/// else (`null` too) is `INVALID_VALUE`.
pub fn version(scalar: Scalar<'_>, sink: &mut ErrorSink) -> Option<Version> {
    let parsed = match &scalar {
        Scalar::Number(text) => Version::parse(text, false),
        Scalar::Text(text) => Version::parse(text, true),
        _ => None,
    };
    if parsed.is_none() {
        sink.report(
            VERSION_KEY,
            ErrorCode::InvalidValue,
            format!(
                "`{VERSION_KEY}` must be an integer from 0 to 2^63 - 1 (a JSON number or a string \
                 of digits), not {}",
                scalar.type_name()
            ),
        );
    }
    parsed
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn number(text: &str) -> Scalar<'_> {
        Scalar::Number(Cow::Borrowed(text))
    }

    fn string(text: &str) -> Scalar<'_> {
        Scalar::Text(Cow::Borrowed(text))
    }

    fn codes(run: impl FnOnce(&mut ErrorSink)) -> Vec<(String, ErrorCode, String)> {
        let mut sink = ErrorSink::default();
        run(&mut sink);
        sink.into_errors()
            .into_iter()
            .map(|e| (e.field, e.code, e.message))
            .collect()
    }

    #[test]
    fn integers_arrive_as_numbers_or_strings_in_any_whole_notation() {
        let mut sink = ErrorSink::default();
        assert_eq!(
            integer(number("30"), "age", 1..=149, &mut sink),
            Some(Field::Set(30))
        );
        assert_eq!(
            integer(number("30.0"), "age", 1..=149, &mut sink),
            Some(Field::Set(30))
        );
        assert_eq!(
            integer(string(" 30 "), "age", 1..=149, &mut sink),
            Some(Field::Set(30))
        );
        assert_eq!(
            integer(Scalar::Null, "age", 1..=149, &mut sink),
            Some(Field::Clear)
        );
        assert!(sink.is_empty());
    }

    #[test]
    fn integer_errors_say_what_is_wrong() {
        let found = codes(|sink| {
            integer(number("99999999999999999999"), "age", 1..=149, sink);
            integer(number("3.5"), "age", 1..=149, sink);
            integer(string("old"), "age", 1..=149, sink);
            integer(Scalar::Array, "age", 1..=149, sink);
        });
        assert_eq!(found[0].1, ErrorCode::InvalidValue);
        assert!(found[0].2.contains("between 1 and 149"), "{}", found[0].2);
        assert!(found[1].2.contains("whole number"));
        assert_eq!(found[2].1, ErrorCode::InvalidValueType);
        assert_eq!(found[3].1, ErrorCode::InvalidValueType);
        assert!(found[3].2.contains("not an array"));
    }

    #[test]
    fn decimals_keep_their_text_and_explain_their_limits() {
        let mut sink = ErrorSink::default();
        assert_eq!(
            decimal(string(" 10.50 "), "lifetime_value", None, &mut sink),
            Some(Field::Set(Decimal::parse("10.50").unwrap()))
        );
        let found = codes(|sink| {
            decimal(string(&"1".repeat(65)), "lifetime_value", None, sink);
            decimal(number("-3"), "lifetime_value", None, sink);
            decimal(number("1e5"), "lifetime_value", None, sink);
            decimal(number("5.01"), "app_rating", Some(5), sink);
        });
        let kinds: Vec<ErrorCode> = found.iter().map(|f| f.1).collect();
        assert_eq!(
            kinds,
            vec![
                ErrorCode::ExceededValueLengthLimit,
                ErrorCode::InvalidValue,
                ErrorCode::InvalidValue,
                ErrorCode::InvalidValue
            ]
        );
        assert!(found[0].2.contains("at most 64 characters"));
        assert!(found[3].2.contains("between 0 and 5"));
    }

    #[test]
    fn strings_are_limited_and_may_not_hold_nul() {
        let found = codes(|sink| {
            text(string("abcdef"), "last_city", 5, sink);
            text(string("a\0b"), "last_city", 5, sink);
            text(number("5"), "last_city", 5, sink);
        });
        let kinds: Vec<ErrorCode> = found.iter().map(|f| f.1).collect();
        assert_eq!(
            kinds,
            vec![
                ErrorCode::ExceededValueLengthLimit,
                ErrorCode::InvalidValue,
                ErrorCode::InvalidValueType
            ]
        );
    }

    #[test]
    fn countries_and_languages_are_normalised() {
        let mut sink = ErrorSink::default();
        assert_eq!(
            country(string("India"), "last_country", &mut sink),
            Some(Field::Set("IN".into()))
        );
        assert_eq!(
            language(string("EN"), "preferred_language", &mut sink),
            Some(Field::Set("en".into()))
        );
        assert!(country(string("Atlantis"), "last_country", &mut sink).is_none());
    }
}
