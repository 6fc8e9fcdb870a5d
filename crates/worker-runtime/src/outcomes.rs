//! Per-record outcomes of a chunk as deflated NDJSON lines, each starting with `{"index":N`,
//! which the status service merges into the results and errors files.

use flate2::Compression;
use flate2::write::DeflateEncoder;
use serde::Serialize;
use serde_json::Value;
use std::io::Write;
use userhub_domain::FieldError;

/// Collects a chunk's results and errors in index order.
pub struct OutcomeWriter {
    results: DeflateEncoder<Vec<u8>>,
    errors: DeflateEncoder<Vec<u8>>,
    succeeded: i32,
    failed: i32,
    line_buffer: Vec<u8>,
}

/// The finished blobs and counts of a chunk.
#[derive(Debug)]
pub struct ChunkOutcomes {
    pub results: Option<Vec<u8>>,
    pub errors: Option<Vec<u8>>,
    pub succeeded: i32,
    pub failed: i32,
}

impl Default for OutcomeWriter {
    fn default() -> Self {
        OutcomeWriter {
            results: DeflateEncoder::new(Vec::new(), Compression::fast()),
            errors: DeflateEncoder::new(Vec::new(), Compression::fast()),
            succeeded: 0,
            failed: 0,
            line_buffer: Vec::new(),
        }
    }
}

/// Writes `{"index":N[,"line":L]` followed by the members of the JSON object `rest` and a
/// newline.
fn write_line(
    buffer: &mut Vec<u8>,
    index: u32,
    line: Option<u32>,
    rest: &impl Serialize,
) -> std::io::Result<()> {
    buffer.clear();
    write!(buffer, "{{\"index\":{index}")?;
    if let Some(line) = line {
        write!(buffer, ",\"line\":{line}")?;
    }
    let start = buffer.len();
    serde_json::to_writer(&mut *buffer, rest)?;
    // `rest` is an object: its opening brace becomes the separator (or vanishes when empty).
    let members = buffer.get(start + 1..).unwrap_or_default();
    let members_empty = members
        .iter()
        .all(|b| b.is_ascii_whitespace() || *b == b'}');
    if buffer.get(start) != Some(&b'{') {
        return Err(std::io::Error::other("a result must be a JSON object"));
    }
    if members_empty {
        buffer.truncate(start);
        buffer.push(b'}');
    } else {
        buffer[start] = b',';
    }
    buffer.push(b'\n');
    Ok(())
}

impl OutcomeWriter {
    /// Adds a succeeded record: `fields` must serialise as a JSON object.
    pub fn add_result(
        &mut self,
        index: u32,
        line: Option<u32>,
        fields: &impl Serialize,
    ) -> std::io::Result<()> {
        write_line(&mut self.line_buffer, index, line, fields)?;
        self.results.write_all(&self.line_buffer)?;
        self.succeeded += 1;
        Ok(())
    }

    pub fn add_error(
        &mut self,
        index: u32,
        line: Option<u32>,
        input: &Value,
        errors: &[FieldError],
    ) -> std::io::Result<()> {
        let buffer = &mut self.line_buffer;
        buffer.clear();
        write!(buffer, "{{\"index\":{index}")?;
        if let Some(line) = line {
            write!(buffer, ",\"line\":{line}")?;
        }
        buffer.extend_from_slice(b",\"input\":");
        serde_json::to_writer(&mut *buffer, input)?;
        buffer.extend_from_slice(b",\"errors\":");
        serde_json::to_writer(&mut *buffer, errors)?;
        buffer.extend_from_slice(b"}\n");
        self.errors.write_all(buffer)?;
        self.failed += 1;
        Ok(())
    }

    pub fn finish(self) -> std::io::Result<ChunkOutcomes> {
        let results = self.results.finish()?;
        let errors = self.errors.finish()?;
        Ok(ChunkOutcomes {
            results: (self.succeeded > 0).then_some(results),
            errors: (self.failed > 0).then_some(errors),
            succeeded: self.succeeded,
            failed: self.failed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::DeflateDecoder;
    use serde_json::json;
    use std::io::Read;
    use userhub_domain::ErrorCode;

    fn inflate(data: &[u8]) -> String {
        let mut text = String::new();
        DeflateDecoder::new(data).read_to_string(&mut text).unwrap();
        text
    }

    #[test]
    fn lines_start_with_the_index_and_parse_as_json() {
        let mut writer = OutcomeWriter::default();
        writer
            .add_result(0, Some(1), &json!({"core-profile-id": 7}))
            .unwrap();
        writer.add_result(2, None, &json!({})).unwrap();
        let errors = [FieldError::new("age", ErrorCode::InvalidValue, "bad")];
        writer
            .add_error(1, Some(2), &json!({"age": 500}), &errors)
            .unwrap();
        let outcomes = writer.finish().unwrap();
        assert_eq!((outcomes.succeeded, outcomes.failed), (2, 1));
        let results = inflate(&outcomes.results.unwrap());
        assert_eq!(
            results,
            "{\"index\":0,\"line\":1,\"core-profile-id\":7}\n{\"index\":2}\n"
        );
        let errors = inflate(&outcomes.errors.unwrap());
        assert!(
            errors.starts_with("{\"index\":1,\"line\":2,\"input\":{\"age\":500},\"errors\":[{")
        );
        let parsed: Value = serde_json::from_str(errors.trim_end()).unwrap();
        assert_eq!(parsed["errors"][0]["code"], "INVALID_VALUE");
    }

    #[test]
    fn raw_json_results_are_spliced_after_the_index() {
        let mut writer = OutcomeWriter::default();
        let raw = serde_json::value::RawValue::from_string(
            "{\"core-profile-id\": 9, \"tags\": [\"a\"]}".to_owned(),
        )
        .unwrap();
        writer.add_result(4, None, &raw).unwrap();
        let results = inflate(&writer.finish().unwrap().results.unwrap());
        assert_eq!(
            results,
            "{\"index\":4,\"core-profile-id\": 9, \"tags\": [\"a\"]}\n"
        );
        assert!(
            OutcomeWriter::default()
                .add_result(0, None, &json!([1]))
                .is_err()
        );
    }

    #[test]
    fn empty_kinds_have_no_blob() {
        let outcomes = OutcomeWriter::default().finish().unwrap();
        assert!(outcomes.results.is_none() && outcomes.errors.is_none());
    }
}
