//! HelpCrunch (seed 002): `PUT /v1/customers/batch` with a bearer key updates 1 to 10 customers
//! by `customer` (= `core-profile-id`): omitted fields stay, `null` clears; `tags` are
//! `[{name, color}]`, `customData` `[{property, value}]` (custom fields). Synchronous: `200` with
//! the updated customers. Errors in HelpCrunch's `{"errors": [{code, message}]}` shape; its own
//! limit of 120 requests per minute per domain. A request is checked whole before anything is
//! written: an invalid field or an unknown customer changes nothing. Everything it writes —
//! the customers and their tags' colors — is written by the update task it submits.

use crate::Compat;
use crate::ProfileDraft;
use crate::RawMembers;
use crate::admission::{Admission, KeyPlace, admit_request};
use crate::draft::DraftRecord;
use crate::{CanonicalTask, DialectError, DialectRequest, Ran, error_text, run};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::value::RawValue;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use userhub_domain::CoreProfileId;
use userhub_domain::DomainId;
use userhub_domain::IdentityKind;
use userhub_domain::profile::core::CoreProfilePatch;
use userhub_domain::record::parse_core_profile_patch;
use userhub_domain::{TagColor, TaskAction, TaskOptions};
use userhub_http_common::Principal;
use userhub_http_common::decode::{BudgetError, bounded_array};
use userhub_http_common::decode::{RawRecord, RecordContent};
use userhub_store::exports::core_profiles;
use userhub_store::identities::owners;
use userhub_store::tag_colors::colors_of;
use userhub_tasks::readback::RecordOutcome;

const MAX_CUSTOMERS: usize = 10;
const REQUESTS_PER_MINUTE: u32 = 120;
/// HelpCrunch's color of tags given without one.
const DEFAULT_TAG_COLOR: &str = "#c377e0";
/// Customer fields kept as custom fields of the same name and shown at the top level.
const PLAIN_FIELDS: [&str; 11] = [
    "company",
    "firstSeen",
    "lastSeen",
    "unsubscribed",
    "blocked",
    "source",
    "referer",
    "lastPage",
    "createdFrom",
    "integrationId",
    "notes",
];

fn failure(error: DialectError) -> Response {
    error.log();
    let status = StatusCode::from_u16(error.status()).unwrap_or(StatusCode::BAD_REQUEST);
    let (code, message) = match &error {
        DialectError::Unauthorized(_) => ("unauthorized", "Unauthorized".to_owned()),
        DialectError::NotFound(message) => ("not_found", message.clone()),
        DialectError::RateLimited(_) => ("too_many_requests", "Too many requests".to_owned()),
        DialectError::AuthThrottled(_) => ("too_many_requests", error.message()),
        DialectError::Forbidden(message) => ("forbidden", message.clone()),
        DialectError::TooLarge(message) => ("payload_too_large", message.clone()),
        DialectError::Unavailable(message) => ("service_unavailable", message.clone()),
        DialectError::TimedOut(message) => ("request_timeout", message.clone()),
        DialectError::BadRequest(message) => ("invalid_value", message.clone()),
        DialectError::Fault(fault) if fault.status.as_u16() == 503 => {
            ("service_unavailable", fault.message.clone())
        }
        DialectError::Fault(fault) => ("internal_error", fault.message.clone()),
    };
    let body = json!({"errors": [
        {"code": "invalid_request", "message": "Invalid request"},
        {"code": code, "message": message},
    ]});
    (status, error.headers(), Json(body)).into_response()
}

/// `PUT /v1/customers/batch`.
pub async fn update_customers(State(compat): State<Compat>, request: DialectRequest) -> Response {
    match update(&compat, request).await {
        Ok(response) => response,
        Err(error) => failure(error),
    }
}

fn bad(message: String) -> DialectError {
    DialectError::BadRequest(message)
}

