//! Downloading a task's results or errors as NDJSON and appending them to one file for the
//! whole input: `index` (and `line`) are shifted from the part's numbering to the file's, and
//! every entry names its `task_id`.

use crate::api::{ApiClient, ApiError};
use futures_util::StreamExt;
use serde_json::{Map, Value};
use std::io::Write;

/// Where a task's records sit in the input.
#[derive(Debug, Clone, Copy)]
pub struct Offsets {
    pub task_id: u64,
    pub first_index: u64,
    /// The input line of the part's first line (JSONL input only).
    pub first_line: Option<u64>,
}

/// A download could not be written.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    #[error(transparent)]
    Api(#[from] ApiError),
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
    #[error("task {task_id} sent an entry that is not a JSON object: {reason}")]
    BadEntry { task_id: u64, reason: String },
}

fn shift(entry: &mut Map<String, Value>, key: &str, by: u64) {
    if let Some(value) = entry.get(key).and_then(Value::as_u64) {
        entry.insert(key.to_owned(), Value::from(value + by));
    }
}

/// Rewrites one NDJSON line of a task into the file's numbering.
pub fn rewrite_entry(line: &[u8], offsets: Offsets) -> Result<Vec<u8>, MergeError> {
    let bad = |reason: String| MergeError::BadEntry {
        task_id: offsets.task_id,
        reason,
    };
    let mut entry: Map<String, Value> =
        serde_json::from_slice(line).map_err(|error| bad(error.to_string()))?;
    shift(&mut entry, "index", offsets.first_index);
    if let Some(first_line) = offsets.first_line {
        shift(&mut entry, "line", first_line.saturating_sub(1));
    }
    entry.insert("task_id".to_owned(), Value::from(offsets.task_id));
    let mut out = serde_json::to_vec(&entry).map_err(|error| bad(error.to_string()))?;
    out.push(b'\n');
    Ok(out)
}

/// Appends the task's `kind` (`results` or `errors`) to `out`; returns the entries written.
pub async fn append_download(
    client: &ApiClient,
    kind: &str,
    offsets: Offsets,
    out: &mut impl Write,
    out_name: &str,
) -> Result<u64, MergeError> {
    let response = client.download(offsets.task_id, kind).await?;
    let write_error = |error: std::io::Error| MergeError::Write {
        path: out_name.to_owned(),
        reason: error.to_string(),
    };
    let mut stream = response.bytes_stream();
    let mut pending: Vec<u8> = Vec::new();
    let mut written = 0;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|error| ApiError::Unreachable {
            url: client.task_url(offsets.task_id),
            reason: error.to_string(),
        })?;
        pending.extend_from_slice(&chunk);
        let mut start = 0;
        while let Some(end) = pending[start..].iter().position(|byte| *byte == b'\n') {
            let line = &pending[start..start + end];
            if !line.is_empty() {
                out.write_all(&rewrite_entry(line, offsets)?)
                    .map_err(write_error)?;
                written += 1;
            }
            start += end + 1;
        }
        pending.drain(..start);
    }
    if pending.iter().any(|byte| !byte.is_ascii_whitespace()) {
        out.write_all(&rewrite_entry(&pending, offsets)?)
            .map_err(write_error)?;
        written += 1;
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn indexes_and_lines_move_to_the_files_numbering() {
        let offsets = Offsets {
            task_id: 7,
            first_index: 10_000,
            first_line: Some(10_003),
        };
        let line = br#"{"index":5,"line":6,"errors":[{"field":"identities","code":"EMPTY_DATA"}]}"#;
        let rewritten = rewrite_entry(line, offsets).unwrap();
        let value: Value = serde_json::from_slice(&rewritten).unwrap();
        assert_eq!(value["index"], 10_005);
        assert_eq!(value["line"], 10_008);
        assert_eq!(value["task_id"], 7);
        assert_eq!(value["errors"][0]["code"], "EMPTY_DATA");
        assert!(rewritten.ends_with(b"\n"));
    }

    #[test]
    fn entries_without_lines_keep_their_fields() {
        let offsets = Offsets {
            task_id: 1,
            first_index: 3,
            first_line: None,
        };
        let rewritten = rewrite_entry(br#"{"index":0,"core-profile-id":42}"#, offsets).unwrap();
        assert_eq!(
            String::from_utf8(rewritten).unwrap(),
            "{\"index\":3,\"core-profile-id\":42,\"task_id\":1}\n"
        );
        assert!(rewrite_entry(b"[1]", offsets).is_err());
    }
}
