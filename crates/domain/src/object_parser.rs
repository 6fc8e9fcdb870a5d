//! Walks one JSON object of a record, turning its fields into typed values and collecting every
//! problem as a [`FieldError`] with the path of the field at fault.

use crate::field::Field;
use crate::limits::MAX_DECIMAL_CHARS;
use crate::record_error::{ErrorCode, FieldError};
use serde_json::{Map, Value};

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

    pub fn is_empty(&self) -> bool {
        self.errors.is_empty()
    }

    pub fn into_errors(mut self) -> Vec<FieldError> {
        if self.dropped > 0 {
            let last = self.errors.pop();
            let total = self.dropped + 1;
            if let Some(last) = last {
                self.errors.push(FieldError {
                    message: format!(
                        "{} (and {} more errors in this record)",
                        last.message,
                        total - 1
                    ),
                    ..last
                });
            }
        }
        self.errors
    }
}

/// Typed access to the fields of one JSON object; unknown keys become `UNSUPPORTED_KEY`.
pub struct ObjectParser<'a> {
    object: &'a Map<String, Value>,
    prefix: String,
    used: Vec<&'a str>,
}

impl<'a> ObjectParser<'a> {
    pub fn new(object: &'a Map<String, Value>, prefix: impl Into<String>) -> Self {
        ObjectParser {
            object,
            prefix: prefix.into(),
            used: Vec::new(),
        }
    }

    /// The path of a field of this object, as shown in error reports.
    pub fn path(&self, name: &str) -> String {
        if self.prefix.is_empty() {
            name.to_owned()
        } else {
            format!("{}.{name}", self.prefix)
        }
    }

