//! Reading a create request in any of its encodings (url-encoded form, multipart with a JSONL or
//! JSON file part, JSON envelope; each optionally gzip) into an action and its records.

use crate::error::GatewayError;
use crate::gunzip::PartReader;
use crate::options::OptionFields;
use crate::problems::{ActionProblem, OptionProblem};
use crate::settings::GatewaySettings;
use axum::body::Body;
use axum::http::{HeaderMap, header};
use futures_util::StreamExt;
use serde::Deserialize;
use serde_json::value::RawValue;
use userhub_domain::record::read::RawMembers;
use userhub_domain::{TaskAction, TaskOptions};
use userhub_http_common::decode::MediaProblem;
use userhub_http_common::decode::{
    ContentEncoding, CsvCollector, PayloadCollector, PayloadFormat, PayloadProblem, RawRecord,
    collect, decoded_stream, read_columns, table_records,
};

/// Longest `action` text part we read.
const MAX_ACTION_BYTES: usize = 256;

/// A parsed request: what the intake takes.
pub use userhub_tasks::intake::Submission as ParsedRequest;

fn parse_action(text: Option<&str>) -> Result<TaskAction, GatewayError> {
    let Some(text) = text.map(str::trim).filter(|text| !text.is_empty()) else {
        return Err(ActionProblem::Missing.into());
    };
    // A revert task is made by `POST .../{task_id}/revert`, never asked for by name.
    text.parse()
        .ok()
        .filter(|action: &TaskAction| action.is_submittable())
        .ok_or_else(|| {
            ActionProblem::Unknown {
                given: text.to_owned(),
            }
            .into()
        })
}

/// The fields of a create request besides its records — `action` and the options — as they
/// arrive in any encoding. A name given twice, or one that is neither, is refused: a typo must
/// not pass silently.
#[derive(Debug, Default)]
struct RequestFields {
    action: Option<String>,
    /// EXT: a complete upload whose file holds the records.
    upload_id: Option<String>,
    options: OptionFields,
    /// The caller's key is read-only: a write action is refused as soon as it is read.
    read_only: bool,
}

impl RequestFields {
    fn new(read_only: bool) -> RequestFields {
        RequestFields {
            read_only,
            ..RequestFields::default()
        }
    }

    fn take(&mut self, name: &str, value: String) -> Result<(), GatewayError> {
        if name == "upload_id" {
            if self.upload_id.is_some() {
                return Err(GatewayError::RepeatedField(name.to_owned()));
            }
            self.upload_id = Some(value);
            return Ok(());
        }
        if name == "action" {
            if self.action.is_some() {
                return Err(GatewayError::RepeatedField(name.to_owned()));
            }
            if self.read_only {
                if let Ok(action) = value.trim().parse::<TaskAction>() {
                    if action.is_write() {
                        return Err(
                            userhub_tasks::TaskError::ReadOnlyKey(action.to_string()).into()
                        );
                    }
                }
            }
            self.action = Some(value);
            return Ok(());
        }
        if self.options.take(name, value)? {
            Ok(())
        } else {
            Err(GatewayError::UnknownField(name.to_owned()))
        }
    }

    fn finish(self) -> Result<(TaskAction, TaskOptions), GatewayError> {
        let action = parse_action(self.action.as_deref())?;
        let options = self.options.finish(action)?;
        Ok((action, options))
    }

    /// The request: the records `read` yields, or the upload it names (not both).
    fn into_request(
        mut self,
        read: Option<impl FnOnce() -> Result<(PayloadFormat, Vec<RawRecord>), GatewayError>>,
    ) -> Result<CreateRequest, GatewayError> {
        let upload_id = self.upload_id.take();
        let (action, options) = self.finish()?;
        match (read, upload_id) {
            (Some(_), Some(_)) => Err(PayloadProblem::PayloadAndUpload.into()),
            (None, Some(upload_id)) => Ok(CreateRequest::Upload(UploadTaskRequest {
                action,
                options,
                upload_id,
            })),
            (Some(read), None) => {
                let (format, records) = read()?;
                Ok(CreateRequest::Records(ParsedRequest {
                    action,
                    options,
                    format,
                    records,
                }))
            }
            (None, None) => Err(PayloadProblem::PayloadRequired.into()),
        }
    }
}

/// EXT: a create request that names a complete upload instead of carrying records.
#[derive(Debug)]
pub struct UploadTaskRequest {
    pub action: TaskAction,
    pub options: TaskOptions,
    pub upload_id: String,
}

/// What a create request asks for: a task of the records it carries, or of an upload's file.
#[derive(Debug)]
pub enum CreateRequest {
    Records(ParsedRequest),
    Upload(UploadTaskRequest),
}

