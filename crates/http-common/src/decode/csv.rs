//! CSV input (EXT) read as it streams in, one row at a time: a header row, then one record per
//! row with the native column mapping (see [`super::tabular`]). The text is never held whole:
//! only the current row, itself bounded. Built on `csv-core`, the push parser under the `csv`
//! crate, because the `csv` crate reads from a blocking `Read`.

use super::DecodeError;
use super::bom::LeadingBom;
use super::csv_quotes::QuoteTracker;
use super::problems::PayloadProblem;
use super::tabular::{
    CSV_NULL, Cell, broken_record, check_columns, json_record, native_record, null_cell, text_cell,
};
use csv_core::ReadRecordResult;
use userhub_domain::limits::MAX_ECHOED_INPUT_BYTES;
use userhub_domain::record::raw::RawRecord;

/// Most cells a row may have (a row with more is that record's error).
const MAX_CELLS: usize = 4_096;

/// Accepts CSV bytes as they arrive and yields records.
pub struct CsvCollector {
    reader: csv_core::Reader,
    record_limit: usize,
    max_row_bytes: usize,
    columns: Option<Vec<String>>,
    /// The current row's cell bytes and cell ends.
    cells: Vec<u8>,
    cells_used: usize,
    ends: Vec<usize>,
    ends_used: usize,
    /// The current row as written (its start, for the errors file).
    raw: Vec<u8>,
    /// The current row outgrew `max_row_bytes` or [`MAX_CELLS`]; its cells are dropped.
    oversized: bool,
    /// Which of the current row's cells were quoted.
    quotes: QuoteTracker,
    /// The line of the next byte, and of the current row's first byte.
    line: u32,
    row_line: Option<u32>,
    bom: LeadingBom,
    records: Vec<RawRecord>,
    /// Records already handed out by [`CsvCollector::take_records`].
    taken: usize,
}

impl CsvCollector {
    pub fn new(record_limit: usize, max_row_bytes: usize) -> CsvCollector {
        CsvCollector {
            reader: csv_core::Reader::new(),
            record_limit,
            max_row_bytes,
            columns: None,
            cells: vec![0; 1024],
            cells_used: 0,
            ends: vec![0; 64],
            ends_used: 0,
            raw: Vec::new(),
            oversized: false,
            quotes: QuoteTracker::new(MAX_CELLS),
            line: 1,
            row_line: None,
            bom: LeadingBom::default(),
            records: Vec::new(),
            taken: 0,
        }
    }