    /// The raw value of a field, marking it as known.
    pub fn raw(&mut self, name: &'static str) -> Option<&'a Value> {
        let (key, value) = self.object.get_key_value(name)?;
        self.used.push(key.as_str());
        Some(value)
    }

    /// Reports every key that no accessor asked for.
    pub fn finish(self, sink: &mut ErrorSink) {
        for key in self.object.keys() {
            if !self.used.contains(&key.as_str()) {
                let path = if self.prefix.is_empty() {
                    key.clone()
                } else {
                    format!("{}.{key}", self.prefix)
                };
                sink.push(FieldError::new(
                    path,
                    ErrorCode::UnsupportedKey,
                    format!("`{key}` is not a supported key"),
                ));
            }
        }
    }

    /// A string field of at most `max_chars` characters.
    pub fn string(
        &mut self,
        name: &'static str,
        max_chars: usize,
        sink: &mut ErrorSink,
    ) -> Field<String> {
        match self.raw(name) {
            None => Field::Absent,
            Some(value) => {
                parse_string(value, &self.path(name), max_chars, sink).map_or(Field::Absent, |f| f)
            }
        }
    }

    /// A boolean field; `"true"`/`"false"` strings are accepted.
    pub fn boolean(&mut self, name: &'static str, sink: &mut ErrorSink) -> Field<bool> {
        match self.raw(name) {
            None => Field::Absent,
            Some(value) => parse_bool(value, &self.path(name), sink).map_or(Field::Absent, |f| f),
        }
    }

    /// An integer field within `range`; digit strings are accepted.
    pub fn integer(
        &mut self,
        name: &'static str,
        range: std::ops::RangeInclusive<i64>,
        sink: &mut ErrorSink,
    ) -> Field<i64> {
        match self.raw(name) {
            None => Field::Absent,
            Some(value) => {
                parse_integer(value, &self.path(name), range, sink).map_or(Field::Absent, |f| f)
            }
        }
    }

    /// A non-negative decimal kept exactly as its canonical text, optionally bounded above.
    pub fn decimal(
        &mut self,
        name: &'static str,
        max: Option<f64>,
        sink: &mut ErrorSink,
    ) -> Field<String> {
        match self.raw(name) {
            None => Field::Absent,
            Some(value) => {
                parse_decimal(value, &self.path(name), max, sink).map_or(Field::Absent, |f| f)
            }
        }
    }
}

/// Reports a wrong JSON type for `path`.
pub fn wrong_type(path: &str, expected: &str) -> FieldError {
    FieldError::new(
        path,
        ErrorCode::InvalidValueType,
        format!("`{path}` must be {expected}"),
    )
}

/// `None` when the value was wrong (already reported).
pub fn parse_string(
    value: &Value,
    path: &str,
    max_chars: usize,
    sink: &mut ErrorSink,
) -> Option<Field<String>> {
    match value {
        Value::Null => Some(Field::Clear),
        Value::String(text) => {
            if text.chars().count() > max_chars {
                sink.push(FieldError::new(
                    path,
                    ErrorCode::ExceededValueLengthLimit,
                    format!("`{path}` is longer than {max_chars} characters"),
                ));
                return None;
            }
            Some(Field::Set(text.clone()))
        }
        _ => {
            sink.push(wrong_type(path, "a string"));
            None
        }
    }
}

pub fn parse_bool(value: &Value, path: &str, sink: &mut ErrorSink) -> Option<Field<bool>> {
    match value {
        Value::Null => Some(Field::Clear),
        Value::Bool(flag) => Some(Field::Set(*flag)),
        Value::String(text) if text.trim().eq_ignore_ascii_case("true") => Some(Field::Set(true)),
        Value::String(text) if text.trim().eq_ignore_ascii_case("false") => Some(Field::Set(false)),
        _ => {
            sink.push(wrong_type(path, "a boolean (true or false)"));
            None
        }
    }
}

/// Reads an integer from a JSON number or a string of digits.
pub fn integer_of(value: &Value) -> Option<i64> {
    match value {
        Value::Number(number) => number.as_i64().or_else(|| {
            let float = number.as_f64()?;
            (float.fract() == 0.0 && float.abs() < 9.0e15).then_some(float as i64)
        }),
        Value::String(text) => text.trim().parse::<i64>().ok(),
        _ => None,
    }
}

pub fn parse_integer(
    value: &Value,
    path: &str,
    range: std::ops::RangeInclusive<i64>,
    sink: &mut ErrorSink,
) -> Option<Field<i64>> {
    if value.is_null() {
        return Some(Field::Clear);
    }
    let Some(number) = integer_of(value) else {
        sink.push(wrong_type(path, "an integer"));
        return None;
    };
    if !range.contains(&number) {
        sink.push(FieldError::new(
            path,
            ErrorCode::InvalidValue,
            format!(
                "`{path}` must be between {} and {}",
                range.start(),
                range.end()
            ),
        ));
        return None;
    }
    Some(Field::Set(number))
}

pub fn parse_decimal(
    value: &Value,
    path: &str,
    max: Option<f64>,
    sink: &mut ErrorSink,
) -> Option<Field<String>> {
    let text = match value {
        Value::Null => return Some(Field::Clear),
        Value::Number(number) => number.to_string(),
        Value::String(text) => text.trim().to_owned(),
        _ => {
            sink.push(wrong_type(path, "a number"));
            return None;
        }
    };
    let well_formed = text.len() <= MAX_DECIMAL_CHARS && is_plain_decimal(&text);
    let Some(float) = well_formed.then(|| text.parse::<f64>().ok()).flatten() else {
        sink.push(FieldError::new(
            path,
            ErrorCode::InvalidValue,
            format!("`{path}` must be a decimal number"),
        ));
        return None;
    };
    if float < 0.0 || max.is_some_and(|max| float > max) {
        let range = max.map_or_else(
            || "at least 0".to_owned(),
            |max| format!("between 0 and {max}"),
        );
        sink.push(FieldError::new(
            path,
            ErrorCode::InvalidValue,
            format!("`{path}` must be {range}"),
        ));
        return None;
    }
    Some(Field::Set(text))
}

/// Digits with an optional sign, fraction and a small exponent: what PostgreSQL `numeric` takes.
fn is_plain_decimal(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
    let digits_ok = !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
        && !(mantissa.ends_with('.'));
    let exponent_ok = exponent.is_none_or(|exp| {
        let digits = exp.strip_prefix(['+', '-']).unwrap_or(exp);
        !digits.is_empty() && digits.len() <= 2 && digits.bytes().all(|b| b.is_ascii_digit())
    });
    digits_ok && exponent_ok
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn errors_of(run: impl FnOnce(&mut ErrorSink)) -> Vec<FieldError> {
        let mut sink = ErrorSink::default();
        run(&mut sink);
        sink.into_errors()
    }

    #[test]
    fn numbers_and_booleans_may_arrive_as_strings() {
        let mut sink = ErrorSink::default();
        assert_eq!(
            parse_integer(&json!("30"), "age", 1..=149, &mut sink),
            Some(Field::Set(30))
        );
        assert_eq!(
            parse_integer(&json!(30.0), "age", 1..=149, &mut sink),
            Some(Field::Set(30))
        );
        assert_eq!(
            parse_bool(&json!("TRUE"), "flag", &mut sink),
            Some(Field::Set(true))
        );
        assert_eq!(
            parse_decimal(&json!("12.50"), "ltv", None, &mut sink),
            Some(Field::Set("12.50".into()))
        );
        assert!(sink.is_empty());
    }

    #[test]
    fn decimals_keep_their_exact_text() {
        let value: Value = serde_json::from_str("12345678901234567.89").unwrap();
        let mut sink = ErrorSink::default();
        assert_eq!(
            parse_decimal(&value, "ltv", None, &mut sink),
            Some(Field::Set("12345678901234567.89".into()))
        );
    }

    #[test]
    fn wrong_values_are_reported_with_their_path_and_code() {
        let errors = errors_of(|sink| {
            parse_integer(&json!("old"), "age", 1..=149, sink);
            parse_integer(&json!(150), "age", 1..=149, sink);
            parse_decimal(&json!("-3"), "lifetime_value", None, sink);
            parse_decimal(&json!("1e999"), "lifetime_value", None, sink);
            parse_string(&json!("x".repeat(6)), "last_city", 5, sink);
            parse_bool(&json!("yes"), "accepted_t_and_c", sink);
        });
        let codes: Vec<_> = errors.iter().map(|e| (e.field.as_str(), e.code)).collect();
        assert_eq!(
            codes,
            vec![
                ("age", ErrorCode::InvalidValueType),
                ("age", ErrorCode::InvalidValue),
                ("lifetime_value", ErrorCode::InvalidValue),
                ("lifetime_value", ErrorCode::InvalidValue),
                ("last_city", ErrorCode::ExceededValueLengthLimit),
                ("accepted_t_and_c", ErrorCode::InvalidValueType),
            ]
        );
    }

    #[test]
    fn unknown_keys_are_reported_once_each() {
        let object = json!({"known": "a", "extra": 1});
        let object = object.as_object().unwrap();
        let errors = errors_of(|sink| {
            let mut parser = ObjectParser::new(object, "names");
            parser.string("known", 10, sink);
            parser.finish(sink);
        });
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].field, "names.extra");
        assert_eq!(errors[0].code, ErrorCode::UnsupportedKey);
    }

    #[test]
    fn the_error_list_of_one_record_is_capped() {
        let errors = errors_of(|sink| {
            for _ in 0..1000 {
                sink.push(FieldError::new("x", ErrorCode::InvalidValue, "bad"));
            }
        });
        assert_eq!(errors.len(), MAX_ERRORS_PER_RECORD);
        assert!(errors.last().unwrap().message.contains("more errors"));
    }
}

