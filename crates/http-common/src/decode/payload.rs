//! Splitting a payload into records: a JSON array, or JSONL read line by line as it streams in
//! (CRLF, a UTF-8 BOM, blank lines and a last line without newline are all fine).

use super::DecodeError;
use super::problems::PayloadProblem;
use serde_json::value::RawValue;
use userhub_domain::limits::MAX_ECHOED_INPUT_BYTES;
use userhub_domain::record::raw::{PayloadFormat, RawRecord, RecordContent};
use userhub_domain::record_error::truncate_utf8;
use userhub_domain::{ErrorCode, FieldError};

const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// The records of a JSON array (a complete document), at most `max_records` of them.
fn array_records(text: &[u8], max_records: usize) -> Result<Vec<RawRecord>, DecodeError> {
    let items =
        super::json_budget::bounded_array::<Box<RawValue>>(text, max_records).map_err(|error| {
            match error {
                super::json_budget::BudgetError::TooMany { max } => {
                    DecodeError::TooManyRecords { limit: max }
                }
                super::json_budget::BudgetError::Json(error) => {
                    PayloadProblem::InvalidArray(error).into()
                }
            }
        })?;
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(index, json)| RawRecord {
            index: index as u32,
            line: None,
            content: RecordContent::Json(json),
        })
        .collect())
}

/// The records of a `payload` that is already whole in memory and must be a JSON array (a
/// leading byte order mark and whitespace allowed): read in place, without the copy a
/// streamed payload needs.
pub fn whole_array(payload: &[u8], max_records: usize) -> Result<Vec<RawRecord>, DecodeError> {
    let text = payload.strip_prefix(UTF8_BOM).unwrap_or(payload);
    match text.iter().find(|byte| !byte.is_ascii_whitespace()) {
        None => Err(PayloadProblem::NoRecords.into()),
        Some(b'[') => {
            let records = array_records(text, max_records)?;
            if records.is_empty() {
                return Err(PayloadProblem::NoRecords.into());
            }
            Ok(records)
        }
        Some(_) => Err(PayloadProblem::NotAnArray.into()),
    }
}

/// Accepts payload bytes as they arrive and yields records.
pub struct PayloadCollector {
    max_records: usize,
    max_line_bytes: usize,
    /// Decided by the first non-blank byte; `None` until then.
    format: Option<PayloadFormat>,
    /// Only a JSON array may appear (url-encoded and JSON bodies).
    array_only: bool,
    pending: Vec<u8>,
    /// The current line exceeded the limit: drop bytes until its end.
    oversized_line: Option<usize>,
    line_no: u32,
    records: Vec<RawRecord>,
    /// Records already handed out by [`PayloadCollector::take_records`].
    taken: usize,
    at_start: bool,
}

fn broken(index: u32, line: u32, raw: &[u8], code: ErrorCode, message: String) -> RawRecord {
    let text = String::from_utf8_lossy(raw);
    RawRecord {
        index,
        line: Some(line),
        content: RecordContent::Broken {
            raw: truncate_utf8(&text, MAX_ECHOED_INPUT_BYTES).to_owned(),
            error: FieldError::new("", code, message),
        },
    }
}

impl PayloadCollector {
    pub fn new(max_records: usize, max_line_bytes: usize, array_only: bool) -> PayloadCollector {
        PayloadCollector {
            max_records,
            max_line_bytes,
            format: None,
            array_only,
            pending: Vec::new(),
            oversized_line: None,
            line_no: 0,
            records: Vec::new(),
            taken: 0,
            at_start: true,
        }
    }

    pub fn push(&mut self, mut bytes: &[u8]) -> Result<(), DecodeError> {
        if self.at_start {
            self.pending.extend_from_slice(bytes);
            if self.pending.len() < UTF8_BOM.len() && UTF8_BOM.starts_with(&self.pending) {
                return Ok(());
            }
            self.at_start = false;
            let start = std::mem::take(&mut self.pending);
            let start = start.strip_prefix(UTF8_BOM).unwrap_or(&start).to_vec();
            return self.push_decided(&start);
        }
        if self.format.is_none() {
            // Still only whitespace so far: keep looking for the first meaningful byte.
            let mut buffered = std::mem::take(&mut self.pending);
            buffered.extend_from_slice(bytes);
            return self.push_decided(&buffered);
        }
        if self.format == Some(PayloadFormat::JsonArray) {
            self.pending.extend_from_slice(bytes);
            return Ok(());
        }
        while let Some(newline) = bytes.iter().position(|b| *b == b'\n') {
            self.take_line_part(&bytes[..newline]);
            self.end_line()?;
            bytes = &bytes[newline + 1..];
        }
        self.take_line_part(bytes);
        Ok(())
    }