/// The options (and, for a CSV body, `action`) of the query string; `wait` is read elsewhere.
fn query_fields(query: &str, fields: &mut RequestFields, csv: bool) -> Result<(), GatewayError> {
    for (name, value) in form_urlencoded::parse(query.as_bytes()) {
        match name.as_ref() {
            "wait" => {}
            "action" if csv => fields.take(&name, value.into_owned())?,
            other if crate::options::is_option(other) => fields.take(other, value.into_owned())?,
            other => return Err(GatewayError::UnknownParameter(other.to_owned())),
        }
    }
    Ok(())
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
    match userhub_http_common::decode::media_type(headers).as_str() {
        "application/x-www-form-urlencoded" => Ok(BodyKind::Form),
        "application/json" => Ok(BodyKind::Json),
        "text/csv" => Ok(BodyKind::Csv),
        "multipart/form-data" => multer::parse_boundary(content_type)
            .map(BodyKind::Multipart)
            .map_err(|_| PayloadProblem::NoBoundary.into()),
        "" => Err(MediaProblem::MissingContentType.into()),
        other => Err(MediaProblem::ContentType(other.to_owned()).into()),
    }
}

/// What the headers say about the body, checked before any of it is read.
pub struct BodySpec {
    kind: BodyKind,
    encoding: ContentEncoding,
    limit: u64,
    read_only: bool,
}

/// The largest body a read-only key may send: its tasks are exports, whose records are ids or
/// one selector, so that a read-only key cannot make the server read a large upload.
pub const READ_ONLY_BODY_BYTES: u64 = 4 * 1024 * 1024;

/// Checks content type, encoding and declared length (`read_only`: the caller's key is).
pub fn inspect_headers(
    headers: &HeaderMap,
    settings: &GatewaySettings,
    read_only: bool,
) -> Result<BodySpec, GatewayError> {
    let kind = body_kind(headers)?;
    let encoding_header = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok());
    let encoding = ContentEncoding::parse(encoding_header)
        .ok_or_else(|| MediaProblem::Encoding(encoding_header.unwrap_or_default().to_owned()))?;
    let limit = match kind {
        BodyKind::Multipart(_) => settings.max_multipart_bytes,
        BodyKind::Form | BodyKind::Json | BodyKind::Csv => settings.max_body_bytes,
    };
    let limit = if read_only {
        limit.min(READ_ONLY_BODY_BYTES)
    } else {
        limit
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
        read_only,
    })
}

/// Reads and splits the body; `record_limit` is the domain's records per request.
pub async fn read_request(
    spec: BodySpec,
    body: Body,
    query: &str,
    settings: &GatewaySettings,
    record_limit: usize,
) -> Result<CreateRequest, GatewayError> {
    let BodySpec {
        kind,
        encoding,
        limit,
        read_only,
    } = spec;
    let mut fields = RequestFields::new(read_only);
    query_fields(query, &mut fields, matches!(kind, BodyKind::Csv))?;
    let mut stream = decoded_stream(body, encoding, limit);
    match kind {
        BodyKind::Form => read_form(&collect(stream).await?, fields, record_limit),
        BodyKind::Json => read_json(&collect(stream).await?, fields, record_limit),
        BodyKind::Multipart(boundary) => {
            let mut multipart = multer::Multipart::new(stream, boundary);
            read_multipart(&mut multipart, fields, settings, limit, record_limit).await
        }
        BodyKind::Csv => {
            let (action, options) = fields.finish()?;
            let mut csv = CsvCollector::new(record_limit, settings.max_line_bytes);
            while let Some(chunk) = stream.next().await {
                csv.push(&chunk?)?;
            }
            Ok(CreateRequest::Records(ParsedRequest {
                action,
                options,
                format: PayloadFormat::Csv,
                records: csv.finish()?,
            }))
        }
    }
}

fn split_array(
    payload: &str,
    record_limit: usize,
) -> Result<(PayloadFormat, Vec<RawRecord>), GatewayError> {
    let records = userhub_http_common::decode::whole_array(payload.as_bytes(), record_limit)?;
    Ok((PayloadFormat::JsonArray, records))
}

fn read_form(
    body: &[u8],
    mut fields: RequestFields,
    record_limit: usize,
) -> Result<CreateRequest, GatewayError> {
    let mut payload = None;
    for (key, value) in form_urlencoded::parse(body) {
        if key == "payload" {
            if payload.is_some() {
                return Err(GatewayError::RepeatedField("payload".to_owned()));
            }
            payload = Some(value.into_owned());
        } else {
            fields.take(&key, value.into_owned())?;
        }
    }
    fields.into_request(payload.map(|payload| move || split_array(&payload, record_limit)))
}

/// The text of a JSON member that is an option: a string's content, else the JSON as written.
fn option_text(raw: &RawValue) -> String {
    serde_json::from_str::<String>(raw.get()).unwrap_or_else(|_| raw.get().to_owned())
}

/// What a JSON value is, for messages.
fn json_kind(text: &str) -> &'static str {
    match text.trim_start().as_bytes().first() {
        Some(b'[') => "an array",
        Some(b'"') => "a string",
        Some(b't' | b'f') => "a boolean",
        Some(b'n') => "null",
        Some(b'{') => "an object",
        _ => "a number",
    }
}

