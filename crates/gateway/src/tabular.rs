//! Tabular input (EXT): `columns` + `rows` (JSON) and CSV with a header row, turned into
//! records by column name. A column named after an identity kind (`uid`, `email`, ...) adds that
//! identity; `names.first_name` or `custom_fields.tier` sets a nested field; any other column
//! sets the field of its name. A string cell holding a JSON array or object decodes to it. An
//! empty CSV cell leaves its field out; a JSON `null` cell, or a CSV cell `\N`, is `null` (it
//! clears on update).

use crate::error::GatewayError;
use crate::payload::{RawRecord, RecordContent};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use std::collections::HashSet;
use userhub_domain::{ErrorCode, FieldError, IdentityKind};

/// The cells of a row, or its text and why it is not a row.
pub type RowCells = Result<Vec<Option<Value>>, (String, String)>;

/// A CSV cell holding exactly this is `null` (it clears the field on update), as in
/// PostgreSQL's `COPY`; an empty cell leaves the field out.
pub const CSV_NULL: &str = "\\N";

/// Longest accepted column name.
const MAX_COLUMN_CHARS: usize = 255;

/// A string cell holding a JSON array or object (JSON-escaped) becomes that value.
pub fn decode_cell(value: Value) -> Value {
    if let Value::String(text) = &value {
        let trimmed = text.trim();
        let bracketed = (trimmed.starts_with('[') && trimmed.ends_with(']'))
            || (trimmed.starts_with('{') && trimmed.ends_with('}'));
        if bracketed {
            if let Ok(decoded) = serde_json::from_str::<Value>(trimmed) {
                return decoded;
            }
        }
    }
    value
}

/// Checks the header: at least one column, none blank, none twice.
pub fn check_columns(columns: &[String]) -> Result<(), GatewayError> {
    if columns.is_empty() {
        return Err(GatewayError::InvalidPayload(
            "`columns` must name at least one column".to_owned(),
        ));
    }
    let mut seen = HashSet::new();
    for (at, column) in columns.iter().enumerate() {
        let name = column.trim();
        if name.is_empty() || name.chars().count() > MAX_COLUMN_CHARS {
            return Err(GatewayError::InvalidPayload(format!(
                "column {} must have a name of 1 to {MAX_COLUMN_CHARS} characters",
                at + 1
            )));
        }
        if !seen.insert(name) {
            return Err(GatewayError::InvalidPayload(format!(
                "column `{name}` appears more than once"
            )));
        }
    }
    Ok(())
}

/// The native record of one row: `cells[i]` belongs to `columns[i]`; `None` leaves it out.
pub fn native_record(columns: &[String], cells: Vec<Option<Value>>) -> Map<String, Value> {
    let mut record = Map::new();
    let mut identities = Vec::new();
    for (column, cell) in columns.iter().zip(cells) {
        let Some(cell) = cell else { continue };
        let column = column.trim();
        if column.parse::<IdentityKind>().is_ok() {
            if !cell.is_null() {
                identities.push(Value::Object(Map::from_iter([(column.to_owned(), cell)])));
            }
            continue;
        }
        match column.split_once('.') {
            Some((parent, child)) if !parent.is_empty() && !child.is_empty() => {
                let slot = record
                    .entry(parent.to_owned())
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(nested) = slot {
                    nested.insert(child.to_owned(), cell);
                }
            }
            _ => {
                record.insert(column.to_owned(), cell);
            }
        }
    }
    if !identities.is_empty() {
        record.insert("identities".to_owned(), Value::Array(identities));
    }
    record
}

/// A record from an object built out of a row.
pub fn json_record(index: u32, line: Option<u32>, object: &Map<String, Value>) -> RawRecord {
    let content = serde_json::to_string(object)
        .ok()
        .and_then(|text| RawValue::from_string(text).ok())
        .map_or_else(
            || broken_content(String::new(), "the row could not be encoded".to_owned()),
            RecordContent::Json,
        );
    RawRecord {
        index,
        line,
        content,
    }
}

fn broken_content(raw: String, message: String) -> RecordContent {
    RecordContent::Broken {
        raw,
        error: FieldError::new("", ErrorCode::InvalidValue, message),
    }
}

