//! Checks a structured (array or object) custom value before it is stored as its JSON text:
//! every number within what JSON readers hold, no NUL characters, no key twice in one object.

use crate::record::read::{Text, is_number_token};
use crate::record::sink::{ErrorSink, FieldPath, shown_key};
use crate::record_error::ErrorCode;
use crate::values::number::check_number;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::collections::HashSet;
use std::fmt;

/// Walks `text` (a well-formed JSON array or object) and reports every problem under `path`.
pub fn check_structured(text: &str, path: FieldPath<'_>, sink: &mut ErrorSink) {
    let seed = Check { path, sink };
    let mut deserializer = serde_json::Deserializer::from_str(text);
    if let Err(error) = seed.deserialize(&mut deserializer) {
        sink.report(path, ErrorCode::InvalidJson, error.to_string());
    }
}

struct Check<'p, 's> {
    path: FieldPath<'p>,
    sink: &'s mut ErrorSink,
}

fn report_nul(path: FieldPath<'_>, sink: &mut ErrorSink) {
    sink.report(
        path,
        ErrorCode::InvalidValue,
        "NUL characters (\\u0000) are not allowed in strings",
    );
}

fn report_number(text: &str, path: FieldPath<'_>, sink: &mut ErrorSink) {
    if let Err(problem) = check_number(text) {
        sink.report(
            path,
            ErrorCode::InvalidValue,
            format!(
                "the number {} {problem}",
                crate::record_error::truncate_utf8(text, 80)
            ),
        );
    }
}

impl<'de> DeserializeSeed<'de> for Check<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Check<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        if v.contains('\0') {
            report_nul(self.path, self.sink);
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let mut position = 0;
        loop {
            let seed = Check {
                path: FieldPath::Element(&self.path, position),
                sink: &mut *self.sink,
            };
            if seq.next_element_seed(seed)?.is_none() {
                return Ok(());
            }
            position += 1;
        }
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen: HashSet<String> = HashSet::new();
        let mut first = true;
        while let Some(Text(key)) = map.next_key::<Text<'de>>()? {
            if first && is_number_token(&key) {
                let Text(number) = map.next_value::<Text<'de>>()?;
                report_number(&number, self.path, self.sink);
                return Ok(());
            }
            first = false;
            let path = FieldPath::Key(&self.path, &key);
            if key.contains('\0') {
                report_nul(path, self.sink);
            }
            if !seen.insert(key.clone().into_owned()) {
                self.sink.report(
                    path,
                    ErrorCode::DuplicateKey,
                    format!("the key `{}` appears twice in one object", shown_key(&key)),
                );
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            map.next_value_seed(Check {
                path,
                sink: &mut *self.sink,
            })?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(text: &str) -> Vec<(String, ErrorCode)> {
        let mut sink = ErrorSink::default();
        check_structured(text, "custom_fields.o".into(), &mut sink);
        sink.into_errors()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect()
    }

    #[test]
    fn nulls_and_ordinary_values_are_fine() {
        assert!(problems(r#"{"x":null,"y":[1,-0.0,1e308,{"k":null}],"s":"é"}"#).is_empty());
    }

    #[test]
    fn numbers_out_of_range_nul_and_repeated_keys_are_found_with_their_path() {
        assert_eq!(
            problems(r#"{"n":{"deep":1e-100000},"l":[1,"a\u0000"],"d":1,"d":2}"#),
            vec![
                ("custom_fields.o.n.deep".to_owned(), ErrorCode::InvalidValue),
                ("custom_fields.o.l[1]".to_owned(), ErrorCode::InvalidValue),
                ("custom_fields.o.d".to_owned(), ErrorCode::DuplicateKey),
            ]
        );
    }
}