/// The id a customer entry names.
fn customer_id(at: usize, customer: &Map<String, Value>) -> Result<i64, DialectError> {
    match customer.get("customer") {
        Some(Value::Number(number)) => number.as_i64(),
        Some(Value::String(text)) => text.trim().parse().ok(),
        _ => None,
    }
    .filter(|id| *id > 0)
    .ok_or_else(|| {
        bad(format!(
            "customer {at}: `customer` (the customer id) is required"
        ))
    })
}

/// The HelpCrunch field of one of our field paths.
fn customer_field(path: &str) -> String {
    let (head, rest) = crate::path_parts(path);
    let identity_kind = rest.split('.').next().unwrap_or_default();
    match (head, identity_kind) {
        ("identities", "uid") => "userId".to_owned(),
        ("identities", "phone_number") => "phone".to_owned(),
        ("identities", kind) if !kind.is_empty() => kind.to_owned(),
        ("names", _) => "name".to_owned(),
        ("preferred_language", _) => "locale".to_owned(),
        ("custom_fields", _) if PLAIN_FIELDS.contains(&rest) => rest.to_owned(),
        ("custom_fields", _) if !rest.is_empty() => format!("customData.{rest}"),
        ("core-profile-id", _) => "customer".to_owned(),
        _ => path.to_owned(),
    }
}

/// The canonical update record of one customer; `current` is the stored profile (its custom
/// fields tell what `customData: null` clears).
fn customer_record(
    at: usize,
    customer: &Map<String, Value>,
    sent: Option<&RawMembers>,
    current: &Value,
) -> Result<(i64, DraftRecord), DialectError> {
    let id = customer_id(at, customer)?;
    let mut draft = ProfileDraft::default();
    draft.fields.insert("core-profile-id".to_owned(), json!(id));
    for (key, value) in customer {
        match key.as_str() {
            "customer" => {}
            "name" => {
                draft.names.insert("full_name".to_owned(), value.clone());
            }
            "email" | "userId" | "phone" => {
                let kind = match key.as_str() {
                    "email" => "email",
                    "userId" => "uid",
                    _ => "phone_number",
                };
                match crate::identity_text(value) {
                    Some(text) => draft.identities.push(json!({ kind: text })),
                    None => {
                        return Err(bad(format!(
                            "customer {id}: `{key}` cannot be cleared or empty"
                        )));
                    }
                }
            }
            "locale" => {
                draft
                    .fields
                    .insert("preferred_language".to_owned(), value.clone());
            }
            "tags" => {
                draft
                    .fields
                    .insert("tags".to_owned(), tag_names(id, value)?);
            }
            "customData" => match value {
                // Clears the customer's custom data, not the other customer fields kept as
                // custom fields.
                Value::Null => {
                    if let Some(fields) = current["custom_fields"].as_object() {
                        for key in fields.keys() {
                            if !PLAIN_FIELDS.contains(&key.as_str()) {
                                draft.custom.clear_unless_set(key);
                            }
                        }
                    }
                }
                Value::Array(items) => {
                    let sent_items: Vec<Box<RawValue>> = sent
                        .and_then(|sent| sent.get("customData"))
                        .and_then(|data| serde_json::from_str(data.get()).ok())
                        .unwrap_or_default();
                    for (n, item) in items.iter().enumerate() {
                        let property = item["property"].as_str().ok_or_else(|| {
                            bad(format!(
                                "customer {id}: every customData item needs a `property`"
                            ))
                        })?;
                        let sent_item = sent_items.get(n).and_then(|item| RawMembers::of(item));
                        let text = sent_item.as_ref().and_then(|item| item.get("value"));
                        draft
                            .custom
                            .insert(property.to_owned(), &item["value"], text);
                    }
                }
                _ => {
                    return Err(bad(format!(
                        "customer {id}: `customData` must be an array of {{property, value}}"
                    )));
                }
            },
            plain if PLAIN_FIELDS.contains(&plain) => {
                let text = sent.and_then(|sent| sent.get(plain));
                draft.custom.insert(plain.to_owned(), value, text);
            }
            other => {
                return Err(bad(format!("customer {id}: unknown field `{other}`")));
            }
        }
    }
    Ok((id, draft.finish()))
}

