//! Test helper: records as a JSONL body would give them (one per line, blank lines skipped,
//! a line that is not JSON a broken record), without the HTTP decoder.

use serde_json::value::RawValue;
use userhub_domain::record::raw::{RawRecord, RecordContent};
use userhub_domain::{ErrorCode, FieldError};

/// The records of `text`, one per non-blank line.
pub fn records(text: &str) -> Vec<RawRecord> {
    text.lines()
        .enumerate()
        .filter(|(_, line)| !line.trim().is_empty())
        .enumerate()
        .map(|(index, (line_index, line))| {
            let line = line.trim();
            let content = match serde_json::from_str::<Box<RawValue>>(line) {
                Ok(json) => RecordContent::Json(json),
                Err(error) => RecordContent::Broken {
                    raw: line.to_owned(),
                    error: FieldError::new("", ErrorCode::InvalidJson, error.to_string()),
                },
            };
            RawRecord {
                index: index as u32,
                line: Some(line_index as u32 + 1),
                content,
            }
        })
        .collect()
}
