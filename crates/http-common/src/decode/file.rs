//! The records of a whole file read in pieces and handed out as they complete, so that a file of
//! any size (an upload) is read in bounded memory: CSV with a header, or JSON — JSONL, or one
//! array when the first meaningful byte is `[`.

use super::DecodeError;
use super::array_stream::ArraySplitter;
use super::csv::CsvCollector;
use super::payload::PayloadCollector;
use userhub_domain::record::raw::{PayloadFormat, RawRecord};

/// The layout a file is declared to have.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileLayout {
    /// JSONL, or a JSON array (told apart by the first meaningful byte).
    Json,
    /// CSV with a header row.
    Csv,
}

enum Splitter {
    /// Nothing meaningful seen yet: the bytes so far (whitespace and a byte order mark).
    Undecided(Vec<u8>),
    Lines(PayloadCollector),
    Array(ArraySplitter),
    Csv(CsvCollector),
}

/// Splits a file's bytes into records, at most `record_limit` of them, each line (or array
/// element, or CSV row) at most `max_line_bytes` long.
pub struct FileSplitter {
    record_limit: usize,
    max_line_bytes: usize,
    splitter: Splitter,
}

impl FileSplitter {
    pub fn new(layout: FileLayout, record_limit: usize, max_line_bytes: usize) -> FileSplitter {
        let splitter = match layout {
            FileLayout::Json => Splitter::Undecided(Vec::new()),
            FileLayout::Csv => Splitter::Csv(CsvCollector::new(record_limit, max_line_bytes)),
        };
        FileSplitter {
            record_limit,
            max_line_bytes,
            splitter,
        }
    }

    /// Reads the next bytes of the file.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), DecodeError> {
        match &mut self.splitter {
            Splitter::Undecided(seen) => {
                seen.extend_from_slice(bytes);
                let meaningful = seen
                    .iter()
                    .find(|byte| !byte.is_ascii_whitespace() && !b"\xEF\xBB\xBF".contains(byte));
                let Some(&first) = meaningful else {
                    if seen.len() > self.max_line_bytes {
                        seen.clear();
                    }
                    return Ok(());
                };
                let seen = std::mem::take(seen);
                self.splitter = if first == b'[' {
                    Splitter::Array(ArraySplitter::new(self.record_limit, self.max_line_bytes))
                } else {
                    Splitter::Lines(PayloadCollector::new(
                        self.record_limit,
                        self.max_line_bytes,
                        false,
                    ))
                };
                self.push(&seen)
            }
            Splitter::Lines(lines) => lines.push(bytes),
            Splitter::Array(array) => array.push(bytes),
            Splitter::Csv(csv) => csv.push(bytes),
        }
    }

    /// The records read so far and not yet taken.
    pub fn take_records(&mut self) -> Vec<RawRecord> {
        match &mut self.splitter {
            Splitter::Undecided(_) => Vec::new(),
            Splitter::Lines(lines) => lines.take_records(),
            Splitter::Array(array) => array.take_records(),
            Splitter::Csv(csv) => csv.take_records(),
        }
    }

    /// Ends the file: its format and the records not taken before; fails if the file held no
    /// record or its frame (a CSV header, an array's brackets) is broken.
    pub fn finish(self) -> Result<(PayloadFormat, Vec<RawRecord>), DecodeError> {
        match self.splitter {
            Splitter::Undecided(_) => Err(super::problems::PayloadProblem::NoRecords.into()),
            Splitter::Lines(lines) => lines.finish(),
            Splitter::Array(array) => Ok((PayloadFormat::JsonArray, array.finish()?)),
            Splitter::Csv(csv) => Ok((PayloadFormat::Csv, csv.finish()?)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use userhub_domain::record::raw::RecordContent;

    fn read(layout: FileLayout, text: &[u8], piece: usize) -> (PayloadFormat, Vec<RawRecord>) {
        let mut splitter = FileSplitter::new(layout, 1000, 1000);
        let mut records = Vec::new();
        for bytes in text.chunks(piece) {
            splitter.push(bytes).unwrap();
            records.extend(splitter.take_records());
        }
        let (format, rest) = splitter.finish().unwrap();
        records.extend(rest);
        (format, records)
    }

    #[test]
    fn each_layout_yields_its_records_with_running_indexes_and_lines() {
        let cases: [(FileLayout, &[u8], PayloadFormat, u32); 3] = [
            (
                FileLayout::Json,
                b"\n{\"uid\":1}\nnot json\n\n{\"uid\":3}",
                PayloadFormat::JsonLines,
                5,
            ),
            (
                FileLayout::Json,
                b" [{\"uid\":1},\nnope,\n{\"uid\":3}]",
                PayloadFormat::JsonArray,
                3,
            ),
            (
                FileLayout::Csv,
                b"uid,last_city\nu1,Pune\nu2\nu3,Oslo\n",
                PayloadFormat::Csv,
                4,
            ),
        ];
        for (layout, text, expected, third_line) in cases {
            for piece in [1, 3, text.len()] {
                let (format, records) = read(layout, text, piece);
                assert_eq!(format, expected);
                let indexes: Vec<u32> = records.iter().map(|record| record.index).collect();
                assert_eq!(indexes, vec![0, 1, 2], "{expected:?} in pieces of {piece}");
                assert!(matches!(records[1].content, RecordContent::Broken { .. }));
                assert!(matches!(records[2].content, RecordContent::Json(_)));
                assert_eq!(records[2].line, Some(third_line), "{expected:?}");
            }
        }
    }

    #[test]
    fn the_record_limit_counts_every_record_taken() {
        let mut splitter = FileSplitter::new(FileLayout::Json, 2, 100);
        splitter.push(b"{\"a\":1}\n{\"a\":2}\n").unwrap();
        assert_eq!(splitter.take_records().len(), 2);
        assert!(matches!(
            splitter.push(b"{\"a\":3}\n"),
            Err(DecodeError::TooManyRecords { limit: 2 })
        ));
    }
}
