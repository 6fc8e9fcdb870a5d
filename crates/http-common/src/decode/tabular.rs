//! Tabular input (EXT): `columns` + `rows` (JSON) and CSV with a header row, turned into
//! records by column name. A column named after an identity kind (`uid`, `email`, ...) adds that
//! identity; `names.first_name` or `custom_fields.tier` sets a nested field; any other column
//! sets the field of its name. A string cell holding a JSON array or object decodes to it. An
//! empty CSV cell leaves its field out, a quoted empty one (`""`) is the empty string; a JSON
//! `null` cell, or a CSV cell `\N`, is `null` (it clears on update). Cells stay JSON text ([`Cell`]) from the request to the record, so that a
//! number keeps the notation it was sent in (`serde_json::Value` would write `1E2` as `1e+2`).

use super::DecodeError;
use super::json_budget::{BudgetError, bounded_array};
use super::problems::PayloadProblem;
use serde_json::value::RawValue;
use std::collections::HashSet;
use userhub_domain::record::raw::{RawRecord, RecordContent};
use userhub_domain::{ErrorCode, FieldError, IdentityKind};

/// One cell: its JSON text exactly as sent (or as a CSV cell's text encodes).
pub type Cell = Box<RawValue>;

/// The cells of a row, or its text and why it is not a row.
pub type RowCells = Result<Vec<Option<Cell>>, (String, String)>;

/// A CSV cell holding exactly this is `null` (it clears the field on update), as in
/// PostgreSQL's `COPY`; an empty cell leaves the field out.
pub const CSV_NULL: &str = "\\N";

/// Longest accepted column name.
const MAX_COLUMN_CHARS: usize = 255;
/// Most columns a table or CSV may have.
pub const MAX_COLUMNS: usize = 256;

/// A string cell holding a JSON array or object (JSON-escaped) becomes that value, its text
/// as written.
pub fn decode_cell(cell: Cell) -> Cell {
    if !cell.get().starts_with('"') {
        return cell;
    }
    match serde_json::from_str::<String>(cell.get()) {
        Ok(text) => bracketed_json(&text).unwrap_or(cell),
        Err(_) => cell,
    }
}

/// `text` as a JSON array or object when it is one (blanks around it aside).
fn bracketed_json(text: &str) -> Option<Cell> {
    let trimmed = text.trim();
    let bracketed = (trimmed.starts_with('[') && trimmed.ends_with(']'))
        || (trimmed.starts_with('{') && trimmed.ends_with('}'));
    if !bracketed || serde_json::from_str::<&RawValue>(trimmed).is_err() {
        return None;
    }
    RawValue::from_string(trimmed.to_owned()).ok()
}

/// The cell of a CSV text: the array or object it holds, else a JSON string.
pub fn text_cell(text: &str) -> Option<Cell> {
    bracketed_json(text).or_else(|| {
        let json = serde_json::to_string(text).ok()?;
        RawValue::from_string(json).ok()
    })
}

/// The `null` cell.
pub fn null_cell() -> Cell {
    RawValue::NULL.to_owned()
}

fn is_null(cell: &RawValue) -> bool {
    cell.get().trim() == "null"
}

/// A record built from cells, its members in column order.
#[derive(Debug, Default)]
pub struct RowObject(Vec<(String, RowValue)>);

/// A member of a [`RowObject`].
#[derive(Debug)]
enum RowValue {
    Cell(Cell),
    Object(RowObject),
    Array(Vec<RowObject>),
}

impl RowObject {
    fn slot(&mut self, name: &str) -> &mut RowValue {
        let at = match self.0.iter().position(|(key, _)| key == name) {
            Some(at) => at,
            None => {
                self.0
                    .push((name.to_owned(), RowValue::Object(RowObject::default())));
                self.0.len() - 1
            }
        };
        &mut self.0[at].1
    }

    fn insert(&mut self, name: &str, value: RowValue) {
        match self.0.iter_mut().find(|(key, _)| key == name) {
            Some((_, slot)) => *slot = value,
            None => self.0.push((name.to_owned(), value)),
        }
    }
}

impl serde::Serialize for RowObject {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (key, value) in &self.0 {
            map.serialize_entry(key, value)?;
        }
        map.end()
    }
}

impl serde::Serialize for RowValue {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            RowValue::Cell(cell) => cell.serialize(serializer),
            RowValue::Object(object) => object.serialize(serializer),
            RowValue::Array(items) => items.serialize(serializer),
        }
    }
}

/// Checks the header: at least one column, none blank, none twice.
pub fn check_columns(columns: &[String]) -> Result<(), DecodeError> {
    if columns.is_empty() {
        return Err(PayloadProblem::NoColumns.into());
    }
    if columns.len() > MAX_COLUMNS {
        return Err(PayloadProblem::TooManyColumns {
            count: columns.len(),
            max: MAX_COLUMNS,
        }
        .into());
    }
    let mut seen = HashSet::new();
    for (at, column) in columns.iter().enumerate() {
        let name = column.trim();
        if name.is_empty() || name.chars().count() > MAX_COLUMN_CHARS {
            return Err(PayloadProblem::ColumnName {
                position: at + 1,
                max_chars: MAX_COLUMN_CHARS,
            }
            .into());
        }
        if !seen.insert(name) {
            return Err(PayloadProblem::RepeatedColumn(name.to_owned()).into());
        }
    }
    Ok(())
}

