//! A failed record's `input` as the errors file echoes it: the record's JSON text exactly as
//! sent — same numbers, escapes, key order and repeated keys — with the whitespace between
//! tokens removed so that it stays on its line; a record that is not JSON or is over
//! [`MAX_ECHOED_INPUT_BYTES`], as a JSON string of its first bytes. Compacting is kept by hand
//! (a few lines over bytes): serde_json compacts only by building a value tree, which would
//! normalise what the caller sent and cost a parse per failed record.

use crate::limits::MAX_ECHOED_INPUT_BYTES;
use crate::record_error::truncate_utf8;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;

/// What the errors file shows as a record's `input`.
#[derive(Debug, Clone)]
pub enum EchoedInput {
    /// The record's JSON, compacted.
    Json(Box<RawValue>),
    /// The start of a record that is not JSON, or too large to echo whole.
    Text(String),
    /// No record text at all.
    Null,
}

impl EchoedInput {
    /// The echo of a record: its compact JSON (the form the errors file shows) when that fits
    /// in [`MAX_ECHOED_INPUT_BYTES`], else that form's text cut there.
    pub fn of(input: Option<&RawValue>, raw: Option<&str>) -> EchoedInput {
        match (input, raw) {
            (Some(input), _) => match compact(input.get()) {
                Some(compacted) if compacted.len() <= MAX_ECHOED_INPUT_BYTES => {
                    match RawValue::from_string(compacted) {
                        Ok(json) => EchoedInput::Json(json),
                        Err(_) => EchoedInput::cut(input.get()),
                    }
                }
                Some(compacted) => EchoedInput::cut(&compacted),
                None => EchoedInput::cut(input.get()),
            },
            (None, Some(raw)) => EchoedInput::cut(raw),
            (None, None) => EchoedInput::Null,
        }
    }

    /// `text` as text, cut at [`MAX_ECHOED_INPUT_BYTES`].
    fn cut(text: &str) -> EchoedInput {
        EchoedInput::Text(truncate_utf8(text, MAX_ECHOED_INPUT_BYTES).to_owned())
    }
}

impl PartialEq for EchoedInput {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (EchoedInput::Json(left), EchoedInput::Json(right)) => left.get() == right.get(),
            (EchoedInput::Text(left), EchoedInput::Text(right)) => left == right,
            (EchoedInput::Null, EchoedInput::Null) => true,
            _ => false,
        }
    }
}

impl Serialize for EchoedInput {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            EchoedInput::Json(json) => json.serialize(serializer),
            EchoedInput::Text(text) => serializer.serialize_str(text),
            EchoedInput::Null => serializer.serialize_unit(),
        }
    }
}

/// `json` without the whitespace between its tokens (whitespace inside strings is kept);
/// `None` if a string holds a lone surrogate escape (`\ud800` without its pair), which strict
/// JSON readers refuse.
pub fn compact(json: &str) -> Option<String> {
    let bytes = json.as_bytes();
    let mut out = String::with_capacity(json.len());
    let mut at = 0;
    let mut in_string = false;
    while at < bytes.len() {
        let byte = bytes[at];
        if !in_string {
            if !matches!(byte, b' ' | b'\t' | b'\n' | b'\r') {
                in_string = byte == b'"';
                out.push(char::from(byte));
            }
            at += 1;
            continue;
        }
        match byte {
            b'"' => {
                in_string = false;
                out.push('"');
                at += 1;
            }
            b'\\' if bytes.get(at + 1) == Some(&b'u') => {
                let unit = hex_unit(bytes, at)?;
                let width = if (0xD800..0xDC00).contains(&unit) {
                    // A high surrogate must be followed by its low half.
                    let low = hex_unit(bytes, at + 6).filter(|low| (0xDC00..0xE000).contains(low));
                    low.map(|_| 12)?
                } else if (0xDC00..0xE000).contains(&unit) {
                    return None;
                } else {
                    6
                };
                out.push_str(json.get(at..at + width)?);
                at += width;
            }
            b'\\' => {
                out.push_str(json.get(at..at + 2)?);
                at += 2;
            }
            _ => {
                // Copy the whole character (multi-byte UTF-8 included).
                let width = json[at..].chars().next().map_or(1, char::len_utf8);
                out.push_str(&json[at..at + width]);
                at += width;
            }
        }
    }
    Some(out)
}

