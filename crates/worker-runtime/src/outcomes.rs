//! Per-record outcomes of a chunk as deflated NDJSON lines, each starting with `{"index":N`,
//! which the status service merges into the results and errors files.

use flate2::Compression;
use flate2::write::DeflateEncoder;
use serde_json::{Map, Value};
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

/// Writes `{"index":N[,"line":L]` followed by the members of `rest` and a newline.
fn write_line(
    buffer: &mut Vec<u8>,
    index: u32,
    line: Option<u32>,
    rest: &Map<String, Value>,
) -> std::io::Result<()> {
    buffer.clear();
    write!(buffer, "{{\"index\":{index}")?;
    if let Some(line) = line {
        write!(buffer, ",\"line\":{line}")?;
    }
    let members = serde_json::to_vec(rest)?;
    if members.len() > 2 {
        buffer.push(b',');
        buffer.extend_from_slice(&members[1..]);
    } else {
        buffer.push(b'}');
    }
    buffer.push(b'\n');
    Ok(())
}

impl OutcomeWriter {
    pub fn add_result(
        &mut self,
        index: u32,
        line: Option<u32>,
        fields: &Map<String, Value>,
    ) -> std::io::Result<()> {
        write_line(&mut self.line_buffer, index, line, fields)?;
        self.results.write_all(&self.line_buffer)?;
        self.succeeded += 1;
        Ok(())
    }

    /// Adds a result whose fields are the members of the JSON object `object`.
    pub fn add_result_json(
        &mut self,
        index: u32,
        line: Option<u32>,
        object: &str,
    ) -> std::io::Result<()> {
        let buffer = &mut self.line_buffer;
        buffer.clear();
        write!(buffer, "{{\"index\":{index}")?;
        if let Some(line) = line {
            write!(buffer, ",\"line\":{line}")?;
        }
        let members = object.trim().strip_prefix('{').unwrap_or("}").trim_start();
        if !members.starts_with('}') {
            buffer.push(b',');
        }
        buffer.extend_from_slice(members.as_bytes());
        buffer.push(b'\n');
        self.results.write_all(buffer)?;
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
        let fields = json!({"core-profile-id": 7}).as_object().unwrap().clone();
        writer.add_result(0, Some(1), &fields).unwrap();
        writer.add_result(2, None, &Map::new()).unwrap();
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
    fn json_results_are_spliced_after_the_index() {
        let mut writer = OutcomeWriter::default();
        writer
            .add_result_json(4, None, "{\"core-profile-id\": 9, \"tags\": [\"a\"]}")
            .unwrap();
        writer.add_result_json(5, Some(6), "{}").unwrap();
        let results = inflate(&writer.finish().unwrap().results.unwrap());
        assert_eq!(
            results,
            "{\"index\":4,\"core-profile-id\": 9, \"tags\": [\"a\"]}\n{\"index\":5,\"line\":6}\n"
        );
    }

    #[test]
    fn empty_kinds_have_no_blob() {
        let outcomes = OutcomeWriter::default().finish().unwrap();
        assert!(outcomes.results.is_none() && outcomes.errors.is_none());
    }
}
