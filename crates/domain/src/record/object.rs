//! Walking the keys of a record object: unknown keys are `UNSUPPORTED_KEY`, a key given twice
//! is `DUPLICATE_KEY` (both skipped without being read), and each known key's value is handed
//! to the caller, who reads it into its typed field.

use super::maps::duplicate_key;
use super::read::{Scalar, Text, WithScalar, is_number_token};
use super::sink::{ErrorSink, shown_key};
use crate::field::Field;
use crate::record_error::ErrorCode;
use serde::de::{IgnoredAny, MapAccess};

/// Walks the entries of `map`; `take(key, map)` reads the value of each known key (at most 32).
/// Returns `false` when the "object" was really a number (reported as a wrong type).
pub fn walk_object<'de, A: MapAccess<'de>>(
    map: &mut A,
    known: &[&str],
    sink: &mut ErrorSink,
    mut take: impl FnMut(&str, &mut A, &mut ErrorSink) -> Result<(), A::Error>,
) -> Result<bool, A::Error> {
    let mut seen = 0u32;
    let mut first = true;
    while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
        if first && is_number_token(&key) {
            map.next_value::<IgnoredAny>()?;
            sink.wrong_type("", "a JSON object", "a number");
            return Ok(false);
        }
        first = false;
        let Some(slot) = known.iter().position(|name| *name == key) else {
            let shown = shown_key(&key);
            sink.report(
                &shown,
                ErrorCode::UnsupportedKey,
                format!("`{shown}` is not a supported key"),
            );
            map.next_value::<IgnoredAny>()?;
            continue;
        };
        if seen & (1 << slot) != 0 {
            duplicate_key(&key, sink);
            map.next_value::<IgnoredAny>()?;
            continue;
        }
        seen |= 1 << slot;
        take(&key, map, sink)?;
    }
    Ok(true)
}

/// Reads a scalar field's value with `reader` (which reports problems and answers `None`).
pub fn scalar_field<'de, A: MapAccess<'de>, T>(
    map: &mut A,
    reader: impl FnOnce(Scalar<'de>) -> Option<Field<T>>,
) -> Result<Field<T>, A::Error> {
    Ok(map
        .next_value_seed(WithScalar(reader))?
        .unwrap_or(Field::Absent))
}