    /// Reads the next bytes of the CSV text.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        match self.bom.strip(bytes) {
            Some(text) => self.feed_all(&text),
            None => Ok(()),
        }
    }

    fn feed_all(&mut self, mut input: &[u8]) -> Result<(), DecodeError> {
        while !input.is_empty() {
            input = self.feed(input)?;
        }
        Ok(())
    }

    /// Feeds what the parser takes of `input`; returns the rest.
    fn feed<'i>(&mut self, mut input: &'i [u8]) -> Result<&'i [u8], DecodeError> {
        if self.row_line.is_none() {
            // Line ends between rows (blank lines too) belong to no row.
            let skipped = input
                .iter()
                .take_while(|byte| matches!(byte, b'\r' | b'\n'))
                .count();
            self.count_lines(&input[..skipped]);
            input = &input[skipped..];
            if input.is_empty() {
                return Ok(input);
            }
            self.row_line = Some(self.line);
        }
        let (result, read) = self.parse(input);
        let consumed = &input[..read];
        self.count_lines(consumed);
        self.quotes.feed(consumed);
        let room = (MAX_ECHOED_INPUT_BYTES + 2).saturating_sub(self.raw.len());
        self.raw
            .extend_from_slice(&consumed[..consumed.len().min(room)]);
        if result == ReadRecordResult::Record {
            self.end_row()?;
        }
        Ok(&input[read..])
    }

    /// One step of the parser; grows the row's buffers within their bounds.
    fn parse(&mut self, input: &[u8]) -> (ReadRecordResult, usize) {
        if self.oversized {
            let mut cells = [0u8; 4096];
            let mut ends = [0usize; 256];
            let (result, read, _, _) = self.reader.read_record(input, &mut cells, &mut ends);
            return (result, read);
        }
        let (result, read, written, ended) = self.reader.read_record(
            input,
            &mut self.cells[self.cells_used..],
            &mut self.ends[self.ends_used..],
        );
        self.cells_used += written;
        self.ends_used += ended;
        match result {
            ReadRecordResult::OutputFull if self.cells.len() >= self.max_row_bytes => {
                self.oversized = true;
            }
            ReadRecordResult::OutputFull => {
                let size = (self.cells.len() * 2).min(self.max_row_bytes);
                self.cells.resize(size, 0);
            }
            ReadRecordResult::OutputEndsFull if self.ends.len() >= MAX_CELLS => {
                self.oversized = true;
            }
            ReadRecordResult::OutputEndsFull => {
                let size = (self.ends.len() * 2).min(MAX_CELLS);
                self.ends.resize(size, 0);
            }
            _ => {}
        }
        (result, read)
    }

    fn count_lines(&mut self, bytes: &[u8]) {
        let newlines = bytes.iter().filter(|byte| **byte == b'\n').count();
        self.line = self.line.saturating_add(newlines as u32);
    }

    fn end_row(&mut self) -> Result<(), DecodeError> {
        let line = self.row_line.take();
        let raw = String::from_utf8_lossy(&self.raw)
            .trim_end_matches(['\r', '\n'])
            .to_owned();
        let oversized = std::mem::take(&mut self.oversized);
        let cells: Vec<&[u8]> = {
            let mut start = 0;
            self.ends[..self.ends_used]
                .iter()
                .map(|&end| {
                    let cell = &self.cells[start..end];
                    start = end;
                    cell
                })
                .collect()
        };
        let record = match &self.columns {
            None => {
                if oversized {
                    return Err(PayloadProblem::CsvHeaderTooLong {
                        max_bytes: self.max_row_bytes,
                        max_cells: MAX_CELLS,
                    }
                    .into());
                }
                let columns: Vec<String> = cells
                    .iter()
                    .map(|name| String::from_utf8_lossy(name).trim().to_owned())
                    .collect();
                check_columns(&columns)?;
                self.columns = Some(columns);
                None
            }
            Some(columns) => {
                let index = (self.taken + self.records.len()) as u32;
                if self.taken + self.records.len() >= self.record_limit {
                    return Err(DecodeError::TooManyRecords {
                        limit: self.record_limit,
                    });
                }
                let row = Row {
                    index,
                    line,
                    raw,
                    cells: &cells,
                    quotes: &self.quotes,
                    oversized,
                };
                Some(row_record(row, columns, self.max_row_bytes))
            }
        };
        self.records.extend(record);
        self.cells_used = 0;
        self.ends_used = 0;
        self.raw.clear();
        self.quotes.reset();
        Ok(())
    }

    /// The records read so far and not yet taken, so that a text of any length is read in
    /// bounded memory.
    pub fn take_records(&mut self) -> Vec<RawRecord> {
        self.taken += self.records.len();
        std::mem::take(&mut self.records)
    }

    /// Ends the text; fails if it held no header or no row. The records are those not taken
    /// before.
    pub fn finish(mut self) -> Result<Vec<RawRecord>, DecodeError> {
        let start = self.bom.finish();
        self.feed_all(&start)?;
        if self.row_line.is_some() {
            loop {
                let (result, _) = self.parse(&[]);
                match result {
                    ReadRecordResult::Record => self.end_row()?,
                    ReadRecordResult::End => break,
                    _ => {}
                }
            }
        }
        if self.columns.is_none() {
            return Err(PayloadProblem::CsvEmpty.into());
        }
        if self.taken + self.records.len() == 0 {
            return Err(PayloadProblem::CsvWithoutRows.into());
        }
        Ok(self.records)
    }
}

/// One data row as read.
struct Row<'r> {
    index: u32,
    line: Option<u32>,
    raw: String,
    cells: &'r [&'r [u8]],
    quotes: &'r QuoteTracker,
    oversized: bool,
}

