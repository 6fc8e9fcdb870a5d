//! A JSON array of records split element by element as its bytes arrive, so that an uploaded
//! array of any length is read in bounded memory (serde_json reads an array only whole). Only
//! the element boundaries are found here — strings, escapes and nesting tracked byte by byte;
//! each element is then parsed by serde_json, and one that is not JSON is that record's error.

use super::DecodeError;
use super::bom::LeadingBom;
use super::problems::PayloadProblem;
use serde_json::value::RawValue;
use userhub_domain::limits::MAX_ECHOED_INPUT_BYTES;
use userhub_domain::record::raw::{RawRecord, RecordContent};
use userhub_domain::record_error::truncate_utf8;
use userhub_domain::{ErrorCode, FieldError};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// Before the opening `[` (a byte order mark and whitespace allowed).
    BeforeArray,
    /// After `[` or a `,`: an element (or, right after `[`, the closing `]`) comes next.
    BeforeElement {
        first: bool,
    },
    InElement,
    /// After the closing `]`: only whitespace may follow.
    Done,
}

/// Accepts the bytes of a JSON array as they arrive and yields one record per element, with the
/// line its element starts on.
pub struct ArraySplitter {
    record_limit: usize,
    max_element_bytes: usize,
    place: Place,
    depth: u32,
    in_string: bool,
    escaped: bool,
    element: Vec<u8>,
    /// The current element outgrew the limit: its length so far (its first bytes are kept).
    oversized: Option<usize>,
    element_line: u32,
    line: u32,
    bom: LeadingBom,
    records: Vec<RawRecord>,
    taken: usize,
}

impl ArraySplitter {
    pub fn new(record_limit: usize, max_element_bytes: usize) -> ArraySplitter {
        ArraySplitter {
            record_limit,
            max_element_bytes,
            place: Place::BeforeArray,
            depth: 0,
            in_string: false,
            escaped: false,
            element: Vec::new(),
            oversized: None,
            element_line: 1,
            line: 1,
            bom: LeadingBom::default(),
            records: Vec::new(),
            taken: 0,
        }
    }