fn tag_names(id: i64, tags: &Value) -> Result<Value, DialectError> {
    match tags {
        Value::Null => Ok(Value::Null),
        Value::Array(items) => items
            .iter()
            .map(|tag| match tag {
                Value::String(name) => Ok(json!(name)),
                Value::Object(fields) => fields
                    .get("name")
                    .filter(|name| name.is_string())
                    .cloned()
                    .ok_or_else(|| bad(format!("customer {id}: every tag needs a `name`"))),
                _ => Err(bad(format!(
                    "customer {id}: tags are {{name, color}} objects"
                ))),
            })
            .collect::<Result<Vec<Value>, _>>()
            .map(Value::Array),
        _ => Err(bad(format!("customer {id}: `tags` must be an array"))),
    }
}

/// HelpCrunch's own rate limit, unless an operator set one for the domain.
fn helpcrunch_rate(principal: &Principal) -> Option<(&'static str, u32)> {
    let per_minute = principal
        .domain
        .rate_limit_per_minute
        .map_or(REQUESTS_PER_MINUTE, |limit| limit.max(1) as u32);
    Some(("helpcrunch", per_minute))
}

async fn update(compat: &Compat, request: DialectRequest) -> Result<Response, DialectError> {
    let admission = Admission {
        place: KeyPlace::Header,
        limit: compat.settings.max_body_bytes,
        writes: true,
        product_rate: helpcrunch_rate,
    };
    let admitted = admit_request(compat, request, admission).await?;
    let principal = admitted.principal;
    let domain_id = principal.domain.id;
    let customers = read_customers(&admitted.body)?;
    let ids = customers
        .iter()
        .enumerate()
        .map(|(at, customer)| customer_id(at, customer))
        .collect::<Result<Vec<i64>, DialectError>>()?;
    let current = stored_customers(compat, domain_id, &ids).await?;
    if let Some(missing) = ids.iter().find(|id| !current.contains_key(id)) {
        return Err(DialectError::NotFound(format!(
            "Customer {missing} not found"
        )));
    }
    // The customers as sent, whose text custom fields keep.
    let sent: Vec<RawMembers> =
        serde_json::from_slice(&admitted.body).map_err(|error| DialectError::internal(&error))?;
    let prepared = prepare(&customers, &sent, &ids, &current)?;
    check_identities(compat, domain_id, &prepared.updates, &current).await?;
    let task = CanonicalTask {
        action: TaskAction::UpdateCoreProfiles,
        options: TaskOptions {
            tag_colors: prepared.tag_colors,
            ..TaskOptions::default()
        },
        product: "helpcrunch",
        records: prepared.records,
    };
    let finished = match run(compat, &principal, task, true).await? {
        Ran::Finished(finished) => finished,
        Ran::Accepted(created) => {
            return Err(DialectError::Unavailable(format!(
                "the update (task {}) is still running; check the customers shortly",
                created.task_id
            )));
        }
    };
    let failures: Vec<String> = finished
        .outcomes
        .iter()
        .zip(&ids)
        .filter_map(|(outcome, id)| match outcome {
            Some(RecordOutcome::Failed(entry)) => Some(format!(
                "customer {id}: {}",
                error_text(&entry.members.errors, &customer_field)
            )),
            _ => None,
        })
        .collect();
    if !failures.is_empty() {
        // Only a change that raced this request can fail here (all else was checked first).
        return Err(bad(format!(
            "not every customer was updated: {}",
            failures.join("; ")
        )));
    }
    let answer = updated_customers(compat, domain_id, &ids, &customers).await?;
    Ok(Json(answer).into_response())
}

/// The body's customers: a JSON array of 1 to 10 objects.
fn read_customers(body: &[u8]) -> Result<Vec<Map<String, Value>>, DialectError> {
    crate::check_document_size(body)?;
    let customers: Vec<Map<String, Value>> =
        bounded_array(body, MAX_CUSTOMERS).map_err(|error| match error {
            BudgetError::TooMany { .. } => bad(format!(
                "at most {MAX_CUSTOMERS} customers per request; send the rest in separate requests"
            )),
            BudgetError::Json(error) => bad(format!(
                "the body must be a JSON array of customers: {error}"
            )),
        })?;
    if customers.is_empty() {
        return Err(bad("specify at least one customer".to_owned()));
    }
    Ok(customers)
}

