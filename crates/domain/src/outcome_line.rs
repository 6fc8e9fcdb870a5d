//! One line of a task's results or errors file, `{"index":N[,"line":L],...}`: written here for
//! the worker runtime, found again here by the status service and the synchronous answers.

use crate::FieldError;
use serde::{Deserialize, Serialize};
use std::io::Write;

/// A line of outcomes: the record's input index and the line's JSON text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OutcomeLine<'a> {
    index: u64,
    text: &'a str,
}

/// Why a line could not be written.
#[derive(Debug, thiserror::Error)]
pub enum OutcomeLineError {
    #[error("a result must serialise as a JSON object")]
    NotAnObject,
    #[error("an outcome could not be serialised: {0}")]
    Serialise(#[from] serde_json::Error),
}

impl<'a> OutcomeLine<'a> {
    /// Reads the index at the start of a line; `None` if the text is not an outcome line.
    pub fn parse(text: &'a str) -> Option<OutcomeLine<'a>> {
        let digits = text.strip_prefix("{\"index\":")?;
        let end = digits
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(digits.len());
        let index = digits[..end].parse().ok()?;
        Some(OutcomeLine { index, text })
    }

    pub fn index(&self) -> u64 {
        self.index
    }

    /// The line's JSON object.
    pub fn text(&self) -> &'a str {
        self.text
    }
}

/// The members of a results line that answers show by name (the rest stays in the line's text).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ResultMembers {
    #[serde(rename = "core-profile-id")]
    pub core_profile_id: Option<i64>,
    /// An upsert's `created` or `updated`.
    pub result: Option<String>,
}

/// The members of an errors line that answers show by name.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct ErrorMembers {
    #[serde(default)]
    pub errors: Vec<FieldError>,
}

impl OutcomeLine<'_> {
    /// Reads the named members `M` of the line (members it does not name are skipped).
    pub fn members<M: serde::de::DeserializeOwned>(&self) -> Result<M, serde_json::Error> {
        serde_json::from_str(self.text)
    }
}

fn write_head(buffer: &mut Vec<u8>, index: u32, line: Option<u32>) {
    // Writing into a Vec cannot fail.
    let _ = write!(buffer, "{{\"index\":{index}");
    if let Some(line) = line {
        let _ = write!(buffer, ",\"line\":{line}");
    }
}

/// Appends a succeeded record's line (no line break): the index, the line, then the members of
/// `fields`, which must serialise as a JSON object. On error `buffer` is left as it was.
pub fn write_result(
    buffer: &mut Vec<u8>,
    index: u32,
    line: Option<u32>,
    fields: &impl Serialize,
) -> Result<(), OutcomeLineError> {
    let origin = buffer.len();
    write_head(buffer, index, line);
    let start = buffer.len();
    if let Err(error) = serde_json::to_writer(&mut *buffer, fields) {
        buffer.truncate(origin);
        return Err(error.into());
    }
    if buffer.get(start) != Some(&b'{') {
        buffer.truncate(origin);
        return Err(OutcomeLineError::NotAnObject);
    }
    // The object's opening brace becomes the separator, or vanishes with an empty object.
    let members_empty = buffer[start + 1..]
        .iter()
        .all(|b| b.is_ascii_whitespace() || *b == b'}');
    if members_empty {
        buffer.truncate(start);
        buffer.push(b'}');
    } else {
        buffer[start] = b',';
    }
    Ok(())
}

/// Appends a failed record's line (no line break): the index, the line, the input as the
/// caller sent it and the record's errors.
pub fn write_error(
    buffer: &mut Vec<u8>,
    index: u32,
    line: Option<u32>,
    input: &impl Serialize,
    errors: &[FieldError],
) -> Result<(), OutcomeLineError> {
    let origin = buffer.len();
    write_head(buffer, index, line);
    buffer.extend_from_slice(b",\"input\":");
    let written = serde_json::to_writer(&mut *buffer, input).and_then(|()| {
        buffer.extend_from_slice(b",\"errors\":");
        serde_json::to_writer(&mut *buffer, errors)
    });
    if let Err(error) = written {
        buffer.truncate(origin);
        return Err(error.into());
    }
    buffer.push(b'}');
    Ok(())
}

