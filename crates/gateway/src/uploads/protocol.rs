//! The tus 1.0 request headers an upload reads — `Tus-Resumable`, `Upload-Length`,
//! `Upload-Offset`, `Upload-Metadata` — checked and typed, and the dates it answers with.

use super::error::UploadError;
use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chrono::{DateTime, Utc};
use userhub_domain::upload::{UploadFormat, UploadMetadata};

/// The protocol version spoken (and the only one accepted).
pub const TUS_VERSION: &str = "1.0.0";
/// The `Tus-Resumable` header every answer carries.
pub const TUS_RESUMABLE: &str = TUS_VERSION;
/// The extensions supported.
pub const TUS_EXTENSIONS: &str = "creation,creation-with-upload,termination,expiration";
/// The content type of upload bytes.
pub const OFFSET_OCTET_STREAM: &str = "application/offset+octet-stream";

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|value| value.to_str().ok())
}

/// Refuses a request that does not speak tus 1.0.0.
pub fn check_resumable(headers: &HeaderMap) -> Result<(), UploadError> {
    match header(headers, "tus-resumable") {
        Some(version) if version.trim() == TUS_VERSION => Ok(()),
        _ => Err(UploadError::UnsupportedVersion),
    }
}

/// A non-negative integer header, required.
fn byte_count(headers: &HeaderMap, name: &'static str) -> Result<i64, UploadError> {
    let invalid = |problem| UploadError::InvalidHeader { name, problem };
    let text = header(headers, name).ok_or(invalid("is required"))?;
    let text = text.trim();
    if text.is_empty() || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(invalid("must be a non-negative integer"));
    }
    text.parse().map_err(|_| invalid("is too large"))
}

/// `Upload-Length` (deferred lengths are not supported).
pub fn upload_length(headers: &HeaderMap) -> Result<i64, UploadError> {
    if headers.contains_key("upload-defer-length") {
        return Err(UploadError::InvalidHeader {
            name: "Upload-Defer-Length",
            problem: "is not supported: give `Upload-Length`",
        });
    }
    byte_count(headers, "upload-length")
}

/// `Upload-Offset`.
pub fn upload_offset(headers: &HeaderMap) -> Result<i64, UploadError> {
    byte_count(headers, "upload-offset")
}

/// Whether the request's body is upload bytes (`application/offset+octet-stream`).
pub fn is_offset_stream(headers: &HeaderMap) -> bool {
    header(headers, "content-type").is_some_and(|content_type| {
        content_type
            .split(';')
            .next()
            .is_some_and(|essence| essence.trim().eq_ignore_ascii_case(OFFSET_OCTET_STREAM))
    })
}

/// `Upload-Metadata`: comma-separated `key base64(value)` pairs. The file's format comes from
/// `content_type` (or `filetype`, as browser clients send), else from `filename`'s extension;
/// `content_encoding: gzip` marks compressed bytes (so does a `.gz` file name).
pub fn upload_metadata(headers: &HeaderMap) -> Result<UploadMetadata, UploadError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    for pair in header(headers, "upload-metadata")
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|pair| !pair.is_empty())
    {
        let (key, encoded) = pair.split_once(' ').unwrap_or((pair, ""));
        let value = STANDARD
            .decode(encoded.trim())
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok())
            .ok_or_else(|| {
                UploadError::InvalidMetadata(format!("the value of `{key}` is not base64 UTF-8"))
            })?;
        if pairs.iter().any(|(known, _)| known == key) {
            return Err(UploadError::InvalidMetadata(format!(
                "`{key}` is given twice"
            )));
        }
        pairs.push((key.to_owned(), value));
    }
    let value = |key: &str| {
        pairs
            .iter()
            .find(|(known, _)| known == key)
            .map(|(_, value)| value.as_str())
    };
    let filename = value("filename").map(str::to_owned);
    let by_name = filename.as_deref().and_then(UploadFormat::of_file_name);
    let declared = value("content_type").or_else(|| value("filetype"));
    let content_type = match declared {
        Some(declared) => UploadFormat::of_content_type(declared).ok_or_else(|| {
            UploadError::InvalidMetadata(format!(
                "content type `{declared}` is not one of application/x-ndjson, text/csv, \
                 application/json"
            ))
        })?,
        None => by_name.map(|(format, _)| format).ok_or_else(|| {
            UploadError::InvalidMetadata(
                "give `content_type` (application/x-ndjson, text/csv or application/json) or a \
                 `filename` ending in .jsonl, .ndjson, .csv or .json"
                    .to_owned(),
            )
        })?,
    };
    let gzip = match value("content_encoding") {
        Some(encoding) if encoding.eq_ignore_ascii_case("gzip") => true,
        Some(encoding) if encoding.eq_ignore_ascii_case("identity") => false,
        Some(other) => {
            return Err(UploadError::InvalidMetadata(format!(
                "content encoding `{other}` is not supported (gzip or identity)"
            )));
        }
        None => by_name.is_some_and(|(_, gzip)| gzip),
    };
    Ok(UploadMetadata {
        filename,
        content_type,
        gzip,
    })
}

/// An HTTP date (`Upload-Expires`).
pub fn http_date(at: DateTime<Utc>) -> String {
    at.format("%a, %d %b %Y %H:%M:%S GMT").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    fn encoded(text: &str) -> String {
        STANDARD.encode(text)
    }

    #[test]
    fn metadata_names_the_format_by_type_or_file_name() {
        let by_type = headers(&[(
            "upload-metadata",
            &format!(
                "filename {},content_type {},content_encoding {}",
                encoded("people.txt"),
                encoded("text/csv"),
                encoded("gzip")
            ),
        )]);
        let metadata = upload_metadata(&by_type).unwrap();
        assert_eq!(metadata.content_type, UploadFormat::Csv);
        assert!(metadata.gzip);
        assert_eq!(metadata.filename.as_deref(), Some("people.txt"));
        let by_name = headers(&[(
            "upload-metadata",
            &format!("filename {}", encoded("dump.ndjson.gz")),
        )]);
        let metadata = upload_metadata(&by_name).unwrap();
        assert_eq!(
            (metadata.content_type, metadata.gzip),
            (UploadFormat::JsonLines, true)
        );
        for bad in [
            String::new(),
            format!("content_type {}", encoded("text/plain")),
            "filename !!!".to_owned(),
            format!("filename {0},filename {0}", encoded("a.csv")),
            format!(
                "filename {},content_encoding {}",
                encoded("a.csv"),
                encoded("br")
            ),
        ] {
            let refused = upload_metadata(&headers(&[("upload-metadata", &bad)]));
            assert!(
                matches!(refused, Err(UploadError::InvalidMetadata(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn lengths_and_offsets_are_non_negative_integers() {
        assert_eq!(
            upload_length(&headers(&[("upload-length", "12")])).unwrap(),
            12
        );
        for bad in ["-1", "1.5", "", "x", "99999999999999999999"] {
            assert!(
                upload_offset(&headers(&[("upload-offset", bad)])).is_err(),
                "{bad}"
            );
        }
        assert!(upload_offset(&HeaderMap::new()).is_err());
        assert!(upload_length(&headers(&[("upload-defer-length", "1")])).is_err());
        assert!(check_resumable(&headers(&[("tus-resumable", "1.0.0")])).is_ok());
        assert!(check_resumable(&headers(&[("tus-resumable", "0.2.2")])).is_err());
        assert!(is_offset_stream(&headers(&[(
            "content-type",
            "Application/Offset+Octet-Stream"
        )])));
    }
}
