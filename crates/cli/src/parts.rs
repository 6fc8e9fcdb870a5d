//! Splitting an input file into parts of at most the domain's record limit, without holding the
//! file in memory: JSONL line by line (blank lines kept, so that the server's line numbers map
//! back), a JSON array element by element. Each part's idempotency key is a hash of the action
//! and the part's bytes, so re-running an import finds the tasks it already created.

use bytes::Bytes;
use serde::de::{DeserializeSeed, Deserializer, SeqAccess, Visitor};
use serde_json::value::RawValue;
use sha2::{Digest, Sha256};
use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

/// A part of the input, ready to upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Part {
    /// 0-based position among the parts.
    pub number: usize,
    /// Input index of the part's first record.
    pub first_index: u64,
    /// For JSONL: the file's line number (1-based) of the part's first line.
    pub first_line: Option<u64>,
    pub records: u64,
    pub bytes: Bytes,
    pub jsonl: bool,
}

impl Part {
    /// `uhcli-` + SHA-256 of the action and the part's bytes (hex, 64 characters).
    pub fn idempotency_key(&self, action: &str) -> String {
        let mut hash = Sha256::new();
        hash.update(action.as_bytes());
        hash.update(b"\n");
        hash.update(&self.bytes);
        let digest = hash.finalize();
        let mut key = String::with_capacity(70);
        key.push_str("uhcli-");
        for byte in digest {
            key.push_str(&format!("{byte:02x}"));
        }
        key
    }
}

/// The size of the parts.
#[derive(Debug, Clone, Copy)]
pub struct PartLimits {
    pub records: u64,
    /// Bytes per part (a part holds at least one record whatever its size).
    pub bytes: u64,
}

/// The input cannot be split.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    #[error("cannot read {path}: {reason}")]
    Read { path: String, reason: String },
    #[error("{path} is not a JSON array of records: {reason}")]
    NotAnArray { path: String, reason: String },
    #[error("{path} holds no records")]
    Empty { path: String },
    #[error("the upload stopped")]
    Stopped,
}

/// Whether the file is a JSON array (its first non-blank byte is `[`) or JSONL.
/// Looks without consuming: blank lines before JSONL records must stay (they are lines).
fn is_json_array(reader: &mut BufReader<impl Read>) -> std::io::Result<bool> {
    let buffer = reader.fill_buf()?;
    Ok(buffer
        .iter()
        .find(|byte| !byte.is_ascii_whitespace())
        .is_some_and(|byte| *byte == b'['))
}

/// Splits `path` and hands every part to `emit` in order; `emit` returns `false` to stop.
pub fn split_file(
    path: &Path,
    limits: PartLimits,
    emit: impl FnMut(Part) -> bool,
) -> Result<u64, SplitError> {
    let shown = path.display().to_string();
    let read_error = |error: std::io::Error| SplitError::Read {
        path: shown.clone(),
        reason: error.to_string(),
    };
    let file = std::fs::File::open(path).map_err(read_error)?;
    let mut reader = BufReader::with_capacity(1 << 20, file);
    let records = if is_json_array(&mut reader).map_err(read_error)? {
        split_array(reader, limits, emit).map_err(|error| match error {
            ArrayError::Stopped => SplitError::Stopped,
            ArrayError::Json(error) => SplitError::NotAnArray {
                path: shown.clone(),
                reason: error.to_string(),
            },
        })?
    } else {
        split_jsonl(reader, limits, emit).map_err(|error| match error {
            JsonlError::Stopped => SplitError::Stopped,
            JsonlError::Io(error) => read_error(error),
        })?
    };
    if records == 0 {
        return Err(SplitError::Empty { path: shown });
    }
    Ok(records)
}

/// A part being filled.
struct Builder {
    limits: PartLimits,
    number: usize,
    next_index: u64,
    jsonl: bool,
    first_index: u64,
    first_line: Option<u64>,
    records: u64,
    bytes: Vec<u8>,
}

impl Builder {
    fn new(limits: PartLimits, jsonl: bool) -> Builder {
        Builder {
            limits,
            number: 0,
            next_index: 0,
            jsonl,
            first_index: 0,
            first_line: None,
            records: 0,
            bytes: Vec::new(),
        }
    }

