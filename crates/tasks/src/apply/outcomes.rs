//! Per-record outcomes of a chunk: lines of the one line format (`userhub_domain::outcome_line`)
//! collected into the results and errors blobs that the ledger stores.

use serde::Serialize;
use userhub_domain::FieldError;
use userhub_domain::outcome_line::{self, OutcomeLineError};
use userhub_store::outcome_blob::{EncodedOutcomes, OutcomeBlobWriter};

/// Why a chunk's outcomes could not be encoded.
#[derive(Debug, thiserror::Error)]
pub enum OutcomeError {
    #[error(transparent)]
    Line(#[from] OutcomeLineError),
    #[error("outcomes could not be compressed: {0}")]
    Compress(#[from] std::io::Error),
}

/// Collects a chunk's results and errors in index order.
#[derive(Default)]
pub struct OutcomeWriter {
    results: OutcomeBlobWriter,
    errors: OutcomeBlobWriter,
    succeeded: i32,
    failed: i32,
    line_buffer: Vec<u8>,
}

/// The finished blobs and counts of a chunk.
#[derive(Debug)]
pub struct ChunkOutcomes {
    pub results: Option<EncodedOutcomes>,
    pub errors: Option<EncodedOutcomes>,
    pub succeeded: i32,
    pub failed: i32,
}

impl OutcomeWriter {
    /// Adds a succeeded record: `fields` must serialise as a JSON object.
    pub fn add_result(
        &mut self,
        index: u32,
        line: Option<u32>,
        fields: &impl Serialize,
    ) -> Result<(), OutcomeError> {
        self.line_buffer.clear();
        outcome_line::write_result(&mut self.line_buffer, index, line, fields)?;
        self.results
            .push_line(u64::from(index), &self.line_buffer)?;
        self.succeeded += 1;
        Ok(())
    }

    /// Adds a failed record with the input to echo and its errors.
    pub fn add_error(
        &mut self,
        index: u32,
        line: Option<u32>,
        input: &impl Serialize,
        errors: &[FieldError],
    ) -> Result<(), OutcomeError> {
        self.line_buffer.clear();
        outcome_line::write_error(&mut self.line_buffer, index, line, input, errors)?;
        self.errors.push_line(u64::from(index), &self.line_buffer)?;
        self.failed += 1;
        Ok(())
    }

    pub fn finish(self) -> Result<ChunkOutcomes, OutcomeError> {
        Ok(ChunkOutcomes {
            results: self.results.finish()?,
            errors: self.errors.finish()?,
            succeeded: self.succeeded,
            failed: self.failed,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};
    use userhub_domain::ErrorCode;
    use userhub_store::outcome_blob::inflate_outcomes;

    fn text(encoded: &EncodedOutcomes) -> String {
        inflate_outcomes(&encoded.data, Some(&encoded.frame)).unwrap()
    }

    #[test]
    fn results_and_errors_go_to_their_own_blobs_in_order() {
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
        let results = outcomes.results.unwrap();
        assert_eq!(
            text(&results),
            "{\"index\":0,\"line\":1,\"core-profile-id\":7},\n{\"index\":2}"
        );
        assert_eq!(results.frame.last_index, 2);
        let errors = text(&outcomes.errors.unwrap());
        let parsed: Value = serde_json::from_str(&errors).unwrap();
        assert_eq!(parsed["errors"][0]["code"], "INVALID_VALUE");
        assert_eq!(parsed["input"], json!({"age": 500}));
    }

    #[test]
    fn raw_json_results_are_spliced_after_the_index() {
        let mut writer = OutcomeWriter::default();
        let raw = serde_json::value::RawValue::from_string(
            "{\"core-profile-id\": 9, \"tags\": [\"a\"]}".to_owned(),
        )
        .unwrap();
        writer.add_result(4, None, &raw).unwrap();
        assert_eq!(
            text(&writer.finish().unwrap().results.unwrap()),
            "{\"index\":4,\"core-profile-id\": 9, \"tags\": [\"a\"]}"
        );
        let mut refused = OutcomeWriter::default();
        assert!(refused.add_result(0, None, &json!([1])).is_err());
        assert!(refused.finish().unwrap().results.is_none());
    }

    #[test]
    fn empty_kinds_have_no_blob() {
        let outcomes = OutcomeWriter::default().finish().unwrap();
        assert!(outcomes.results.is_none() && outcomes.errors.is_none());
    }
}