/// The customers as update records, checked whole before anything is written, with the tag
/// colors they give.
struct Prepared {
    records: Vec<RawRecord>,
    updates: Vec<CoreProfilePatch>,
    tag_colors: Vec<TagColor>,
}

fn prepare(
    customers: &[Map<String, Value>],
    sent: &[RawMembers],
    ids: &[i64],
    current: &HashMap<i64, Value>,
) -> Result<Prepared, DialectError> {
    let mut prepared = Prepared {
        records: Vec::with_capacity(customers.len()),
        updates: Vec::with_capacity(customers.len()),
        tag_colors: Vec::new(),
    };
    for (at, (customer, id)) in customers.iter().zip(ids).enumerate() {
        let (_, record) = customer_record(at, customer, sent.get(at), &current[id])?;
        let text =
            serde_json::to_string(&record).map_err(|error| DialectError::internal(&error))?;
        let update = parse_core_profile_patch(&text).map_err(|errors| {
            let details: Vec<String> = errors
                .iter()
                .map(|error| crate::described(&error.field, &error.message, &customer_field))
                .collect();
            bad(format!("customer {id}: {}", details.join("; ")))
        })?;
        prepared.updates.push(update);
        if let Some(Value::Array(tags)) = customer.get("tags") {
            for tag in tags {
                if let (Some(name), Some(color)) = (tag["name"].as_str(), tag["color"].as_str()) {
                    prepared.tag_colors.push(TagColor {
                        tag: name.to_owned(),
                        color: color.to_owned(),
                    });
                }
            }
        }
        let raw = RawValue::from_string(text).map_err(|error| DialectError::internal(&error))?;
        prepared.records.push(RawRecord {
            index: at as u32,
            line: None,
            content: RecordContent::Json(raw),
        });
    }
    Ok(prepared)
}

/// The updated customers in HelpCrunch's shape, in request order.
async fn updated_customers(
    compat: &Compat,
    domain_id: DomainId,
    ids: &[i64],
    customers: &[Map<String, Value>],
) -> Result<Vec<Value>, DialectError> {
    let profiles = stored_customers(compat, domain_id, ids).await?;
    let tags: Vec<&str> = profiles
        .values()
        .filter_map(|profile| profile["tags"].as_array())
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let client = crate::client(compat, domain_id).await?;
    let colors: Map<String, Value> = colors_of(&*client, domain_id, &tags)
        .await
        .map_err(DialectError::from)?
        .into_iter()
        .map(|(tag, color)| (tag, Value::String(color)))
        .collect();
    Ok(ids
        .iter()
        .zip(customers)
        .filter_map(|(id, given)| Some(customer_of(profiles.get(id)?, &colors, given)))
        .collect())
}

/// The stored profiles of `ids` in the domain, by id (an id no profile can have is missing).
async fn stored_customers(
    compat: &Compat,
    domain_id: DomainId,
    ids: &[i64],
) -> Result<HashMap<i64, Value>, DialectError> {
    let client = crate::client(compat, domain_id).await?;
    let ids: Vec<CoreProfileId> = ids
        .iter()
        .filter_map(|id| CoreProfileId::new(*id))
        .collect();
    let profiles = core_profiles(&*client, domain_id, &ids)
        .await
        .map_err(DialectError::from)?;
    profiles
        .into_iter()
        .map(|view| {
            serde_json::to_value(&view)
                .map(|profile| (view.id.get(), profile))
                .map_err(|error| DialectError::internal(&error))
        })
        .collect()
}