/// The path of the first string (key or value) holding a NUL character, which PostgreSQL
/// cannot store.
pub fn find_nul_character(value: &Value, path: &str) -> Option<String> {
    let join = |key: &str| {
        if path.is_empty() {
            key.to_owned()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::String(text) => text.contains('\0').then(|| path.to_owned()),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .find_map(|(position, item)| find_nul_character(item, &format!("{path}[{position}]"))),
        Value::Object(object) => object.iter().find_map(|(key, item)| {
            if key.contains('\0') {
                Some(join(&key.replace('\0', "\\u0000")))
            } else {
                find_nul_character(item, &join(key))
            }
        }),
        _ => None,
    }
}

/// Whether any key or string of `value` holds a NUL character (no allocation).
fn contains_nul(value: &Value) -> bool {
    match value {
        Value::String(text) => text.contains('\0'),
        Value::Array(items) => items.iter().any(contains_nul),
        Value::Object(object) => object
            .iter()
            .any(|(key, item)| key.contains('\0') || contains_nul(item)),
        _ => false,
    }
}

/// A record-level error if any string of the record holds a NUL character.
pub fn reject_nul_characters(record: &Value) -> Result<(), Vec<FieldError>> {
    if !contains_nul(record) {
        return Ok(());
    }
    match find_nul_character(record, "") {
        None => Ok(()),
        Some(path) => Err(vec![FieldError::new(
            path,
            ErrorCode::InvalidValue,
            "NUL characters (\\u0000) are not allowed in strings",
        )]),
    }
}

#[cfg(test)]
mod nul_tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn nul_characters_are_found_with_their_path() {
        let record = json!({"names": {"first_name": "a\u{0}b"}, "tags": ["ok"]});
        assert_eq!(
            find_nul_character(&record, "").as_deref(),
            Some("names.first_name")
        );
        assert_eq!(
            find_nul_character(&json!({"tags": ["x", "\u{0}"]}), "").as_deref(),
            Some("tags[1]")
        );
        assert!(reject_nul_characters(&json!({"a": "fine"})).is_ok());
    }
}
