//! A record as a request brought it, before any of its fields is read: its position, its line,
//! and its JSON text — or, for a line that was not JSON, the text and the reason. Every body
//! format (JSON arrays, JSONL, tables, CSV, a compatible product's document) is split into these,
//! and the task protocol takes them from there.

use crate::FieldError;
use serde_json::value::RawValue;

/// How the records arrived.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PayloadFormat {
    /// One JSON array.
    JsonArray,
    /// One JSON object per line.
    JsonLines,
    /// EXT `columns` + `rows`.
    Table,
    /// EXT CSV with a header row.
    Csv,
    /// A compatible endpoint's own body.
    Dialect(&'static str),
}

impl PayloadFormat {
    pub fn as_str(self) -> &'static str {
        match self {
            PayloadFormat::JsonArray => "json",
            PayloadFormat::JsonLines => "jsonl",
            PayloadFormat::Table => "table",
            PayloadFormat::Csv => "csv",
            PayloadFormat::Dialect(name) => name,
        }
    }
}

/// A record as read: its JSON, or the text of a line that was not JSON with the reason.
#[derive(Debug)]
pub enum RecordContent {
    Json(Box<RawValue>),
    Broken { raw: String, error: FieldError },
}

#[derive(Debug)]
pub struct RawRecord {
    pub index: u32,
    pub line: Option<u32>,
    pub content: RecordContent,
}