/// The native record of one row: `cells[i]` belongs to `columns[i]`; `None` leaves it out.
pub fn native_record(columns: &[String], cells: Vec<Option<Cell>>) -> RowObject {
    let mut record = RowObject::default();
    let mut identities = Vec::new();
    for (column, cell) in columns.iter().zip(cells) {
        let Some(cell) = cell else { continue };
        let column = column.trim();
        if column.parse::<IdentityKind>().is_ok() {
            if !is_null(&cell) {
                identities.push(RowObject(vec![(column.to_owned(), RowValue::Cell(cell))]));
            }
            continue;
        }
        match column.split_once('.') {
            Some((parent, child)) if !parent.is_empty() && !child.is_empty() => {
                let slot = record.slot(parent);
                if let RowValue::Object(nested) = slot {
                    nested.insert(child, RowValue::Cell(cell));
                }
            }
            _ => record.insert(column, RowValue::Cell(cell)),
        }
    }
    if !identities.is_empty() {
        record.insert("identities", RowValue::Array(identities));
    }
    record
}

/// A record from an object built out of a row.
pub fn json_record(index: u32, line: Option<u32>, object: &impl serde::Serialize) -> RawRecord {
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
pub fn json_rows(rows: &RawValue, record_limit: usize) -> Result<Vec<&RawValue>, DecodeError> {
    let rows: Vec<&RawValue> =
        bounded_array(rows.get().as_bytes(), record_limit).map_err(|error| match error {
            BudgetError::TooMany { max } => DecodeError::TooManyRecords { limit: max },
            BudgetError::Json(error) => PayloadProblem::RowsNotArrays(error).into(),
        })?;
    if rows.is_empty() {
        return Err(PayloadProblem::NoRows.into());
    }
    Ok(rows)
}

/// The cells of one JSON row of `width` cells.
pub fn row_cells(row: &RawValue, width: usize) -> RowCells {
    let raw = || row.get().to_owned();
    match bounded_array::<Cell>(row.get().as_bytes(), width) {
        Ok(cells) if cells.len() == width => Ok(cells
            .into_iter()
            .map(|cell| Some(decode_cell(cell)))
            .collect()),
        Ok(cells) => Err((
            raw(),
            format!("the row has {} cells; `columns` names {width}", cells.len()),
        )),
        Err(BudgetError::TooMany { .. }) => Err((
            raw(),
            format!("the row has more than {width} cells; `columns` names {width}"),
        )),
        Err(BudgetError::Json(_)) => Err((raw(), "the row is not an array of values".to_owned())),
    }
}

/// The column names of a JSON `columns` member: an array of at most [`MAX_COLUMNS`] strings.
pub fn read_columns(raw: &RawValue) -> Result<Vec<String>, DecodeError> {
    let columns: Vec<String> =
        bounded_array(raw.get().as_bytes(), MAX_COLUMNS).map_err(|error| match error {
            BudgetError::TooMany { max } => PayloadProblem::ColumnsOverLimit(max),
            BudgetError::Json(_) => PayloadProblem::ColumnsNotStrings,
        })?;
    Ok(columns
        .into_iter()
        .map(|column| column.trim().to_owned())
        .collect())
}

/// Records from `columns` + JSON `rows` with the native mapping.
pub fn table_records(
    columns: &[String],
    rows: &RawValue,
    record_limit: usize,
) -> Result<Vec<RawRecord>, DecodeError> {
    check_columns(columns)?;
    let rows = json_rows(rows, record_limit)?;
    Ok(rows
        .into_iter()
        .enumerate()
        .map(|(index, row)| match row_cells(row, columns.len()) {
            Ok(cells) => json_record(index as u32, None, &native_record(columns, cells)),
            Err((raw, message)) => broken_record(index as u32, None, raw, message),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;
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
    fn cells_keep_their_json_text() {
        let columns: Vec<String> = ["uid", "custom_fields.n", "custom_fields.list", "age"]
            .map(str::to_owned)
            .to_vec();
        let rows = RawValue::from_string(
            r#"[["u1", 1E2, "[2.50E-3, {\"k\": -0.0}]", 3.0e+1]]"#.to_owned(),
        )
        .unwrap();
        let records = table_records(&columns, &rows, 10).unwrap();
        let RecordContent::Json(text) = &records[0].content else {
            panic!("a record expected")
        };
        assert_eq!(
            text.get(),
            r#"{"custom_fields":{"n":1E2,"list":[2.50E-3, {"k": -0.0}]},"age":3.0e+1,"identities":[{"uid":"u1"}]}"#
        );
    }
}
