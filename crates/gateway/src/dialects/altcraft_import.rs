//! Altcraft (seed 004): `POST /api/v1.1/profiles/import_batch`, JSON or XML, with the `token` in
//! the body, upserts `data[]` synchronously, matching by `email` (default), `phone`,
//! `profile_id` or `custom` + `field_name`; `result[]` repeats the order of `data[]`. Other
//! matching modes are answered with a clear "unsupported" error. `skip_triggers` suppresses the
//! profile events. Also the profile mapping that seed 003's workflow import shares.

use super::{CanonicalTask, DialectError, Ran, admit, error_text, read_body, record_limit, run};
use crate::Gateway;
use crate::payload::RawRecord;
use crate::sync::RecordOutcome;
use crate::tabular::json_record;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};
use userhub_domain::{IdentityKind, MatchBy, TaskAction, TaskOptions};

/// Altcraft's default request body limit.
pub(super) const MAX_BODY_BYTES: u64 = 10 * 1024 * 1024;
const SUCCESS: &str = "Successful operation";

/// The answer's encoding, chosen by the request's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Encoding {
    Json,
    Xml,
}

impl Encoding {
    pub(super) fn of(headers: &HeaderMap) -> Option<Encoding> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|value| value.to_str().ok())
            .unwrap_or("application/json");
        let essence = content_type
            .split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase();
        match essence.as_str() {
            "application/json" | "" => Some(Encoding::Json),
            "application/xml" | "text/xml" => Some(Encoding::Xml),
            _ => None,
        }
    }

    pub(super) fn render(self, status: StatusCode, body: &Value) -> Response {
        match self {
            Encoding::Json => (status, axum::Json(body.clone())).into_response(),
            Encoding::Xml => (
                status,
                [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
                super::xml::from_json("xml", body),
            )
                .into_response(),
        }
    }
}

/// Altcraft's error answer: `{error, error_text, error_debug}` with the HTTP status of `error`.
pub(super) fn failure(encoding: Encoding, error: DialectError) -> Response {
    let code = error.status();
    let text = match &error {
        DialectError::Unauthorized(_) => "Invalid token",
        DialectError::RateLimited(_) => "Too many requests",
        DialectError::NotFound(_) => "Not found",
        DialectError::Unavailable(_) => "Service unavailable",
        DialectError::Internal(_) => "Internal error",
        _ => "Invalid request",
    };
    let body = json!({"error": code, "error_text": text, "error_debug": error.message()});
    let mut response = encoding.render(
        StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
        &body,
    );
    response.headers_mut().extend(error.headers());
    response
}

/// Reads a JSON or XML body into its JSON object.
pub(super) async fn read_document(
    gateway: &Gateway,
    headers: &HeaderMap,
    body: Body,
    encoding: Encoding,
) -> Result<Map<String, Value>, DialectError> {
    let limit = MAX_BODY_BYTES.min(gateway.settings.max_body_bytes);
    let bytes = read_body(headers, body, limit)
        .await
        .map_err(|error| match error {
            DialectError::TooLarge(_) => {
                DialectError::BadRequest("http: request body too large".to_owned())
            }
            other => other,
        })?;
    let value = match encoding {
        Encoding::Json => serde_json::from_slice::<Value>(&bytes)
            .map_err(|error| DialectError::BadRequest(format!("invalid JSON: {error}")))?,
        Encoding::Xml => super::xml::to_json(&bytes).map_err(DialectError::BadRequest)?,
    };
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(DialectError::BadRequest(
            "the body must be an object".to_owned(),
        )),
    }
}

/// A boolean parameter given as a boolean or its text.
pub(super) fn flag(document: &Map<String, Value>, name: &str) -> Result<bool, DialectError> {
    match document.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(Value::String(text)) if text == "true" || text == "false" => Ok(text == "true"),
        Some(Value::Number(number)) if number.to_string() == "0" || number.to_string() == "1" => {
            Ok(number.to_string() == "1")
        }
        Some(other) => Err(DialectError::BadRequest(format!(
            "`{name}` must be true or false, not {other}"
        ))),
    }
}

/// The matching mode as a match key.
pub(super) fn match_by(document: &Map<String, Value>) -> Result<MatchBy, DialectError> {
    let matching = match document.get("matching") {
        None | Some(Value::Null) => "email",
        Some(Value::String(mode)) => mode.trim(),
        Some(other) => {
            return Err(DialectError::BadRequest(format!(
                "`matching` must be a string, not {other}"
            )));
        }
    };
    match matching {
        "email" => Ok(MatchBy::Identity(IdentityKind::Email)),
        "phone" => Ok(MatchBy::Identity(IdentityKind::PhoneNumber)),
        "profile_id" => Ok(MatchBy::CoreProfileId),
        "custom" => {
            let name = document
                .get("field_name")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|name| !name.is_empty())
                .ok_or_else(|| {
                    DialectError::BadRequest(
                        "`field_name` is required with \"matching\": \"custom\"".to_owned(),
                    )
                })?;
            Ok(MatchBy::CustomField(name.to_owned()))
        }
        other => Err(DialectError::BadRequest(format!(
            "unsupported matching `{other}`: userhub matches by email, phone, profile_id or custom \
             (with field_name)"
        ))),
    }
}

