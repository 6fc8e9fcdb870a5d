//! Reading a create request in any of its encodings (url-encoded form, multipart with a JSONL or
//! JSON file part, JSON envelope; each optionally gzip) into an action and its records.

use crate::body::{ContentEncoding, collect, decoded_stream};
use crate::error::GatewayError;
use crate::options::OptionFields;
use crate::payload::{PayloadCollector, PayloadFormat, RawRecord};
use crate::settings::GatewaySettings;
use crate::tabular::{csv_records, table_records};
use axum::body::Body;
use axum::http::{HeaderMap, header};
use serde::Deserialize;
use serde_json::value::RawValue;
use userhub_domain::{TaskAction, TaskOptions};

/// Longest `action` text part we read.
const MAX_ACTION_BYTES: usize = 256;

/// A create request, read and split into records.
#[derive(Debug)]
pub struct ParsedRequest {
    pub action: TaskAction,
    pub options: TaskOptions,
    pub format: PayloadFormat,
    pub records: Vec<RawRecord>,
}

fn parse_action(text: Option<&str>) -> Result<TaskAction, GatewayError> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
        return Err(GatewayError::InvalidAction(
            "`action` is required".to_owned(),
        ));
    };
    text.parse().map_err(|_| {
        let known: Vec<&str> = TaskAction::ALL
            .iter()
            .map(|action| action.as_str())
            .collect();
        GatewayError::InvalidAction(format!(
            "unknown action `{text}`; expected one of {}",
            known.join(", ")
        ))
    })
}

enum BodyKind {
    Form,
    Json,
    Multipart(String),
    /// EXT: a CSV body; `action` and options come from the query string.
    Csv,
}

fn body_kind(headers: &HeaderMap) -> Result<BodyKind, GatewayError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or("");
    match crate::body::media_type(headers).as_str() {
        "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
        "application/json" => Ok(BodyKind::Json),
        "text/csv" => Ok(BodyKind::Csv),
        "multipart/form-data" => multer::parse_boundary(content_type)
            .map(BodyKind::Multipart)
            .map_err(|_| GatewayError::InvalidPayload("the multipart body has no boundary".to_owned())),
        "" => Err(GatewayError::UnsupportedMediaType(
            "a Content-Type is required: application/x-www-form-urlencoded, multipart/form-data, application/json or text/csv"
                .to_owned(),
        )),
        other => Err(GatewayError::UnsupportedMediaType(format!(
            "unsupported content type `{other}`; use application/x-www-form-urlencoded, multipart/form-data, \
             application/json or text/csv"
        ))),
    }
}

/// What the headers say about the body, checked before any of it is read.
pub struct BodySpec {
    kind: BodyKind,
    encoding: ContentEncoding,
    limit: u64,
}

/// Checks content type, encoding and declared length.
pub fn inspect_headers(
    headers: &HeaderMap,
    settings: &GatewaySettings,
) -> Result<BodySpec, GatewayError> {
    let kind = body_kind(headers)?;
    let encoding_header = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok());
    let encoding = ContentEncoding::parse(encoding_header).ok_or_else(|| {
        GatewayError::UnsupportedMediaType(format!(
            "unsupported content encoding `{}`; use gzip or none",
            encoding_header.unwrap_or_default()
        ))
    })?;
    let limit = match kind {
        BodyKind::Multipart(_) => settings.max_multipart_bytes,
        BodyKind::Form | BodyKind::Json | BodyKind::Csv => settings.max_body_bytes,
    };
    let declared_length = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if encoding == ContentEncoding::Identity && declared_length.is_some_and(|length| length > limit)
    {
        return Err(GatewayError::PayloadTooLarge { limit });
    }
    Ok(BodySpec {
        kind,
        encoding,
        limit,
    })
}

/// Reads and splits the body; `record_limit` is the domain's records per request.
pub async fn read_request(
    spec: BodySpec,
    body: Body,
    query: &str,
    settings: &GatewaySettings,
    record_limit: usize,
) -> Result<ParsedRequest, GatewayError> {
    let BodySpec {
        kind,
        encoding,
        limit,
    } = spec;
    let stream = decoded_stream(body, encoding, limit);
    match kind {
        BodyKind::Form => read_form(&collect(stream).await?, settings, record_limit),
        BodyKind::Json => read_json(&collect(stream).await?, settings, record_limit),
        BodyKind::Multipart(boundary) => {
            read_multipart(stream, boundary, settings, record_limit).await
        }
        BodyKind::Csv => read_csv(&collect(stream).await?, query, record_limit),
    }
}

/// A CSV body: `action` and the options are query parameters.
fn read_csv(body: &[u8], query: &str, record_limit: usize) -> Result<ParsedRequest, GatewayError> {
    let mut action = None;
    let mut options = OptionFields::default();
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        match key.as_ref() {
            "action" if action.is_none() => action = Some(value.into_owned()),
            name => {
                options.take(name, value.into_owned());
            }
        }
    }
    let action = parse_action(action.as_deref())?;
    let options = options.finish(action)?;
    Ok(ParsedRequest {
        action,
        options,
        format: PayloadFormat::Csv,
        records: csv_records(body, record_limit)?,
    })
}

fn split_array(
    payload: &str,
    settings: &GatewaySettings,
    record_limit: usize,
) -> Result<(PayloadFormat, Vec<RawRecord>), GatewayError> {
    let mut collector = PayloadCollector::new(record_limit, settings.max_line_bytes, true);
    collector.push(payload.as_bytes())?;
    Ok(collector.finish()?)
}

