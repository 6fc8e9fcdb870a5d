//! Altcraft (seed 004): `POST /api/v1.1/profiles/import_batch`, JSON or XML, with the `token` in
//! the body, upserts `data[]` synchronously, matching by `email` (default), `phone`,
//! `profile_id` or `custom` + `field_name`; `result[]` repeats the order of `data[]`. Other
//! matching modes are answered with a clear "unsupported" error. `skip_triggers` suppresses the
//! profile events. Also the profile mapping that seed 003's workflow import shares.

use crate::Compat;
use crate::ProfileDraft;
use crate::RawMembers;
use crate::admission::{Admission, Admitted, KeyPlace, admit_request};
use crate::draft::DraftRecord;
use crate::{CanonicalTask, DialectError, DialectRequest, Ran, error_text, record_limit, run};
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use userhub_domain::{IdentityKind, MatchBy, TaskAction, TaskOptions};
use userhub_http_common::decode::RawRecord;
use userhub_http_common::decode::{failed_record, json_record};
use userhub_tasks::readback::RecordOutcome;

/// The input format of `import_batch` tasks.
pub(super) const IMPORT_PRODUCT: &str = "altcraft";
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
        match userhub_http_common::decode::media_type(headers).as_str() {
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
                crate::xml::from_json("xml", body),
            )
                .into_response(),
        }
    }
}

/// Altcraft's error answer: `{error, error_text, error_debug}` with the HTTP status of `error`.
pub(super) fn failure(encoding: Encoding, error: DialectError) -> Response {
    error.log();
    let code = error.status();
    let text = match &error {
        DialectError::Unauthorized(_) => "Invalid token",
        DialectError::RateLimited(_) | DialectError::AuthThrottled(_) => "Too many requests",
        DialectError::NotFound(_) => "Not found",
        _ if error.is_unavailable() => "Service unavailable",
        DialectError::Fault(_) => "Internal error",
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

/// Reads a JSON or XML body into its JSON object, its size bounded first.
fn read_document(bytes: &[u8], encoding: Encoding) -> Result<Map<String, Value>, DialectError> {
    let value = match encoding {
        Encoding::Json => {
            crate::check_document_size(bytes)?;
            serde_json::from_slice::<Value>(bytes)
                .map_err(|error| DialectError::BadRequest(format!("invalid JSON: {error}")))?
        }
        Encoding::Xml => crate::xml::to_json(bytes, crate::MAX_DOCUMENT_VALUES)
            .map_err(DialectError::BadRequest)?,
    };
    match value {
        Value::Object(object) => Ok(object),
        _ => Err(DialectError::BadRequest(
            "the body must be an object".to_owned(),
        )),
    }
}

/// Admits the request by its `token` (read-only keys only where `writes` is false), then
/// reads its document.
pub(super) async fn authorized_document(
    compat: &Compat,
    request: DialectRequest,
    encoding: Encoding,
    writes: bool,
) -> Result<(Map<String, Value>, Admitted), DialectError> {
    let place = match encoding {
        Encoding::Json => KeyPlace::JsonMember("token"),
        Encoding::Xml => KeyPlace::XmlChild("token"),
    };
    let admission = Admission {
        place,
        limit: MAX_BODY_BYTES.min(compat.settings.max_body_bytes),
        writes,
        product_rate: |_| None,
    };
    let admitted =
        admit_request(compat, request, admission)
            .await
            .map_err(|error| match error {
                DialectError::TooLarge(_) => {
                    DialectError::BadRequest("http: request body too large".to_owned())
                }
                other => other,
            })?;
    let document = read_document(&admitted.body, encoding)?;
    Ok((document, admitted))
}

/// A boolean parameter given as a boolean, `0`/`1` or its text.
pub(super) fn flag(document: &Map<String, Value>, name: &str) -> Result<bool, DialectError> {
    match document.get(name) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(value)) => Ok(*value),
        Some(Value::String(text)) => Ok(crate::option_flag(name, Some(text))?),
        Some(Value::Number(number)) => Ok(crate::option_flag(name, Some(&number.to_string()))?),
        Some(other) => Err(DialectError::BadRequest(format!(
            "`{name}` must be true or false, not {other}"
        ))),
    }
}