    /// Whether one more record of `size` bytes has to start a new part.
    fn is_full_for(&self, size: usize) -> bool {
        self.records > 0
            && (self.records >= self.limits.records
                || (self.bytes.len() + size) as u64 > self.limits.bytes)
    }

    fn take(&mut self) -> Option<Part> {
        if self.records == 0 {
            return None;
        }
        let mut bytes = std::mem::take(&mut self.bytes);
        if !self.jsonl {
            bytes.push(b']');
        }
        let part = Part {
            number: self.number,
            first_index: self.first_index,
            first_line: self.first_line,
            records: self.records,
            bytes: Bytes::from(bytes),
            jsonl: self.jsonl,
        };
        self.number += 1;
        self.first_index = self.next_index;
        self.first_line = None;
        self.records = 0;
        Some(part)
    }
}

enum JsonlError {
    Io(std::io::Error),
    Stopped,
}

fn split_jsonl(
    mut reader: impl BufRead,
    limits: PartLimits,
    mut emit: impl FnMut(Part) -> bool,
) -> Result<u64, JsonlError> {
    let mut builder = Builder::new(limits, true);
    let mut line = Vec::new();
    let mut line_number = 0u64;
    loop {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .map_err(JsonlError::Io)?;
        if read == 0 {
            break;
        }
        line_number += 1;
        let is_record = line.iter().any(|byte| !byte.is_ascii_whitespace());
        if is_record
            && builder.is_full_for(line.len())
            && let Some(part) = builder.take()
            && !emit(part)
        {
            return Err(JsonlError::Stopped);
        }
        if builder.first_line.is_none() && (is_record || builder.bytes.is_empty()) {
            builder.first_line = Some(line_number);
        }
        builder.bytes.extend_from_slice(&line);
        if !line.ends_with(b"\n") {
            builder.bytes.push(b'\n');
        }
        if is_record {
            builder.records += 1;
            builder.next_index += 1;
        }
    }
    if let Some(part) = builder.take()
        && !emit(part)
    {
        return Err(JsonlError::Stopped);
    }
    Ok(builder.next_index)
}

enum ArrayError {
    Json(serde_json::Error),
    Stopped,
}

/// Visits the array's elements one by one, as raw JSON text.
struct Elements<'a, F: FnMut(Part) -> bool> {
    builder: &'a mut Builder,
    emit: &'a mut F,
    stopped: &'a mut bool,
}

impl<'de, F: FnMut(Part) -> bool> Visitor<'de> for Elements<'_, F> {
    type Value = ();

    fn expecting(&self, formatter: &mut fmt::Formatter) -> fmt::Result {
        formatter.write_str("a JSON array")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(element) = seq.next_element::<Box<RawValue>>()? {
            let text = element.get().as_bytes();
            if self.builder.is_full_for(text.len() + 1)
                && let Some(part) = self.builder.take()
                && !(self.emit)(part)
            {
                *self.stopped = true;
                return Err(serde::de::Error::custom("stopped"));
            }
            if self.builder.records == 0 {
                self.builder.bytes.push(b'[');
            } else {
                self.builder.bytes.push(b',');
            }
            self.builder.bytes.extend_from_slice(text);
            self.builder.records += 1;
            self.builder.next_index += 1;
        }
        Ok(())
    }
}

impl<'de, F: FnMut(Part) -> bool> DeserializeSeed<'de> for Elements<'_, F> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_seq(self)
    }
}