/// The record of one data row, or the row's error. An empty cell leaves its field out, a quoted
/// empty cell (`""`) is the empty string, `\N` is `null`.
fn row_record(row: Row<'_>, columns: &[String], max_row_bytes: usize) -> RawRecord {
    let Row {
        index,
        line,
        raw,
        cells,
        quotes,
        oversized,
    } = row;
    if oversized {
        let message = format!("the row is longer than {max_row_bytes} bytes or {MAX_CELLS} cells");
        return broken_record(index, line, raw, message);
    }
    if cells.len() != columns.len() {
        let message = format!(
            "the row has {} cells; the header names {}",
            cells.len(),
            columns.len()
        );
        return broken_record(index, line, raw, message);
    }
    let values: Option<Vec<Option<Cell>>> = cells
        .iter()
        .enumerate()
        .map(|(at, cell)| {
            let text = std::str::from_utf8(cell).ok()?;
            match text {
                "" if quotes.quoted(at) => text_cell("").map(Some),
                "" => Some(None),
                CSV_NULL => Some(Some(null_cell())),
                text => text_cell(text).map(Some),
            }
        })
        .collect();
    match values {
        Some(values) => json_record(index, line, &native_record(columns, values)),
        None => broken_record(index, line, raw, "the row is not UTF-8".to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
    use serde_json::json;
    use userhub_domain::record::raw::RecordContent;

    /// Reads a whole CSV text.
    fn csv_records(
        text: &[u8],
        record_limit: usize,
        max_row_bytes: usize,
    ) -> Result<Vec<RawRecord>, DecodeError> {
        let mut collector = CsvCollector::new(record_limit, max_row_bytes);
        collector.push(text)?;
        collector.finish()
    }

    fn json_of(record: &RawRecord) -> Value {
        match &record.content {
            RecordContent::Json(raw) => serde_json::from_str(raw.get()).unwrap(),
            RecordContent::Broken { error, .. } => json!({"broken": error.message}),
        }
    }

    #[test]
    fn a_quoted_empty_cell_is_the_empty_string_and_an_empty_one_is_left_out() {
        let text = b"uid,last_city,user_persona,names.first_name\r\nq-1,\"\",,\\N\r\n";
        for size in [1, 3, 5, text.len()] {
            let records = in_pieces(text, size).unwrap();
            assert_eq!(
                json_of(&records[0]),
                json!({"identities": [{"uid": "q-1"}], "last_city": "", "names": {"first_name": null}}),
                "pieces of {size}"
            );
        }
    }

    fn in_pieces(text: &[u8], size: usize) -> Result<Vec<RawRecord>, DecodeError> {
        let mut collector = CsvCollector::new(10, 1024);
        for piece in text.chunks(size) {
            collector.push(piece)?;
        }
        collector.finish()
    }

    #[test]
    fn csv_rows_become_records_with_their_lines_however_the_text_is_cut() {
        let text = "\u{feff}uid,last_city,tags\r\nu1,Pune,\"[\"\"vip\"\"]\"\r\n\r\nu2,,\\N\r\nu3,b,c,d\r\nu4,\"two\nlines\",x";
        for size in [1, 2, 3, 7, 64, 4096] {
            let records = in_pieces(text.as_bytes(), size).unwrap();
            assert_eq!(records.len(), 4, "pieces of {size}");
            assert_eq!(
                json_of(&records[0]),
                json!({"last_city": "Pune", "tags": ["vip"], "identities": [{"uid": "u1"}]})
            );
            assert_eq!(records[0].line, Some(2));
            assert_eq!(
                json_of(&records[1]),
                json!({"tags": null, "identities": [{"uid": "u2"}]}),
                "an empty cell leaves its field out, \\N is null"
            );
            assert_eq!(records[1].line, Some(4), "after a blank line");
            let RecordContent::Broken { raw, .. } = &records[2].content else {
                panic!("a row of the wrong width is a record error")
            };
            assert_eq!(raw, "u3,b,c,d", "echoed as written");
            assert_eq!(records[2].line, Some(5));
            assert_eq!(json_of(&records[3])["last_city"], "two\nlines");
            assert_eq!(records[3].line, Some(6));
        }
    }

    #[test]
    fn limits_hold_for_rows_and_records() {
        assert!(matches!(
            csv_records(b"uid\na\nb\nc\n", 2, 1024),
            Err(DecodeError::TooManyRecords { limit: 2 })
        ));
        assert!(csv_records(b"uid,uid\na,b\n", 2, 1024).is_err());
        assert!(csv_records(b"uid\n", 2, 1024).is_err());
        assert!(csv_records(b"", 2, 1024).is_err());
        let long = format!("uid,note\nu1,{}\nu2,short\n", "x".repeat(5000));
        let records = csv_records(long.as_bytes(), 10, 1024).unwrap();
        assert!(
            json_of(&records[0])["broken"]
                .as_str()
                .unwrap()
                .contains("longer than 1024 bytes")
        );
        assert_eq!(
            json_of(&records[1])["note"],
            "short",
            "the next row is intact"
        );
        let wide = format!("uid\n{}\nu2\n", ",".repeat(MAX_CELLS + 5));
        let records = csv_records(wide.as_bytes(), 10, 1 << 20).unwrap();
        assert!(json_of(&records[0])["broken"].is_string());
        assert_eq!(records.len(), 2);
    }
}