/// The code unit of a `\uXXXX` escape starting at `at`.
fn hex_unit(bytes: &[u8], at: usize) -> Option<u32> {
    if bytes.get(at) != Some(&b'\\') || bytes.get(at + 1) != Some(&b'u') {
        return None;
    }
    let digits = std::str::from_utf8(bytes.get(at + 2..at + 6)?).ok()?;
    u32::from_str_radix(digits, 16).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn echo(text: &str) -> String {
        let raw = RawValue::from_string(text.to_owned()).unwrap();
        serde_json::to_string(&EchoedInput::of(Some(&raw), None)).unwrap()
    }

    #[test]
    fn the_echo_keeps_what_was_sent_on_one_line() {
        assert_eq!(
            echo("{\n  \"age\" : 1.50e2,\n  \"name\": \"a  b\\n\\\"c\\u0041\",\n  \"age\": 7 }"),
            r#"{"age":1.50e2,"name":"a  b\n\"c\u0041","age":7}"#
        );
        assert_eq!(echo("null"), "null");
        assert_eq!(
            serde_json::to_string(&EchoedInput::of(None, Some("{not json"))).unwrap(),
            r#""{not json""#
        );
        // A lone surrogate is echoed as text, which every JSON reader takes.
        for lone in [
            r#"{"a":"x\ud800"}"#,
            r#"{"a":"\udc00"}"#,
            r#"{"a":"\ud800\u0041"}"#,
        ] {
            let echoed = echo(lone);
            assert!(
                serde_json::from_str::<serde_json::Value>(&echoed).is_ok(),
                "{echoed}"
            );
            assert!(echoed.starts_with('"'), "{echoed}");
        }
        assert_eq!(
            echo(r#"{"a":"\ud83d\ude00 é"}"#),
            r#"{"a":"\ud83d\ude00 é"}"#
        );
    }

    #[test]
    fn big_inputs_are_echoed_as_text_cut_at_the_limit() {
        let big = format!(r#"{{"x":"{}"}}"#, "a".repeat(5000));
        let raw = RawValue::from_string(big).unwrap();
        let EchoedInput::Text(text) = EchoedInput::of(Some(&raw), None) else {
            panic!("a big input is text");
        };
        assert_eq!(text.len(), MAX_ECHOED_INPUT_BYTES);
    }

    #[test]
    fn the_limit_applies_to_the_compact_form_the_file_shows() {
        // Pretty-printed, the text is over the limit; compact, the record fits: it is echoed
        // whole, as JSON.
        let fields: Vec<String> = (0..300)
            .map(|n| format!("\n    \"f{n:03}\" : {n}"))
            .collect();
        let pretty = format!("{{{}\n}}", fields.join(","));
        assert!(pretty.len() > MAX_ECHOED_INPUT_BYTES);
        let raw = RawValue::from_string(pretty.clone()).unwrap();
        let echoed = EchoedInput::of(Some(&raw), None);
        let EchoedInput::Json(json) = &echoed else {
            panic!("a record whose compact form fits is echoed as JSON: {echoed:?}");
        };
        assert_eq!(json.get(), compact(&pretty).unwrap());
        // Over the limit even when compact: the compact text, cut at the limit.
        let big = format!("{{ \"x\" : \"{}\" }}", "a".repeat(5000));
        let raw = RawValue::from_string(big).unwrap();
        let EchoedInput::Text(text) = EchoedInput::of(Some(&raw), None) else {
            panic!("a big input is text");
        };
        assert!(text.starts_with("{\"x\":\"aaa"), "{}", &text[..20]);
        assert_eq!(text.len(), MAX_ECHOED_INPUT_BYTES);
    }

    proptest! {
        /// Whatever JSON (pretty-printed or not), the echo is one line holding the same value.
        #[test]
        fn the_echo_is_the_same_json_on_one_line(value in arbitrary_json()) {
            for text in [serde_json::to_string(&value).unwrap(), serde_json::to_string_pretty(&value).unwrap()] {
                let raw = RawValue::from_string(text).unwrap();
                let echoed = serde_json::to_string(&EchoedInput::of(Some(&raw), None)).unwrap();
                prop_assert!(!echoed.contains('\n'));
                let back: serde_json::Value = serde_json::from_str(&echoed).unwrap();
                prop_assert_eq!(&back, &value);
            }
        }
    }

    fn arbitrary_json() -> impl Strategy<Value = serde_json::Value> {
        let leaf = prop_oneof![
            Just(serde_json::Value::Null),
            any::<bool>().prop_map(serde_json::Value::from),
            any::<i64>().prop_map(serde_json::Value::from),
            "[ a-z\\n\\t\"\\\\{}\\[\\],:]{0,12}".prop_map(serde_json::Value::from),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                prop::collection::btree_map("[a-z \"]{0,6}", inner, 0..4)
                    .prop_map(|map| { serde_json::Value::Object(map.into_iter().collect()) }),
            ]
        })
    }
}