/// Refuses the batch if an identity it adds belongs to another profile, is claimed by two of its
/// customers, or would give a customer a second `userId` — so that nothing is half-written.
async fn check_identities(
    compat: &Compat,
    domain_id: DomainId,
    updates: &[CoreProfilePatch],
    current: &HashMap<i64, Value>,
) -> Result<(), DialectError> {
    let mut claims: HashMap<(&str, &str), i64> = HashMap::new();
    for update in updates {
        let id = update.id.get();
        for identity in &update.identities {
            let key = (identity.kind().as_str(), identity.normalized());
            match claims.insert(key, id) {
                Some(other) if other != id => {
                    return Err(bad(format!(
                        "customers {other} and {id} cannot share the {} `{}`",
                        key.0,
                        identity.value()
                    )));
                }
                _ => {}
            }
            if identity.kind() == IdentityKind::Uid {
                let existing = current[&id]["identities"]
                    .as_array()
                    .and_then(|identities| {
                        identities.iter().find_map(|stored| stored["uid"].as_str())
                    });
                if existing.is_some_and(|uid| uid != identity.value()) {
                    return Err(bad(format!(
                        "customer {id}: `userId` is already set and cannot be changed"
                    )));
                }
            }
        }
    }
    let keys: Vec<(&str, &str)> = claims.keys().copied().collect();
    let client = crate::client(compat, domain_id).await?;
    let owners = owners(&*client, domain_id, &keys)
        .await
        .map_err(DialectError::from)?;
    for ((kind, normalized), owner) in &owners {
        let claimant = claims[&(kind.as_str(), normalized.as_str())];
        if owner.get() != claimant {
            return Err(bad(format!(
                "customer {claimant}: this {kind} already belongs to customer {owner}"
            )));
        }
    }
    Ok(())
}

/// A stored profile in HelpCrunch's customer shape.
fn customer_of(profile: &Value, colors: &Map<String, Value>, given: &Map<String, Value>) -> Value {
    // A profile may hold several e-mails or phones (identities are added, never replaced): the
    // answer shows the one this request sent, else the first.
    let identity = |kind: &str| {
        let field = match kind {
            "email" => "email",
            "uid" => "userId",
            _ => "phone",
        };
        if let Some(sent) = given.get(field).filter(|value| value.is_string()) {
            return sent.clone();
        }
        profile["identities"]
            .as_array()
            .and_then(|identities| identities.iter().find_map(|identity| identity.get(kind)))
            .cloned()
            .unwrap_or(Value::Null)
    };
    let mut customer = Map::new();
    customer.insert("id".to_owned(), profile["core-profile-id"].clone());
    customer.insert("name".to_owned(), profile["names"]["full_name"].clone());
    customer.insert("email".to_owned(), identity("email"));
    customer.insert("userId".to_owned(), identity("uid"));
    customer.insert("phone".to_owned(), identity("phone_number"));
    customer.insert("locale".to_owned(), profile["preferred_language"].clone());
    let mut custom_data = Map::new();
    if let Some(fields) = profile["custom_fields"].as_object() {
        for (key, value) in fields {
            if PLAIN_FIELDS.contains(&key.as_str()) {
                customer.insert(key.clone(), value.clone());
            } else {
                custom_data.insert(key.clone(), value.clone());
            }
        }
    }
    let tags: Vec<Value> = profile["tags"]
        .as_array()
        .map(|tags| {
            tags.iter()
                .filter_map(Value::as_str)
                .map(|name| {
                    let color = colors
                        .get(name)
                        .cloned()
                        .unwrap_or_else(|| json!(DEFAULT_TAG_COLOR));
                    json!({"name": name, "color": color})
                })
                .collect()
        })
        .unwrap_or_default();
    customer.insert("tags".to_owned(), Value::Array(tags));
    customer.insert("customData".to_owned(), Value::Object(custom_data));
    Value::Object(customer)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_the_customer_field() {
        assert_eq!(customer_field("identities[0].uid"), "userId");
        assert_eq!(customer_field("identities[2].phone_number"), "phone");
        assert_eq!(customer_field("preferred_language"), "locale");
        assert_eq!(
            crate::described(
                "identities[1].email",
                "`identities[1].email`: not a valid email address",
                &customer_field
            ),
            "`email`: not a valid email address"
        );
    }
}