/// One profile's data as a canonical upsert record: `email`, `phone`/`phones` → identities,
/// `_fname`/`_lname` → names, `profile_id` → `core-profile-id`, anything else → custom fields.
pub(super) fn profile_record(data: &Map<String, Value>) -> Map<String, Value> {
    let mut record = Map::new();
    let mut identities = Vec::new();
    let mut names = Map::new();
    let mut custom = Map::new();
    for (key, value) in data {
        match key.as_str() {
            "email" => {
                identities.extend(super::identity_text(value).map(|email| json!({"email": email})))
            }
            "phone" | "phones" => {
                let phones = match value {
                    Value::Array(items) => items.iter().filter_map(super::identity_text).collect(),
                    single => super::identity_text(single).into_iter().collect::<Vec<_>>(),
                };
                identities.extend(
                    phones
                        .into_iter()
                        .map(|phone| json!({"phone_number": phone})),
                );
            }
            "_fname" => {
                names.insert("first_name".to_owned(), value.clone());
            }
            "_lname" => {
                names.insert("last_name".to_owned(), value.clone());
            }
            "profile_id" => {
                record.insert("core-profile-id".to_owned(), value.clone());
            }
            _ => {
                custom.insert(key.clone(), value.clone());
            }
        }
    }
    if !identities.is_empty() {
        record.insert("identities".to_owned(), Value::Array(identities));
    }
    if !names.is_empty() {
        record.insert("names".to_owned(), Value::Object(names));
    }
    if !custom.is_empty() {
        record.insert("custom_fields".to_owned(), Value::Object(custom));
    }
    record
}

/// The records of `data` (an array, or one object as XML gives for a single element), each
/// item's profile found by `profile_of`.
pub(super) fn records_of(
    data: Option<&Value>,
    limit: usize,
    profile_of: impl Fn(&Value) -> Option<&Map<String, Value>>,
) -> Result<Vec<RawRecord>, DialectError> {
    let items: Vec<&Value> = match data {
        Some(Value::Array(items)) => items.iter().collect(),
        Some(item @ Value::Object(_)) => vec![item],
        _ => {
            return Err(DialectError::BadRequest(
                "`data` must be an array of profiles".to_owned(),
            ));
        }
    };
    if items.is_empty() {
        return Err(DialectError::BadRequest(
            "`data` holds no profiles".to_owned(),
        ));
    }
    if items.len() > limit {
        return Err(DialectError::TooLarge(format!(
            "at most {limit} profiles per request"
        )));
    }
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(index, item)| match profile_of(item) {
            Some(data) => json_record(index as u32, None, &profile_record(data)),
            None => crate::tabular::broken_record(
                index as u32,
                None,
                item.to_string(),
                "each item must be an object of profile fields".to_owned(),
            ),
        })
        .collect())
}

/// One record's entry in Altcraft's `result` array.
pub(super) fn result_entry(outcome: Option<&RecordOutcome>) -> Value {
    match outcome {
        Some(RecordOutcome::Succeeded(entry)) => json!({
            "error": 0,
            "error_text": SUCCESS,
            "profile_id": entry["core-profile-id"].to_string(),
        }),
        Some(RecordOutcome::Failed(entry)) => json!({
            "error": 400,
            "error_text": error_text(entry),
        }),
        None => json!({"error": 500, "error_text": "no outcome"}),
    }
}

/// `POST /api/v1.1/profiles/import_batch`.
pub async fn import_batch(
    State(gateway): State<Gateway>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let Some(encoding) = Encoding::of(&headers) else {
        let error = DialectError::BadRequest(
            "use Content-Type: application/json or application/xml".to_owned(),
        );
        return failure(Encoding::Json, error);
    };
    match import(&gateway, &headers, body, encoding).await {
        Ok(response) => response,
        Err(error) => failure(encoding, error),
    }
}

async fn import(
    gateway: &Gateway,
    headers: &HeaderMap,
    body: Body,
    encoding: Encoding,
) -> Result<Response, DialectError> {
    let document = read_document(gateway, headers, body, encoding).await?;
    let principal =
        super::principal_of_key(gateway, document.get("token").and_then(Value::as_str)).await?;
    admit(gateway, &principal, None)?;
    if !document.get("db_id").is_some_and(|id| {
        id.is_i64() || id.as_str().is_some_and(|text| text.parse::<i64>().is_ok())
    }) {
        return Err(DialectError::BadRequest(
            "`db_id` (an integer) is required".to_owned(),
        ));
    }
    let options = TaskOptions {
        match_by: Some(match_by(&document)?),
        skip_triggers: flag(&document, "skip_triggers")?,
        workflow_id: None,
    };
    let records = records_of(
        document.get("data"),
        record_limit(gateway, &principal),
        Value::as_object,
    )?;
    let task = CanonicalTask {
        action: TaskAction::UpsertCoreProfiles,
        options,
        product: "altcraft",
        records,
    };
    let answer = match run(gateway, &principal, task, true).await? {
        Ran::Finished(finished) => {
            let result: Vec<Value> = finished
                .outcomes
                .iter()
                .map(|outcome| result_entry(outcome.as_ref()))
                .collect();
            json!({"error": 0, "error_text": SUCCESS, "result": result})
        }
        Ran::Accepted(created) => json!({
            "error": 0,
            "error_text": "The import is still running; check it with /api/v1.1/tasks/status",
            "task_id": created.task_id.to_string(),
        }),
    };
    Ok(encoding.render(StatusCode::OK, &answer))
}