    /// Reads the next bytes of the array.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        match self.bom.strip(bytes) {
            Some(text) => text.iter().try_for_each(|&byte| self.byte(byte)),
            None => Ok(()),
        }
    }

    fn malformed(&self, what: &str) -> DecodeError {
        PayloadProblem::MalformedArray {
            line: self.line,
            what: what.to_owned(),
        }
        .into()
    }

    fn byte(&mut self, byte: u8) -> Result<(), DecodeError> {
        match self.place {
            Place::BeforeArray => match byte {
                b'[' => self.place = Place::BeforeElement { first: true },
                byte if byte.is_ascii_whitespace() => {}
                _ => return Err(PayloadProblem::NotAnArray.into()),
            },
            Place::BeforeElement { first } => match byte {
                byte if byte.is_ascii_whitespace() => {}
                b']' if first => self.place = Place::Done,
                b']' => return Err(self.malformed("a `,` is followed by `]`")),
                _ => {
                    self.place = Place::InElement;
                    self.element_line = self.line;
                    self.element_byte(byte)?;
                }
            },
            Place::InElement => self.element_byte(byte)?,
            Place::Done if byte.is_ascii_whitespace() => {}
            Place::Done => return Err(self.malformed("text follows the closing `]`")),
        }
        if byte == b'\n' {
            self.line = self.line.saturating_add(1);
        }
        Ok(())
    }

    fn element_byte(&mut self, byte: u8) -> Result<(), DecodeError> {
        if self.in_string {
            if self.escaped {
                self.escaped = false;
            } else if byte == b'\\' {
                self.escaped = true;
            } else if byte == b'"' {
                self.in_string = false;
            }
        } else {
            match byte {
                b'"' => self.in_string = true,
                b'{' | b'[' => self.depth += 1,
                b',' if self.depth == 0 => {
                    self.end_element()?;
                    self.place = Place::BeforeElement { first: false };
                    return Ok(());
                }
                b']' if self.depth == 0 => {
                    self.end_element()?;
                    self.place = Place::Done;
                    return Ok(());
                }
                b'}' | b']' => self.depth = self.depth.saturating_sub(1),
                _ => {}
            }
        }
        self.keep(byte);
        Ok(())
    }

    fn keep(&mut self, byte: u8) {
        if let Some(length) = self.oversized.as_mut() {
            *length += 1;
        } else if self.element.len() >= self.max_element_bytes {
            self.oversized = Some(self.element.len() + 1);
            self.element.truncate(MAX_ECHOED_INPUT_BYTES);
        } else {
            self.element.push(byte);
        }
    }

    fn end_element(&mut self) -> Result<(), DecodeError> {
        let index = self.taken + self.records.len();
        if index >= self.record_limit {
            return Err(DecodeError::TooManyRecords {
                limit: self.record_limit,
            });
        }
        let text = std::mem::take(&mut self.element);
        let (depth, in_string) = (self.depth, self.in_string);
        self.depth = 0;
        self.in_string = false;
        self.escaped = false;
        let line = Some(self.element_line);
        let broken = |code: ErrorCode, message: String| {
            let raw = String::from_utf8_lossy(&text);
            RecordContent::Broken {
                raw: truncate_utf8(raw.trim(), MAX_ECHOED_INPUT_BYTES).to_owned(),
                error: FieldError::new("", code, message),
            }
        };
        let content = if let Some(length) = self.oversized.take() {
            let message = format!(
                "the element is {length} bytes long; at most {} are allowed",
                self.max_element_bytes
            );
            broken(ErrorCode::ExceededValueLengthLimit, message)
        } else if depth != 0 || in_string {
            broken(
                ErrorCode::InvalidJson,
                "the element is not valid JSON".to_owned(),
            )
        } else {
            match serde_json::from_slice::<Box<RawValue>>(text.trim_ascii()) {
                Ok(json) => RecordContent::Json(json),
                Err(error) => broken(
                    ErrorCode::InvalidJson,
                    format!("the element is not valid JSON: {error}"),
                ),
            }
        };
        self.records.push(RawRecord {
            index: index as u32,
            line,
            content,
        });
        Ok(())
    }

    /// The records read so far and not yet taken.
    pub fn take_records(&mut self) -> Vec<RawRecord> {
        self.taken += self.records.len();
        std::mem::take(&mut self.records)
    }

    /// Ends the array; fails if it was not closed or held no records. The records are those not
    /// taken before.
    pub fn finish(mut self) -> Result<Vec<RawRecord>, DecodeError> {
        let start = self.bom.finish();
        start.iter().try_for_each(|&byte| self.byte(byte))?;
        match self.place {
            Place::Done if self.taken + self.records.len() == 0 => {
                Err(PayloadProblem::NoRecords.into())
            }
            Place::Done => Ok(self.records),
            Place::BeforeArray => Err(PayloadProblem::NoRecords.into()),
            Place::BeforeElement { .. } | Place::InElement => {
                Err(self.malformed("the array is not closed"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn split(text: &[u8], piece: usize) -> Result<Vec<RawRecord>, DecodeError> {
        let mut splitter = ArraySplitter::new(100, 1000);
        let mut records = Vec::new();
        for bytes in text.chunks(piece.max(1)) {
            splitter.push(bytes)?;
            records.extend(splitter.take_records());
        }
        records.extend(splitter.finish()?);
        Ok(records)
    }

    fn texts(records: &[RawRecord]) -> Vec<Result<String, String>> {
        records
            .iter()
            .map(|record| match &record.content {
                RecordContent::Json(json) => Ok(json.get().to_owned()),
                RecordContent::Broken { raw, .. } => Err(raw.clone()),
            })
            .collect()
    }

    #[test]
    fn elements_keep_their_text_and_the_line_they_start_on() {
        let text = b"\xEF\xBB\xBF[\n {\"a\": \"x,]\\\"}\"},\n [1, {\"b\": 1E2}],\n  \"s\" ]\n";
        for piece in [1, 2, 5, text.len()] {
            let records = split(text, piece).unwrap();
            assert_eq!(
                texts(&records),
                vec![
                    Ok("{\"a\": \"x,]\\\"}\"}".to_owned()),
                    Ok("[1, {\"b\": 1E2}]".to_owned()),
                    Ok("\"s\"".to_owned()),
                ],
                "pieces of {piece}"
            );
            let lines: Vec<_> = records.iter().map(|record| record.line).collect();
            assert_eq!(lines, vec![Some(2), Some(3), Some(4)]);
            let indexes: Vec<_> = records.iter().map(|record| record.index).collect();
            assert_eq!(indexes, vec![0, 1, 2]);
        }
    }

    #[test]
    fn a_bad_element_is_its_record_s_error_and_the_rest_go_on() {
        let records = split(b"[{\"a\":1}, {nope}, ,{\"b\":2}]", 3).unwrap();
        let texts = texts(&records);
        assert_eq!(texts.len(), 4);
        assert_eq!(texts[1], Err("{nope}".to_owned()));
        assert_eq!(texts[2], Err(String::new()));
        assert_eq!(texts[3], Ok("{\"b\":2}".to_owned()));
    }

    #[test]
    fn the_array_s_frame_must_be_whole() {
        for (text, problem) in [
            (&b"{\"a\":1}"[..], "NotAnArray"),
            (b"[{\"a\":1}", "not closed"),
            (b"[{\"a\":1},]", "followed by"),
            (b"[{\"a\":1}] x", "follows the closing"),
            (b"[]", "NoRecords"),
            (b"  ", "NoRecords"),
        ] {
            let error = split(text, 4).unwrap_err();
            let shown = format!("{error:?}");
            assert!(shown.contains(problem), "{shown}");
        }
        assert_eq!(split(b"[1,2,3]", 1).unwrap().len(), 3);
        let mut splitter = ArraySplitter::new(2, 100);
        assert!(matches!(
            splitter.push(b"[1,2,3]"),
            Err(DecodeError::TooManyRecords { limit: 2 })
        ));
    }

    proptest! {
        /// Any array serde_json writes splits into its elements, whatever the pieces it comes in.
        #[test]
        fn any_array_splits_into_its_elements(
            values in proptest::collection::vec(any::<(String, i64, Vec<String>)>(), 1..20),
            piece in 1usize..64,
        ) {
            let elements: Vec<serde_json::Value> = values
                .iter()
                .map(|(text, number, list)| serde_json::json!({"t": text, "n": number, "l": list}))
                .collect();
            let text = serde_json::to_string_pretty(&elements).unwrap();
            let mut splitter = ArraySplitter::new(100, 1 << 20);
            let mut records = Vec::new();
            for bytes in text.as_bytes().chunks(piece) {
                splitter.push(bytes).unwrap();
                records.extend(splitter.take_records());
            }
            records.extend(splitter.finish().unwrap());
            let parsed: Vec<serde_json::Value> = records
                .iter()
                .map(|record| match &record.content {
                    RecordContent::Json(json) => serde_json::from_str(json.get()).unwrap(),
                    RecordContent::Broken { .. } => serde_json::Value::Null,
                })
                .collect();
            prop_assert_eq!(parsed, elements);
        }
    }
}