fn split_array(
    reader: impl Read,
    limits: PartLimits,
    mut emit: impl FnMut(Part) -> bool,
) -> Result<u64, ArrayError> {
    let mut builder = Builder::new(limits, false);
    let mut stopped = false;
    let mut deserializer = serde_json::Deserializer::from_reader(reader);
    let elements = Elements {
        builder: &mut builder,
        emit: &mut emit,
        stopped: &mut stopped,
    };
    let outcome = elements
        .deserialize(&mut deserializer)
        .and_then(|()| deserializer.end());
    if stopped {
        return Err(ArrayError::Stopped);
    }
    outcome.map_err(ArrayError::Json)?;
    if let Some(part) = builder.take()
        && !emit(part)
    {
        return Err(ArrayError::Stopped);
    }
    Ok(builder.next_index)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(text: &str, records: u64) -> Result<Vec<Part>, SplitError> {
        let dir = std::env::temp_dir().join(format!("userhub-cli-parts-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("{:x}.input", Sha256::digest(text.as_bytes())[0]));
        std::fs::write(&path, text).unwrap();
        let mut parts = Vec::new();
        split_file(
            &path,
            PartLimits {
                records,
                bytes: 1 << 20,
            },
            |part| {
                parts.push(part);
                true
            },
        )?;
        Ok(parts)
    }

    #[test]
    fn jsonl_parts_hold_the_limit_and_keep_line_numbers() {
        let parts = split(
            "{\"a\":1}\n\n{\"a\":2}\n{\"a\":3}\n\n{\"a\":4}\n{\"a\":5}",
            2,
        )
        .unwrap();
        let shape: Vec<_> = parts
            .iter()
            .map(|part| (part.first_index, part.first_line, part.records))
            .collect();
        assert_eq!(
            shape,
            vec![(0, Some(1), 2), (2, Some(4), 2), (4, Some(7), 1)]
        );
        assert_eq!(&parts[0].bytes[..], b"{\"a\":1}\n\n{\"a\":2}\n");
        assert_eq!(&parts[1].bytes[..], b"{\"a\":3}\n\n{\"a\":4}\n");
        assert_eq!(&parts[2].bytes[..], b"{\"a\":5}\n", "a newline is added");
        assert!(parts.iter().all(|part| part.jsonl));
    }

    #[test]
    fn broken_lines_are_records_too() {
        let parts = split("{\"a\":1}\nnot json\n", 10).unwrap();
        assert_eq!(parts.len(), 1);
        assert_eq!(parts[0].records, 2);
    }

    #[test]
    fn json_arrays_are_split_into_arrays() {
        let parts = split(" [ {\"a\":1}, {\"a\": [1, 2]},\n 3 ]", 2).unwrap();
        assert_eq!(parts.len(), 2);
        assert_eq!(&parts[0].bytes[..], b"[{\"a\":1},{\"a\": [1, 2]}]");
        assert_eq!(&parts[1].bytes[..], b"[3]");
        assert_eq!(parts[1].first_index, 2);
        assert!(!parts[0].jsonl);
        assert_eq!(parts[0].first_line, None);
    }

    #[test]
    fn a_broken_array_or_an_empty_file_is_an_error() {
        assert!(matches!(
            split("[{\"a\":1}, {", 10),
            Err(SplitError::NotAnArray { .. })
        ));
        assert!(matches!(split("\n\n", 10), Err(SplitError::Empty { .. })));
        assert!(matches!(split("[]", 10), Err(SplitError::Empty { .. })));
    }

    #[test]
    fn keys_depend_on_the_action_and_the_bytes_only() {
        let first = split("{\"a\":1}\n", 10).unwrap().remove(0);
        let again = split("{\"a\":1}\n", 10).unwrap().remove(0);
        assert_eq!(
            first.idempotency_key("create_core_profiles"),
            again.idempotency_key("create_core_profiles")
        );
        assert_ne!(
            first.idempotency_key("create_core_profiles"),
            first.idempotency_key("update_core_profiles")
        );
        let key = first.idempotency_key("create_core_profiles");
        assert_eq!(key.len(), 70);
        assert!(key.bytes().all(|byte| byte.is_ascii_graphic()));
    }

    #[test]
    fn parts_also_close_at_the_byte_limit() {
        let dir = std::env::temp_dir().join(format!("userhub-cli-bytes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("input.jsonl");
        std::fs::write(&path, "{\"a\":\"xxxxxxxx\"}\n".repeat(10)).unwrap();
        let mut sizes = Vec::new();
        split_file(
            &path,
            PartLimits {
                records: 100,
                bytes: 40,
            },
            |part| {
                sizes.push(part.records);
                true
            },
        )
        .unwrap();
        assert_eq!(sizes, vec![2, 2, 2, 2, 2]);
    }
}