/// The lines of a stored outcome text in either layout: one per line, or joined by `,\n` (the
/// layout that a JSON array entry can take as it is). JSON text never holds a raw line break,
/// so every `\n` ends a line.
pub fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut from = 0;
    std::iter::from_fn(move || {
        let (line, next) = next_line(text, from)?;
        from = next;
        Some(&text[line])
    })
}

/// The first non-empty line of `text` at or after byte `from`, without its `\n` or `,\n`, and
/// where the search for the next one starts (for readers that keep offsets, not slices).
pub fn next_line(text: &str, mut from: usize) -> Option<(std::ops::Range<usize>, usize)> {
    while let Some(rest) = text.get(from..).filter(|rest| !rest.is_empty()) {
        let length = rest.find('\n').unwrap_or(rest.len());
        let start = from;
        from += (length + 1).min(rest.len());
        let line = &rest[..length];
        let line = line.strip_suffix(',').unwrap_or(line);
        if !line.is_empty() {
            return Some((start..start + line.len(), from));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorCode;
    use serde_json::{Value, json};

    #[test]
    fn results_put_the_index_and_line_first() {
        let mut buffer = Vec::new();
        write_result(&mut buffer, 0, Some(1), &json!({"core-profile-id": 7})).unwrap();
        buffer.push(b'\n');
        write_result(&mut buffer, 2, None, &json!({})).unwrap();
        assert_eq!(
            String::from_utf8(buffer).unwrap(),
            "{\"index\":0,\"line\":1,\"core-profile-id\":7}\n{\"index\":2}"
        );
    }

    #[test]
    fn a_result_that_is_not_an_object_writes_nothing() {
        let mut buffer = b"kept".to_vec();
        assert!(matches!(
            write_result(&mut buffer, 0, None, &json!([1])),
            Err(OutcomeLineError::NotAnObject)
        ));
        assert_eq!(buffer, b"kept");
    }

    #[test]
    fn errors_echo_the_input_and_parse_back() {
        let mut buffer = Vec::new();
        let errors = [FieldError::new("age", ErrorCode::InvalidValue, "bad")];
        write_error(&mut buffer, 1, Some(2), &json!({"age": 500}), &errors).unwrap();
        let text = String::from_utf8(buffer).unwrap();
        assert!(text.starts_with("{\"index\":1,\"line\":2,\"input\":{\"age\":500},\"errors\":[{"));
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(parsed["errors"][0]["code"], "INVALID_VALUE");
        assert_eq!(OutcomeLine::parse(&text).map(|line| line.index()), Some(1));
    }

    #[test]
    fn readers_take_the_members_they_name() {
        let mut buffer = Vec::new();
        let fields = json!({"core-profile-id": 7, "result": "updated", "tags": ["a"]});
        write_result(&mut buffer, 3, Some(4), &fields).unwrap();
        let text = String::from_utf8(buffer).unwrap();
        let line = OutcomeLine::parse(&text).unwrap();
        let members: ResultMembers = line.members().unwrap();
        assert_eq!(members.core_profile_id, Some(7));
        assert_eq!(members.result.as_deref(), Some("updated"));

        let mut buffer = Vec::new();
        let errors = [FieldError::new("age", ErrorCode::InvalidValue, "bad")];
        write_error(&mut buffer, 1, None, &json!({"age": 500}), &errors).unwrap();
        let text = String::from_utf8(buffer).unwrap();
        let members: ErrorMembers = OutcomeLine::parse(&text).unwrap().members().unwrap();
        assert_eq!(members.errors, errors);
    }

    #[test]
    fn both_layouts_split_into_the_same_lines() {
        let old = "{\"index\":0}\n{\"index\":1,\"x\":\"a,\"}\n";
        let joined = "{\"index\":0},\n{\"index\":1,\"x\":\"a,\"}";
        let expected = vec!["{\"index\":0}", "{\"index\":1,\"x\":\"a,\"}"];
        assert_eq!(lines(old).collect::<Vec<_>>(), expected);
        assert_eq!(lines(joined).collect::<Vec<_>>(), expected);
        assert_eq!(
            OutcomeLine::parse("{\"index\":42,\"line\":43}")
                .unwrap()
                .index(),
            42
        );
        assert_eq!(OutcomeLine::parse("{\"line\":1}"), None);
    }
}
