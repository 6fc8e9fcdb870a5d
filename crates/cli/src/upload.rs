//! A file sent as one resumable upload (the server's tus 1.0 endpoint), in PATCH requests of a
//! few MiB. `upload.json` in the output directory remembers the upload, so that a run started
//! again after an interruption asks the server how far it got and sends only the rest.

use crate::api::{ApiClient, ApiError};
use crate::error::CliError;
use crate::ui::Ui;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// Bytes sent per PATCH request (what an interruption may cost).
const PATCH_BYTES: u64 = 8 * 1024 * 1024;
/// Where the upload of an import is remembered.
const STATE_FILE: &str = "upload.json";
/// PATCH requests that may fail in a row before the upload stops.
const PATCH_ATTEMPTS: u32 = 5;

/// What an import remembers of its upload: the file as it was, and where it goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct UploadState {
    file: String,
    length: u64,
    /// The file's modification time (seconds since the epoch): a changed file starts over.
    modified: u64,
    url: String,
}

/// The largest upload the server takes, or `None` if it takes none (an older server).
pub async fn max_upload_bytes(client: &ApiClient) -> Result<Option<u64>, ApiError> {
    let url = client.uploads_url();
    let response = client
        .send_accepting(
            &url,
            || client.http().request(reqwest::Method::OPTIONS, &url),
            &[404, 405],
        )
        .await?;
    if !response.status().is_success() {
        return Ok(None);
    }
    Ok(response
        .headers()
        .get("tus-max-size")
        .and_then(|value| value.to_str().ok()?.parse().ok()))
}

fn tus(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    request.header("tus-resumable", "1.0.0")
}

fn offset_of(response: &reqwest::Response) -> Option<u64> {
    response
        .headers()
        .get("upload-offset")
        .and_then(|value| value.to_str().ok()?.parse().ok())
}

/// The server's offset of the upload at `url`, or `None` if it is gone (expired, deleted).
async fn server_offset(client: &ApiClient, url: &str) -> Result<Option<u64>, ApiError> {
    let response = client
        .send_accepting(url, || tus(client.http().head(url)), &[404, 410])
        .await?;
    Ok(offset_of(&response).filter(|_| response.status().is_success()))
}

/// Creates an upload of `length` bytes named after `file`; its URL.
async fn create(client: &ApiClient, file: &Path, length: u64) -> Result<String, ApiError> {
    let name = file.file_name().map_or_else(
        || "input".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    );
    let encode = |text: &str| base64::engine::general_purpose::STANDARD.encode(text);
    let lower = name.to_ascii_lowercase();
    let mut metadata = format!("filename {}", encode(&name));
    if !lower.trim_end_matches(".gz").ends_with(".json") {
        metadata.push_str(&format!(",content_type {}", encode("application/x-ndjson")));
    }
    let url = client.uploads_url();
    let response = client
        .send(&url, || {
            tus(client.http().post(&url))
                .header("upload-length", length)
                .header("upload-metadata", &metadata)
        })
        .await?;
    let location = response
        .headers()
        .get("location")
        .and_then(|value| value.to_str().ok())
        .ok_or_else(|| ApiError::Protocol {
            url: url.clone(),
            reason: "the upload was created without a Location".to_owned(),
        })?;
    Ok(client.absolute(location))
}

/// Sends `bytes` at `offset`; the server's new offset.
async fn patch(
    client: &ApiClient,
    url: &str,
    offset: u64,
    bytes: Vec<u8>,
) -> Result<u64, ApiError> {
    let body = bytes::Bytes::from(bytes);
    let response = client
        .send(url, || {
            tus(client.http().patch(url))
                .header("upload-offset", offset)
                .header("content-type", "application/offset+octet-stream")
                .body(body.clone())
        })
        .await?;
    offset_of(&response).ok_or_else(|| ApiError::Protocol {
        url: url.to_owned(),
        reason: "a PATCH was answered without Upload-Offset".to_owned(),
    })
}

fn read_at(file: &Path, offset: u64, length: u64) -> Result<Vec<u8>, CliError> {
    let fail =
        |error: std::io::Error| CliError::Usage(format!("cannot read {}: {error}", file.display()));
    let mut handle = std::fs::File::open(file).map_err(fail)?;
    handle.seek(SeekFrom::Start(offset)).map_err(fail)?;
    let mut bytes = Vec::with_capacity(length as usize);
    handle.take(length).read_to_end(&mut bytes).map_err(fail)?;
    Ok(bytes)
}

fn state_of(file: &Path) -> Result<(u64, u64), CliError> {
    let meta = std::fs::metadata(file)
        .map_err(|error| CliError::Usage(format!("cannot read {}: {error}", file.display())))?;
    let modified = meta
        .modified()
        .ok()
        .and_then(|time| time.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |elapsed| elapsed.as_secs());
    Ok((meta.len(), modified))
}

/// Where the upload of `file` stands: resumed from an earlier run, or begun now.
async fn begin(
    client: &ApiClient,
    ui: &Ui,
    file: &Path,
    out_dir: &Path,
) -> Result<(UploadState, u64), CliError> {
    let (length, modified) = state_of(file)?;
    let state_path = out_dir.join(STATE_FILE);
    let earlier: Option<UploadState> = std::fs::read(&state_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    let name = file.display().to_string();
    if let Some(state) = earlier.filter(|state| {
        (state.file.as_str(), state.length, state.modified) == (name.as_str(), length, modified)
    }) {
        if let Some(offset) = server_offset(client, &state.url).await? {
            ui.line(format!("resuming the upload at byte {offset} of {length}"));
            return Ok((state, offset));
        }
    }
    let url = create(client, file, length).await?;
    let state = UploadState {
        file: name,
        length,
        modified,
        url,
    };
    let text =
        serde_json::to_vec_pretty(&state).map_err(|error| CliError::write(&state_path, error))?;
    std::fs::write(&state_path, text).map_err(|error| CliError::write(&state_path, error))?;
    Ok((state, 0))
}

/// Uploads `file` (resuming an upload an earlier run began); the upload's id.
pub async fn upload_file(
    client: &ApiClient,
    ui: &Ui,
    file: &Path,
    out_dir: &Path,
) -> Result<String, CliError> {
    let (state, mut offset) = begin(client, ui, file, out_dir).await?;
    let bar = ui.bar("upload", state.length, "bytes");
    bar.add(offset);
    let mut failures = 0;
    while offset < state.length {
        let bytes = read_at(file, offset, PATCH_BYTES.min(state.length - offset))?;
        match patch(client, &state.url, offset, bytes).await {
            Ok(now) => {
                bar.add(now.saturating_sub(offset));
                offset = now;
                failures = 0;
            }
            // The server may hold part of what was sent: ask it where to go on.
            Err(error) if error.is_retryable() && failures + 1 < PATCH_ATTEMPTS => {
                failures += 1;
                let now = server_offset(client, &state.url).await?.ok_or(error)?;
                bar.add(now.saturating_sub(offset));
                offset = now;
            }
            Err(error) => return Err(error.into()),
        }
    }
    bar.finish();
    let id = state.url.rsplit('/').next().unwrap_or_default().to_owned();
    Ok(id)
}
