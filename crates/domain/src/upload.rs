//! Resumable uploads (EXT, tus 1.0): what an upload says about its file — its name, the format
//! of its records and whether it is gzip-compressed — from the client's `Upload-Metadata`.

use serde::{Deserialize, Serialize};

/// The record formats a file may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum UploadFormat {
    /// One JSON record per line (`application/x-ndjson`).
    #[serde(rename = "application/x-ndjson")]
    JsonLines,
    /// CSV with a header line (`text/csv`).
    #[serde(rename = "text/csv")]
    Csv,
    /// A JSON array of records (`application/json`).
    #[serde(rename = "application/json")]
    JsonArray,
}

impl UploadFormat {
    /// The format of a content type (parameters such as `; charset=utf-8` ignored).
    pub fn of_content_type(content_type: &str) -> Option<UploadFormat> {
        let essence = content_type.split(';').next()?.trim().to_ascii_lowercase();
        match essence.as_str() {
            "application/x-ndjson" | "application/jsonl" | "application/jsonlines" => {
                Some(UploadFormat::JsonLines)
            }
            "text/csv" => Some(UploadFormat::Csv),
            "application/json" => Some(UploadFormat::JsonArray),
            _ => None,
        }
    }

    /// The format a file name suggests (`.jsonl`, `.ndjson`, `.csv`, `.json`, each optionally
    /// followed by `.gz`), and whether it is compressed.
    pub fn of_file_name(name: &str) -> Option<(UploadFormat, bool)> {
        let lower = name.to_ascii_lowercase();
        let (stem, gzip) = match lower.strip_suffix(".gz") {
            Some(stem) => (stem, true),
            None => (lower.as_str(), false),
        };
        let format = match stem.rsplit_once('.')?.1 {
            "jsonl" | "ndjson" => UploadFormat::JsonLines,
            "csv" => UploadFormat::Csv,
            "json" => UploadFormat::JsonArray,
            _ => return None,
        };
        Some((format, gzip))
    }
}

/// An upload's file, as its metadata describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filename: Option<String>,
    pub content_type: UploadFormat,
    /// Whether the bytes are gzip-compressed (`content_encoding: gzip`).
    #[serde(default)]
    pub gzip: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_come_from_content_types_and_file_names() {
        assert_eq!(
            UploadFormat::of_content_type("Text/CSV; charset=utf-8"),
            Some(UploadFormat::Csv)
        );
        assert_eq!(UploadFormat::of_content_type("text/plain"), None);
        assert_eq!(
            UploadFormat::of_file_name("people.ndjson.gz"),
            Some((UploadFormat::JsonLines, true))
        );
        assert_eq!(
            UploadFormat::of_file_name("export.JSON"),
            Some((UploadFormat::JsonArray, false))
        );
        assert_eq!(UploadFormat::of_file_name("notes.txt"), None);
        assert_eq!(UploadFormat::of_file_name("noextension"), None);
    }
}