/// A row that cannot become a record (e.g. the wrong number of cells).
pub fn broken_record(index: u32, line: Option<u32>, raw: String, message: String) -> RawRecord {
    RawRecord {
        index,
        line,
        content: broken_content(raw, message),
    }
}

/// A row that failed with its own error (e.g. a required companion column left empty).
pub fn failed_record(index: u32, raw: String, error: FieldError) -> RawRecord {
    RawRecord {
        index,
        line: None,
        content: RecordContent::Broken { raw, error },
    }
}

/// The cells of every row of a JSON `rows` array (each row an array of values), or why a row is
/// not one; a request-level error if `rows` is not an array or holds too many rows.
pub fn json_rows(
    rows: &RawValue,
    width: usize,
    record_limit: usize,
) -> Result<Vec<RowCells>, GatewayError> {
    let rows: Vec<&RawValue> = serde_json::from_str(rows.get()).map_err(|error| {
        GatewayError::InvalidPayload(format!("`rows` must be an array of arrays: {error}"))
    })?;
    if rows.is_empty() {
        return Err(GatewayError::InvalidPayload(
            "`rows` holds no rows".to_owned(),
        ));
    }
    if rows.len() > record_limit {
        return Err(GatewayError::TooManyRecords {
            limit: record_limit,
        });
    }
    Ok(rows
        .into_iter()
        .map(|row| {
            let raw = row.get().to_owned();
            match serde_json::from_str::<Vec<Value>>(row.get()) {
                Ok(cells) if cells.len() == width => Ok(cells
                    .into_iter()
                    .map(|cell| Some(decode_cell(cell)))
                    .collect()),
                Ok(cells) => Err((
                    raw,
                    format!("the row has {} cells; `columns` names {width}", cells.len()),
                )),
                Err(_) => Err((raw, "the row is not an array of values".to_owned())),
            }
        })
        .collect())
}

/// Records from `columns` + JSON `rows` with the native mapping.
pub fn table_records(
    columns: &[String],
    rows: &RawValue,
    record_limit: usize,
) -> Result<Vec<RawRecord>, GatewayError> {
    check_columns(columns)?;
    let rows = json_rows(rows, columns.len(), record_limit)?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(index, row)| match row {
            Ok(cells) => json_record(index as u32, None, &native_record(columns, cells)),
            Err((raw, message)) => broken_record(index as u32, None, raw, message),
        })
        .collect())
}

/// Records from CSV text (a header row, then one record per row) with the native mapping;
/// `line` is the row's line in the file.
pub fn csv_records(text: &[u8], record_limit: usize) -> Result<Vec<RawRecord>, GatewayError> {
    let text = text.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_reader(text);
    let columns: Vec<String> = reader
        .headers()
        .map_err(|error| {
            GatewayError::InvalidPayload(format!("the CSV header row cannot be read: {error}"))
        })?
        .iter()
        .map(|name| name.trim().to_owned())
        .collect();
    check_columns(&columns)?;
    let mut records = Vec::new();
    let mut row = csv::ByteRecord::new();
    // Lines counted from byte offsets: the reader's own count misses CRLF line ends.
    let mut lines = LineCounter::new(text);
    loop {
        let index = records.len() as u32;
        match reader.read_byte_record(&mut row) {
            Ok(false) => break,
            Ok(true) => {}
            Err(error) => {
                let line = error
                    .position()
                    .map(|position| lines.line_at(position.byte()));
                records.push(broken_record(
                    index,
                    line,
                    String::new(),
                    format!("the CSV row cannot be read: {error}"),
                ));
                if records.len() > record_limit {
                    break;
                }
                continue;
            }
        }
        if records.len() >= record_limit {
            return Err(GatewayError::TooManyRecords {
                limit: record_limit,
            });
        }
        let line = row
            .position()
            .map(|position| lines.line_at(position.byte()));
        // The row as written (cells and their separators), for the errors file.
        let start = row
            .position()
            .map_or(0, |position| position.byte() as usize);
        let end = (reader.position().byte() as usize).clamp(start, text.len());
        let raw = String::from_utf8_lossy(&text[start..end])
            .trim_matches(['\r', '\n'])
            .to_owned();
        if row.len() != columns.len() {
            let message = format!(
                "the row has {} cells; the header names {}",
                row.len(),
                columns.len()
            );
            records.push(broken_record(index, line, raw, message));
            continue;
        }
        let cells: Option<Vec<Option<Value>>> = row
            .iter()
            .map(|cell| {
                let text = std::str::from_utf8(cell).ok()?;
                Some(match text {
                    "" => None,
                    CSV_NULL => Some(Value::Null),
                    text => Some(decode_cell(Value::String(text.to_owned()))),
                })
            })
            .collect();
        match cells {
            Some(cells) => records.push(json_record(index, line, &native_record(&columns, cells))),
            None => records.push(broken_record(
                index,
                line,
                raw,
                "the row is not UTF-8".to_owned(),
            )),
        }
    }
    if records.is_empty() {
        return Err(GatewayError::InvalidPayload(
            "the CSV holds a header but no rows".to_owned(),
        ));
    }
    Ok(records)
}