    fn push_decided(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        let Some(first) = bytes.iter().find(|b| !b.is_ascii_whitespace()) else {
            self.pending.extend_from_slice(bytes);
            return Ok(());
        };
        let format = if *first == b'[' {
            PayloadFormat::JsonArray
        } else {
            PayloadFormat::JsonLines
        };
        if self.array_only && format != PayloadFormat::JsonArray {
            return Err(PayloadProblem::NotAnArray.into());
        }
        self.format = Some(format);
        self.push(bytes)
    }

    fn take_line_part(&mut self, part: &[u8]) {
        if let Some(dropped) = self.oversized_line.as_mut() {
            *dropped += part.len();
            return;
        }
        if self.pending.len() + part.len() > self.max_line_bytes {
            self.oversized_line = Some(self.pending.len() + part.len());
            self.pending.truncate(MAX_ECHOED_INPUT_BYTES);
            return;
        }
        self.pending.extend_from_slice(part);
    }

    fn end_line(&mut self) -> Result<(), DecodeError> {
        self.line_no += 1;
        let line = std::mem::take(&mut self.pending);
        let index = (self.taken + self.records.len()) as u32;
        if let Some(length) = self.oversized_line.take() {
            let message = format!(
                "line {} is {length} bytes long; at most {} are allowed",
                self.line_no, self.max_line_bytes
            );
            return self.add(broken(
                index,
                self.line_no,
                &line,
                ErrorCode::ExceededValueLengthLimit,
                message,
            ));
        }
        let line = line.strip_suffix(b"\r").unwrap_or(&line);
        if line.iter().all(u8::is_ascii_whitespace) {
            return Ok(());
        }
        let record = match serde_json::from_slice::<Box<RawValue>>(line) {
            Ok(json) => RawRecord {
                index,
                line: Some(self.line_no),
                content: RecordContent::Json(json),
            },
            Err(error) => {
                let message = format!("the line is not valid JSON: {error}");
                broken(index, self.line_no, line, ErrorCode::InvalidJson, message)
            }
        };
        self.add(record)
    }

    fn add(&mut self, record: RawRecord) -> Result<(), DecodeError> {
        if self.taken + self.records.len() >= self.max_records {
            return Err(DecodeError::TooManyRecords {
                limit: self.max_records,
            });
        }
        self.records.push(record);
        Ok(())
    }

    /// JSONL: the records read so far and not yet taken, so that a stream of any length is read
    /// in bounded memory (a JSON array is only split by [`PayloadCollector::finish`]).
    pub fn take_records(&mut self) -> Vec<RawRecord> {
        self.taken += self.records.len();
        std::mem::take(&mut self.records)
    }