fn read_form(
    body: &[u8],
    settings: &GatewaySettings,
    record_limit: usize,
) -> Result<ParsedRequest, GatewayError> {
    let mut action = None;
    let mut payload = None;
    let mut options = OptionFields::default();
    for (key, value) in form_urlencoded::parse(body) {
        match key.as_ref() {
            "action" if action.is_none() => action = Some(value.into_owned()),
            "payload" if payload.is_none() => payload = Some(value.into_owned()),
            name => {
                options.take(name, value.into_owned());
            }
        }
    }
    let action = parse_action(action.as_deref())?;
    let options = options.finish(action)?;
    let payload =
        payload.ok_or_else(|| GatewayError::InvalidPayload("`payload` is required".to_owned()))?;
    let (format, records) = split_array(&payload, settings, record_limit)?;
    Ok(ParsedRequest {
        action,
        options,
        format,
        records,
    })
}

#[derive(Deserialize)]
struct JsonEnvelope<'a> {
    action: Option<String>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    /// EXT tabular form: column names, and `rows` of cells in column order.
    columns: Option<Vec<String>>,
    #[serde(borrow)]
    rows: Option<&'a RawValue>,
    #[serde(default)]
    match_by: serde_json::Value,
    #[serde(default)]
    skip_triggers: serde_json::Value,
    #[serde(default)]
    workflow_id: serde_json::Value,
}

fn read_json(
    body: &[u8],
    settings: &GatewaySettings,
    record_limit: usize,
) -> Result<ParsedRequest, GatewayError> {
    let envelope: JsonEnvelope<'_> = serde_json::from_slice(body).map_err(|error| {
        GatewayError::InvalidPayload(format!(
            "the body is not a JSON object with `action` and `payload`: {error}"
        ))
    })?;
    let action = parse_action(envelope.action.as_deref())?;
    let mut options = OptionFields::default();
    options.take_json("match_by", &envelope.match_by);
    options.take_json("skip_triggers", &envelope.skip_triggers);
    options.take_json("workflow_id", &envelope.workflow_id);
    let options = options.finish(action)?;
    let (format, records) = match (envelope.payload, envelope.columns, envelope.rows) {
        (Some(payload), None, None) => split_array(payload.get(), settings, record_limit)?,
        (None, Some(columns), Some(rows)) => (
            PayloadFormat::Table,
            table_records(&columns, rows, record_limit)?,
        ),
        (None, None, None) => {
            return Err(GatewayError::InvalidPayload(
                "`payload` (or `columns` with `rows`) is required".to_owned(),
            ));
        }
        _ => {
            return Err(GatewayError::InvalidPayload(
                "give either `payload` or `columns` with `rows`".to_owned(),
            ));
        }
    };
    Ok(ParsedRequest {
        action,
        options,
        format,
        records,
    })
}

/// A `payload` part sent as `text/csv` or named `*.csv`.
fn is_csv_part(field: &multer::Field<'_>) -> bool {
    let typed = field
        .content_type()
        .is_some_and(|mime| mime.essence_str().eq_ignore_ascii_case("text/csv"));
    let named = field
        .file_name()
        .is_some_and(|name| name.to_ascii_lowercase().ends_with(".csv"));
    typed || named
}

fn multipart_error(error: multer::Error) -> GatewayError {
    if let multer::Error::StreamReadFailed(inner) = &error {
        if let Some(body_error) = inner.downcast_ref::<crate::body::BodyError>() {
            return GatewayError::from(body_error.clone());
        }
    }
    GatewayError::InvalidPayload(format!("malformed multipart body: {error}"))
}

async fn read_multipart(
    stream: impl futures_util::Stream<Item = Result<bytes::Bytes, crate::body::BodyError>>
    + Send
    + Unpin
    + 'static,
    boundary: String,
    settings: &GatewaySettings,
    record_limit: usize,
) -> Result<ParsedRequest, GatewayError> {
    let mut multipart = multer::Multipart::new(stream, boundary);
    let mut action: Option<String> = None;
    let mut payload: Option<(PayloadFormat, Vec<RawRecord>)> = None;
    let mut options = OptionFields::default();
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        match field.name().map(str::to_owned).as_deref() {
            Some(name @ ("action" | "match_by" | "skip_triggers" | "workflow_id")) => {
                let mut text = Vec::new();
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    if text.len() + chunk.len() > MAX_ACTION_BYTES {
                        return Err(GatewayError::InvalidAction(format!("`{name}` is too long")));
                    }
                    text.extend_from_slice(&chunk);
                }
                let text = String::from_utf8_lossy(&text).into_owned();
                if name == "action" {
                    action = Some(text);
                } else {
                    options.take(name, text);
                }
            }
            Some("payload") => {
                if payload.is_some() {
                    return Err(GatewayError::InvalidPayload(
                        "`payload` appears more than once".to_owned(),
                    ));
                }
                if is_csv_part(&field) {
                    let mut text = Vec::new();
                    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                        text.extend_from_slice(&chunk);
                    }
                    payload = Some((PayloadFormat::Csv, csv_records(&text, record_limit)?));
                    continue;
                }
                let mut collector =
                    PayloadCollector::new(record_limit, settings.max_line_bytes, false);
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    collector.push(&chunk)?;
                }
                payload = Some(collector.finish()?);
            }
            _ => while field.chunk().await.map_err(multipart_error)?.is_some() {},
        }
    }
    let action = parse_action(action.as_deref())?;
    let options = options.finish(action)?;
    let (format, records) =
        payload.ok_or_else(|| GatewayError::InvalidPayload("`payload` is required".to_owned()))?;
    Ok(ParsedRequest {
        action,
        options,
        format,
        records,
    })
}