/// The 1-based line of byte offsets, asked in increasing order.
struct LineCounter<'a> {
    text: &'a [u8],
    offset: usize,
    line: u32,
}

impl<'a> LineCounter<'a> {
    fn new(text: &'a [u8]) -> Self {
        LineCounter {
            text,
            offset: 0,
            line: 1,
        }
    }

    fn line_at(&mut self, byte: u64) -> u32 {
        let mut target = (byte as usize).min(self.text.len());
        // With CRLF line ends a record's position is the `\n` that ended the previous row.
        while matches!(self.text.get(target), Some(b'\r' | b'\n')) {
            target += 1;
        }
        if target > self.offset {
            let newlines = self.text[self.offset..target]
                .iter()
                .filter(|&&b| b == b'\n')
                .count();
            self.line += newlines as u32;
            self.offset = target;
        }
        self.line
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn json_of(record: &RawRecord) -> Value {
        match &record.content {
            RecordContent::Json(raw) => serde_json::from_str(raw.get()).unwrap(),
            RecordContent::Broken { error, .. } => json!({"broken": error.message}),
        }
    }

    #[test]
    fn columns_map_to_identities_nested_fields_and_decoded_json() {
        let columns: Vec<String> = [
            "uid",
            "email",
            "names.first_name",
            "custom_fields.order",
            "age",
        ]
        .map(str::to_owned)
        .to_vec();
        let rows = RawValue::from_string(
            r#"[["u1", "a@x.io", "Ann", "[\"latte\", \"mocha\"]", 30], ["u2", null, "Bo", "{\"n\":1}", null], ["short"]]"#
                .to_owned(),
        )
        .unwrap();
        let records = table_records(&columns, &rows, 10).unwrap();
        assert_eq!(
            json_of(&records[0]),
            json!({"names": {"first_name": "Ann"}, "custom_fields": {"order": ["latte", "mocha"]},
                   "age": 30, "identities": [{"uid": "u1"}, {"email": "a@x.io"}]})
        );
        assert_eq!(
            json_of(&records[1])["age"],
            Value::Null,
            "null cells stay null"
        );
        assert_eq!(
            json_of(&records[1])["custom_fields"]["order"],
            json!({"n": 1})
        );
        assert!(
            json_of(&records[2])["broken"]
                .as_str()
                .unwrap()
                .contains("1 cells")
        );
    }

    #[test]
    fn csv_rows_become_records_with_their_lines() {
        let text =
            "\u{feff}uid,last_city,tags\r\nu1,Pune,\"[\"\"vip\"\"]\"\r\nu2,,\\N\r\nu3,b,c,d\r\n";
        let records = csv_records(text.as_bytes(), 10).unwrap();
        assert_eq!(records.len(), 3);
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
        let RecordContent::Broken { raw, .. } = &records[2].content else {
            panic!("a row of the wrong width is a record error")
        };
        assert_eq!(raw, "u3,b,c,d", "echoed as written");
        assert_eq!(records[2].line, Some(4));
        assert!(matches!(
            csv_records(b"uid\na\nb\nc\n", 2),
            Err(GatewayError::TooManyRecords { limit: 2 })
        ));
        assert!(csv_records(b"uid,uid\na,b\n", 2).is_err());
        assert!(csv_records(b"uid\n", 2).is_err());
    }
}