/// The members of a JSON object as raw values, or a request-level error naming what it was.
fn object_members<'a>(
    text: &'a str,
    what: &'static str,
) -> Result<Vec<(std::borrow::Cow<'a, str>, &'a RawValue)>, GatewayError> {
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let members = RawMembers::deserialize(&mut deserializer)
        .and_then(|members| deserializer.end().map(|()| members))
        .map_err(|source| PayloadProblem::NotJson { what, source })?;
    members.0.ok_or_else(|| {
        PayloadProblem::NotAnObject {
            what,
            kind: json_kind(text),
        }
        .into()
    })
}

fn read_json(
    body: &[u8],
    mut fields: RequestFields,
    record_limit: usize,
) -> Result<CreateRequest, GatewayError> {
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let text = std::str::from_utf8(body).map_err(|_| PayloadProblem::NotUtf8)?;
    let what = "the body (`{\"action\": ..., \"payload\": [...]}`)";
    let mut payload: Option<&RawValue> = None;
    let mut columns: Option<&RawValue> = None;
    let mut rows: Option<&RawValue> = None;
    let mut seen: Vec<String> = Vec::new();
    for (name, raw) in object_members(text, what)? {
        if seen.iter().any(|seen| *seen == name) {
            return Err(GatewayError::RepeatedField(name.into_owned()));
        }
        seen.push(name.clone().into_owned());
        match name.as_ref() {
            "payload" => payload = Some(raw),
            "columns" => columns = Some(raw),
            "rows" => rows = Some(raw),
            "action" => {
                let action = serde_json::from_str::<String>(raw.get())
                    .map_err(|_| ActionProblem::NotAString(json_kind(raw.get())))?;
                fields.take("action", action)?;
            }
            "upload_id" => {
                let upload_id = serde_json::from_str::<String>(raw.get())
                    .map_err(|_| PayloadProblem::UploadIdNotAString(json_kind(raw.get())))?;
                fields.take("upload_id", upload_id)?;
            }
            "options" => {
                for (option, value) in object_members(raw.get(), "`options`")? {
                    if !crate::options::is_option(&option) {
                        return Err(GatewayError::UnknownField(format!("options.{option}")));
                    }
                    if raw_is_null(value) {
                        continue;
                    }
                    fields.take(&option, option_text(value))?;
                }
            }
            other if crate::options::is_option(other) => {
                if !raw_is_null(raw) {
                    fields.take(other, option_text(raw))?;
                }
            }
            other => return Err(GatewayError::UnknownField(other.to_owned())),
        }
    }
    let records = match (payload, columns, rows) {
        (None, None, None) if fields.upload_id.is_some() => None,
        (None, None, None) => return Err(PayloadProblem::RecordsRequired.into()),
        other => Some(other),
    };
    fields.into_request(records.map(|parts| {
        move || match parts {
            (Some(payload), None, None) => split_array(payload.get(), record_limit),
            (None, Some(columns), Some(rows)) => {
                let columns = read_columns(columns)?;
                Ok((
                    PayloadFormat::Table,
                    table_records(&columns, rows, record_limit)?,
                ))
            }
            _ => Err(PayloadProblem::PayloadAndTable.into()),
        }
    }))
}

fn raw_is_null(raw: &RawValue) -> bool {
    raw.get().trim() == "null"
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
        if let Some(body_error) = inner.downcast_ref::<userhub_http_common::decode::BodyError>() {
            return GatewayError::from(body_error.clone());
        }
    }
    PayloadProblem::Multipart(error).into()
}

async fn read_multipart(
    multipart: &mut multer::Multipart<'_>,
    mut fields: RequestFields,
    settings: &GatewaySettings,
    limit: u64,
    record_limit: usize,
) -> Result<CreateRequest, GatewayError> {
    let mut payload: Option<(PayloadFormat, Vec<RawRecord>)> = None;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_owned();
        if name == "payload" {
            if payload.is_some() {
                return Err(GatewayError::RepeatedField(name));
            }
            let csv = is_csv_part(&field);
            let mut part = PartReader::new(limit);
            if csv {
                let mut text = CsvCollector::new(record_limit, settings.max_line_bytes);
                while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                    text.push(&part.decode(&chunk)?)?;
                }
                text.push(&part.finish()?)?;
                payload = Some((PayloadFormat::Csv, text.finish()?));
                continue;
            }
            let mut collector = PayloadCollector::new(record_limit, settings.max_line_bytes, false);
            while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
                collector.push(&part.decode(&chunk)?)?;
            }
            collector.push(&part.finish()?)?;
            payload = Some(collector.finish()?);
            continue;
        }
        if name != "action" && name != "upload_id" && !crate::options::is_option(&name) {
            return Err(GatewayError::UnknownField(if name.is_empty() {
                "(a part without a name)".to_owned()
            } else {
                name
            }));
        }
        let mut text = Vec::new();
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            if text.len() + chunk.len() > MAX_ACTION_BYTES {
                return Err(OptionProblem::TooLong(name).into());
            }
            text.extend_from_slice(&chunk);
        }
        fields.take(&name, String::from_utf8_lossy(&text).into_owned())?;
    }
    fields.into_request(payload.map(|payload| move || Ok(payload)))
}