/// The matching mode as a match key.
pub(super) fn match_by(document: &Map<String, Value>) -> Result<MatchBy, DialectError> {
    let matching = match document.get("matching") {
        None | Some(Value::Null) => "email".to_owned(),
        Some(Value::String(mode)) => mode.trim().to_owned(),
        Some(other) => {
            return Err(DialectError::BadRequest(format!(
                "`matching` must be a string, not {other}"
            )));
        }
    };
    match matching.as_str() {
        // userhub's e-mail identities are the profile's own, as `email_profile` asks.
        "email" | "email_profile" => Ok(MatchBy::Identity(IdentityKind::Email)),
        "phone" => Ok(MatchBy::Identity(IdentityKind::PhoneNumber)),
        "profile_id" => Ok(MatchBy::CoreProfileId),
        "custom" => {
            let name = crate::text_param(document, "field_name")
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
/// `sent` holds the profile's members as sent (JSON bodies), whose text custom fields keep.
pub(super) fn profile_record(
    data: &Map<String, Value>,
    sent: Option<&RawMembers>,
) -> Result<DraftRecord, userhub_domain::FieldError> {
    let mut draft = ProfileDraft::default();
    for (key, value) in data {
        match key.as_str() {
            "email" if crate::is_given(Some(value)) => {
                let email =
                    crate::identity_text(value).ok_or_else(|| crate::unusable_identity(key))?;
                draft.identities.push(json!({"email": email}));
            }
            "phone" | "phones" if crate::is_given(Some(value)) => {
                let given: Vec<&Value> = match value {
                    Value::Array(items) => items
                        .iter()
                        .filter(|item| crate::is_given(Some(item)))
                        .collect(),
                    single => vec![single],
                };
                for phone in given {
                    let phone =
                        crate::identity_text(phone).ok_or_else(|| crate::unusable_identity(key))?;
                    draft.identities.push(json!({"phone_number": phone}));
                }
            }
            "email" | "phone" | "phones" => {}
            "_fname" | "_lname" => {
                let name = if key == "_fname" {
                    "first_name"
                } else {
                    "last_name"
                };
                // Names are text even where XML reads a leaf as a number or a boolean.
                let text = match value {
                    Value::Number(_) | Value::Bool(_) => Value::String(value.to_string()),
                    other => other.clone(),
                };
                draft.names.insert(name.to_owned(), text);
            }
            "profile_id" => {
                draft
                    .fields
                    .insert("core-profile-id".to_owned(), value.clone());
            }
            _ => {
                let text = sent.and_then(|sent| sent.get(key));
                draft.custom.insert(key.clone(), value, text);
            }
        }
    }
    Ok(draft.finish())
}

/// The profiles of a JSON body's `data` items as sent (each item's member `nested` when
/// given): what custom fields keep their text from. An item that is not an object is `None`.
pub(super) fn sent_profiles(body: &[u8], nested: Option<&str>) -> Vec<Option<RawMembers>> {
    let Some(data) = serde_json::from_slice::<RawMembers>(body)
        .ok()
        .and_then(|document| document.get("data").map(RawValue::to_owned))
    else {
        return Vec::new();
    };
    let items: Vec<Box<RawValue>> = match serde_json::from_str(data.get()) {
        Ok(items) => items,
        Err(_) => vec![data],
    };
    items
        .iter()
        .map(|item| {
            let members = RawMembers::of(item)?;
            match nested {
                Some(key) => members.get(key).and_then(RawMembers::of),
                None => Some(members),
            }
        })
        .collect()
}

/// The records of `data` (an array, or one object as XML gives for a single element), each
/// item's profile found by `profile_of`; `sent[i]` is item i's profile as sent, when known.
pub(super) fn records_of(
    data: Option<&Value>,
    limit: usize,
    profile_of: impl Fn(&Value) -> Option<&Map<String, Value>>,
    sent: &[Option<RawMembers>],
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
        return Err(DialectError::BadRequest(format!(
            "at most {limit} profiles per request"
        )));
    }
    Ok(items
        .into_iter()
        .enumerate()
        .map(|(index, item)| {
            let sent = sent.get(index).and_then(Option::as_ref);
            (
                index,
                item,
                profile_of(item).map(|profile| profile_record(profile, sent)),
            )
        })
        .map(|(index, item, record)| match record {
            Some(Ok(record)) => json_record(index as u32, None, &record),
            Some(Err(error)) => failed_record(index as u32, item.to_string(), error),
            None => userhub_http_common::decode::broken_record(
                index as u32,
                None,
                item.to_string(),
                "each item must be an object of profile fields".to_owned(),
            ),
        })
        .collect())
}

/// The Altcraft field of one of our field paths for a profile sent as `item` (which tells
/// whether its phones came as `phone` or `phones`).
pub(super) fn altcraft_name(path: &str, item: Option<&Map<String, Value>>) -> String {
    let (head, rest) = crate::path_parts(path);
    let identity_kind = rest.split('.').next().unwrap_or_default();
    match (head, identity_kind) {
        ("identities", "phone_number") => {
            let sent_phones = item.is_some_and(|item| item.contains_key("phones"));
            if sent_phones { "phones" } else { "phone" }.to_owned()
        }
        ("identities", kind) if !kind.is_empty() => kind.to_owned(),
        ("names", "first_name") => "_fname".to_owned(),
        ("names", "last_name") => "_lname".to_owned(),
        ("custom_fields", _) if !rest.is_empty() => rest.to_owned(),
        ("core-profile-id", _) => "profile_id".to_owned(),
        _ => path.to_owned(),
    }
}

/// One record's entry in Altcraft's `result` array.
pub(super) fn result_entry(
    outcome: Option<&RecordOutcome>,
    item: Option<&Map<String, Value>>,
) -> Value {
    match outcome {
        Some(RecordOutcome::Succeeded(entry)) => json!({
            "error": 0,
            "error_text": SUCCESS,
            "profile_id": entry
                .members
                .core_profile_id
                .map_or_else(|| "null".to_owned(), |id| id.to_string()),
        }),
        Some(RecordOutcome::Failed(entry)) => json!({
            "error": 400,
            "error_text": error_text(&entry.members.errors, &|path| altcraft_name(path, item)),
        }),
        None => json!({"error": 500, "error_text": "no outcome"}),
    }
}

/// `POST /api/v1.1/profiles/import_batch`.
pub async fn import_batch(State(compat): State<Compat>, request: DialectRequest) -> Response {
    let Some(encoding) = Encoding::of(&request.headers) else {
        let error = DialectError::BadRequest(
            "use Content-Type: application/json or application/xml".to_owned(),
        );
        return failure(Encoding::Json, error);
    };
    match import(&compat, request, encoding).await {
        Ok(response) => response,
        Err(error) => failure(encoding, error),
    }
}

async fn import(
    compat: &Compat,
    request: DialectRequest,
    encoding: Encoding,
) -> Result<Response, DialectError> {
    let (document, admitted) = authorized_document(compat, request, encoding, true).await?;
    let principal = &admitted.principal;
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
        ..TaskOptions::default()
    };
    let sent = match encoding {
        Encoding::Json => sent_profiles(&admitted.body, None),
        Encoding::Xml => Vec::new(),
    };
    let records = records_of(
        document.get("data"),
        record_limit(compat, principal),
        Value::as_object,
        &sent,
    )?;
    let task = CanonicalTask {
        action: TaskAction::UpsertCoreProfiles,
        options,
        product: IMPORT_PRODUCT,
        records,
    };
    Ok(match run(compat, principal, task, true).await? {
        Ran::Finished(finished) => {
            let items: Vec<&Value> = match document.get("data") {
                Some(Value::Array(items)) => items.iter().collect(),
                Some(item) => vec![item],
                None => Vec::new(),
            };
            let result: Vec<Value> = finished
                .outcomes
                .iter()
                .enumerate()
                .map(|(at, outcome)| {
                    let item = items.get(at).and_then(|item| item.as_object());
                    result_entry(outcome.as_ref(), item)
                })
                .collect();
            let answer = json!({"error": 0, "error_text": SUCCESS, "result": result});
            encoding.render(StatusCode::OK, &answer)
        }
        // Slower than the sync timeout: the import goes on; its results come from tasks/status.
        Ran::Accepted(created) => {
            let answer = json!({
                "error": 202,
                "error_text": "The import is still running; check it with /api/v1.1/tasks/status",
                "task_id": created.task_id.to_string(),
            });
            encoding.render(StatusCode::ACCEPTED, &answer)
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_field_the_caller_sent() {
        let phones = json!({"phones": ["x"]});
        let phone = json!({"phone": "x"});
        let errors = [userhub_domain::FieldError::new(
            "identities[1].phone_number",
            userhub_domain::ErrorCode::InvalidValue,
            "`identities[1].phone_number`: a phone number may hold only digits",
        )];
        assert_eq!(
            error_text(&errors, &|path| altcraft_name(path, phones.as_object())),
            "`phones`: a phone number may hold only digits"
        );
        assert_eq!(
            error_text(&errors, &|path| altcraft_name(path, phone.as_object())),
            "`phone`: a phone number may hold only digits"
        );
        assert_eq!(altcraft_name("custom_fields.city", None), "city");
        assert_eq!(altcraft_name("core-profile-id", None), "profile_id");
    }
}