    /// Ends the payload; fails if it held no record or was not a well-formed array. The records
    /// are those not taken before.
    pub fn finish(mut self) -> Result<(PayloadFormat, Vec<RawRecord>), DecodeError> {
        match self.format {
            None => {
                return Err(PayloadProblem::NoRecords.into());
            }
            Some(PayloadFormat::JsonLines) => {
                if !self.pending.is_empty() || self.oversized_line.is_some() {
                    self.end_line()?;
                }
            }
            Some(PayloadFormat::JsonArray) => {
                self.records = array_records(&self.pending, self.max_records)?;
            }
            // The collector only ever detects the two JSON layouts.
            Some(PayloadFormat::Table | PayloadFormat::Csv | PayloadFormat::Dialect(_)) => {}
        }
        if self.taken + self.records.len() == 0 {
            return Err(PayloadProblem::NoRecords.into());
        }
        let format = self.format.unwrap_or(PayloadFormat::JsonLines);
        Ok((format, self.records))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(chunks: &[&[u8]]) -> Result<(PayloadFormat, Vec<RawRecord>), DecodeError> {
        let mut collector = PayloadCollector::new(10, 1000, false);
        for chunk in chunks {
            collector.push(chunk)?;
        }
        collector.finish()
    }

    #[test]
    fn jsonl_tolerates_bom_crlf_blank_lines_and_a_missing_last_newline() {
        let (format, records) = collect(&[
            b"\xEF\xBB",
            b"\xBF{\"a\":1}\r\n\r\n  \n{\"b\"",
            b":2}\n{broken\n{\"c\":3}",
        ])
        .unwrap();
        assert_eq!(format, PayloadFormat::JsonLines);
        let summary: Vec<(u32, Option<u32>, bool)> = records
            .iter()
            .map(|r| (r.index, r.line, matches!(r.content, RecordContent::Json(_))))
            .collect();
        assert_eq!(
            summary,
            vec![
                (0, Some(1), true),
                (1, Some(4), true),
                (2, Some(5), false),
                (3, Some(6), true)
            ]
        );
        let RecordContent::Broken { raw, error } = &records[2].content else {
            panic!()
        };
        assert_eq!(raw, "{broken");
        assert_eq!(error.code, ErrorCode::InvalidJson);
    }

    #[test]
    fn a_leading_bracket_means_a_json_array_without_line_numbers() {
        let (format, records) = collect(&[b"  [{\"a\":1},", b" {\"b\":2}]"]).unwrap();
        assert_eq!(format, PayloadFormat::JsonArray);
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].line, None);
    }

    #[test]
    fn an_array_and_its_lines_give_the_same_record_texts() {
        // Idempotency keys compare requests by these texts, whatever the encoding.
        let texts = |chunks: &[&[u8]]| -> Vec<String> {
            let (_, records) = collect(chunks).unwrap();
            records
                .iter()
                .map(|record| match &record.content {
                    RecordContent::Json(json) => json.get().to_owned(),
                    RecordContent::Broken { raw, .. } => raw.clone(),
                })
                .collect()
        };
        assert_eq!(
            texts(&[b"[{\"a\":1}, {\"b\":[2, 3]}]"]),
            texts(&[b"{\"a\":1}\r\n{\"b\":[2, 3]}\n"])
        );
    }

    #[test]
    fn request_level_problems_are_errors() {
        assert!(matches!(
            collect(&[b"   \n \n"]),
            Err(DecodeError::Invalid(_))
        ));
        assert!(matches!(collect(&[b"[]"]), Err(DecodeError::Invalid(_))));
        assert!(matches!(
            collect(&[b"[{\"a\":1}"]),
            Err(DecodeError::Invalid(_))
        ));
        let eleven = "{}\n".repeat(11);
        assert!(matches!(
            collect(&[eleven.as_bytes()]),
            Err(DecodeError::TooManyRecords { limit: 10 })
        ));
        let eleven = format!("[{}{{}}]", "{},".repeat(10));
        assert!(matches!(
            collect(&[eleven.as_bytes()]),
            Err(DecodeError::TooManyRecords { limit: 10 })
        ));
        let mut array_only = PayloadCollector::new(10, 1000, true);
        assert!(array_only.push(b"{\"a\":1}").is_err());
    }

    #[test]
    fn a_whole_array_reads_in_place_with_the_streamed_rules() {
        let records = whole_array(b"\xEF\xBB\xBF \n[{\"a\":1}, {\"b\":2}]", 10).unwrap();
        assert_eq!(records.len(), 2);
        assert_eq!(records[1].index, 1);
        for refused in [&b""[..], b"  ", b"[]", b"{\"a\":1}", b"[{\"a\":1}"] {
            assert!(
                matches!(whole_array(refused, 10), Err(DecodeError::Invalid(_))),
                "{refused:?}"
            );
        }
        let eleven = format!("[{}{{}}]", "{},".repeat(10));
        assert!(matches!(
            whole_array(eleven.as_bytes(), 10),
            Err(DecodeError::TooManyRecords { limit: 10 })
        ));
    }

    #[test]
    fn an_overlong_line_becomes_a_record_error_without_being_buffered() {
        let long = format!("{{\"x\":\"{}\"}}\n{{\"ok\":1}}\n", "y".repeat(5000));
        let (_, records) = collect(&[long.as_bytes()]).unwrap();
        assert_eq!(records.len(), 2);
        let RecordContent::Broken { error, .. } = &records[0].content else {
            panic!()
        };
        assert_eq!(error.code, ErrorCode::ExceededValueLengthLimit);
        assert!(matches!(records[1].content, RecordContent::Json(_)));
    }
}
