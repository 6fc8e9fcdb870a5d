//! Compatible endpoints of other products (seeds 001–004): each module reads its product's
//! request, translates it into a canonical task (same validation, workers, storage and status as
//! the native API) and renders answers and errors in that product's shape.

mod admission;
mod altcraft_import;
mod altcraft_workflows;
mod helpcrunch;
mod key_scan;
mod xml;
mod xtremepush;

pub(crate) use xml::to_json as xml_to_json;

/// Runs the key scans over every prefix length class of `body` (for the fuzz target): they
/// must answer, never panic, whatever the bytes and wherever the body is cut.
pub(crate) fn scan_for_keys(body: &[u8]) {
    for cut in [body.len() / 3, body.len() / 2, body.len()] {
        let complete = cut == body.len();
        let _ = key_scan::json_member(&body[..cut], "token", complete);
        let _ = key_scan::xml_child(&body[..cut], "token", complete);
    }
}

use crate::Gateway;
use crate::error::GatewayError;
use crate::payload::{PayloadFormat, RawRecord};
use crate::request::ParsedRequest;
use crate::submit::{Created, submit};
use crate::sync::{Awaited, Finished, await_task};
use axum::Router;
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use axum::routing::{post, put};
use serde_json::Value;
use std::time::Duration;
use userhub_domain::{TaskAction, TaskOptions};
use userhub_http_common::{ApiError, ClientAddress, Principal};

/// The dialects' routes.
pub fn router() -> Router<Gateway> {
    Router::new()
        .route(
            "/api/external/import/profile",
            post(xtremepush::import_profiles),
        )
        .route("/api/external/info/task", post(xtremepush::task_info))
        .route("/v1/customers/batch", put(helpcrunch::update_customers))
        .route(
            "/api/v1.1/profiles/import_batch",
            post(altcraft_import::import_batch),
        )
        .route(
            "/api/v1.1/workflows/import_and_start_batch_task",
            post(altcraft_workflows::import_and_start),
        )
        .route(
            "/api/v1.1/tasks/status",
            post(altcraft_workflows::task_status),
        )
}

/// A compatible request as its handler takes it: the body unread, and the caller's address for
/// throttling failed keys.
pub struct DialectRequest {
    pub headers: HeaderMap,
    pub body: Body,
    pub client: Option<ClientAddress>,
}

impl<S: Send + Sync> FromRequest<S> for DialectRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request(request: Request, _: &S) -> Result<Self, Self::Rejection> {
        let client = request.extensions().get::<ClientAddress>().copied();
        let (parts, body) = request.into_parts();
        Ok(DialectRequest {
            headers: parts.headers,
            body,
            client,
        })
    }
}

/// Most values (JSON values or XML elements) a compatible request's document may hold: it is
/// read into a tree, and this bounds the tree's memory (about 100 bytes a value).
pub(crate) const MAX_DOCUMENT_VALUES: usize = 250_000;

/// Checks a JSON document against [`MAX_DOCUMENT_VALUES`] before it is read into a tree.
pub(crate) fn check_document_size(body: &[u8]) -> Result<(), DialectError> {
    match crate::json_budget::check_value_count(body, MAX_DOCUMENT_VALUES) {
        Err(crate::json_budget::BudgetError::TooMany { max }) => Err(DialectError::TooLarge(
            format!("the body holds more than {max} values; send fewer profiles per request"),
        )),
        // Syntax errors are reported by the parse that follows, with their own message.
        _ => Ok(()),
    }
}

/// Why a dialect request failed, before its product's rendering.
#[derive(Debug)]
pub(crate) enum DialectError {
    /// Missing or invalid credentials.
    Unauthorized(String),
    /// The product's rate limit; seconds until a request is admitted.
    RateLimited(u64),
    /// Too many failed authentications from the caller's address; seconds until it may try again.
    AuthThrottled(u64),
    /// A malformed or invalid request (nothing was stored).
    BadRequest(String),
    /// The body is over the product's limit.
    TooLarge(String),
    /// The request names something that does not exist.
    NotFound(String),
    /// The key is read-only.
    Forbidden(String),
    /// PostgreSQL or RabbitMQ is down (nothing was stored).
    Unavailable(String),
    /// The body stopped arriving (a pause or the whole-body deadline).
    TimedOut(String),
    Internal(String),
}

impl From<GatewayError> for DialectError {
    fn from(error: GatewayError) -> Self {
        let message = error.to_string();
        match error {
            GatewayError::TooManyRecords { .. } | GatewayError::PayloadTooLarge { .. } => {
                DialectError::TooLarge(message)
            }
            GatewayError::ReadOnlyKey(_) => DialectError::Forbidden(message),
            GatewayError::Unavailable(_) => DialectError::Unavailable(message),
            GatewayError::TimedOut(_) => DialectError::TimedOut(message),
            GatewayError::Internal(_) => DialectError::Internal(message),
            _ => DialectError::BadRequest(message),
        }
    }
}

impl From<ApiError> for DialectError {
    fn from(error: ApiError) -> Self {
        match error.status.as_u16() {
            401 => DialectError::Unauthorized(error.message),
            503 => DialectError::Unavailable(error.message),
            _ => DialectError::Internal(error.message),
        }
    }
}

impl DialectError {
    /// The HTTP status of this error in products that use plain HTTP statuses.
    pub(crate) fn status(&self) -> u16 {
        match self {
            DialectError::Unauthorized(_) => 401,
            DialectError::RateLimited(_) | DialectError::AuthThrottled(_) => 429,
            DialectError::BadRequest(_) => 400,
            DialectError::TooLarge(_) => 413,
            DialectError::NotFound(_) => 404,
            DialectError::Forbidden(_) => 403,
            DialectError::Unavailable(_) => 503,
            DialectError::TimedOut(_) => 408,
            DialectError::Internal(_) => 500,
        }
    }

    pub(crate) fn message(&self) -> String {
        match self {
            DialectError::RateLimited(seconds) => {
                format!("too many requests; retry in {seconds} s")
            }
            DialectError::AuthThrottled(seconds) => format!(
                "AUTH_THROTTLED: too many failed authentications from this address; retry in {seconds} s"
            ),
            DialectError::Unauthorized(message)
            | DialectError::BadRequest(message)
            | DialectError::TooLarge(message)
            | DialectError::NotFound(message)
            | DialectError::Forbidden(message)
            | DialectError::Unavailable(message)
            | DialectError::TimedOut(message)
            | DialectError::Internal(message) => message.clone(),
        }
    }

    /// Headers the answer carries (`Retry-After`).
    pub(crate) fn headers(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        let retry_after = match self {
            DialectError::RateLimited(seconds) | DialectError::AuthThrottled(seconds) => {
                Some(*seconds)
            }
            DialectError::Unavailable(_) => Some(1),
            _ => None,
        };
        if let Some(seconds) = retry_after {
            if let Ok(value) = seconds.to_string().parse() {
                headers.insert(header::RETRY_AFTER, value);
            }
        }
        headers
    }
}

/// The principal of a key that travels in the body or a header: `401` unless it is valid.
pub(crate) async fn principal_of_key(
    gateway: &Gateway,
    key: Option<&str>,
) -> Result<Principal, DialectError> {
    let key = key
        .map(str::trim)
        .filter(|key| !key.is_empty())
        .ok_or_else(|| DialectError::Unauthorized("an API token is required".to_owned()))?;
    Ok(gateway.context.authenticator.authenticate_key(key).await?)
}

/// Applies the domain's rate limit (or the product's own `per_minute`, counted separately).
pub(crate) fn admit(
    gateway: &Gateway,
    principal: &Principal,
    product: Option<(&str, u32)>,
) -> Result<(), DialectError> {
    let domain = &principal.domain.name;
    let decision = match product {
        Some((name, per_minute)) => {
            gateway
                .context
                .limiter
                .check(&format!("{domain}@{name}"), Some(per_minute), true)
        }
        None => {
            let per_minute = principal
                .domain
                .rate_limit_per_minute
                .map(|limit| limit.max(1) as u32);
            gateway.context.limiter.check(domain, per_minute, true)
        }
    };
    if decision.allowed {
        Ok(())
    } else {
        Err(DialectError::RateLimited(decision.retry_after_secs.max(1)))
    }
}

/// The records a dialect built, with the task it asks for.
pub(crate) struct CanonicalTask {
    pub action: TaskAction,
    pub options: TaskOptions,
    pub product: &'static str,
    pub records: Vec<RawRecord>,
}

/// A submitted task: finished (with outcomes) when the request waited for it, else accepted.
pub(crate) enum Ran {
    Finished(Finished),
    Accepted(Created),
}

/// The domain's record limit.
pub(crate) fn record_limit(gateway: &Gateway, principal: &Principal) -> usize {
    principal
        .domain
        .record_limit
        .map_or(gateway.settings.records_per_task, |limit| {
            limit.max(1) as usize
        })
}

/// Submits the task and, if `wait`, waits for it (up to the sync timeout).
pub(crate) async fn run(
    gateway: &Gateway,
    principal: &Principal,
    task: CanonicalTask,
    wait: bool,
) -> Result<Ran, DialectError> {
    let request = ParsedRequest {
        action: task.action,
        options: task.options,
        format: PayloadFormat::Dialect(task.product),
        records: task.records,
    };
    let submitted = submit(gateway, principal, request, None).await?;
    let created = submitted.created;
    if !wait {
        return Ok(Ran::Accepted(created));
    }
    let timeout = Duration::from_millis(gateway.settings.sync_timeout_ms);
    let pool = &gateway.context.pool;
    let max_records = gateway.settings.sync_max_records;
    match await_task(
        pool,
        principal.domain.id,
        created.task_id,
        timeout,
        max_records,
    )
    .await?
    {
        Awaited::Finished(finished) => Ok(Ran::Finished(finished)),
        Awaited::Running(_) | Awaited::TooLarge => Ok(Ran::Accepted(created)),
    }
}

/// A JSON scalar as identity text: strings trimmed, whole numbers as integers (`353850123456`
/// and `353850123456.0` alike); anything else (fractions, huge numbers, booleans, arrays,
/// objects, blank text) is `None`.
pub(crate) fn identity_text(value: &Value) -> Option<String> {
    /// Whole floats beyond this lose digits.
    const EXACT_FLOAT: f64 = 1e15;
    match value {
        Value::String(text) if !text.trim().is_empty() => Some(text.trim().to_owned()),
        Value::Number(number) => {
            if let Some(whole) = number.as_i64() {
                return Some(whole.to_string());
            }
            if let Some(whole) = number.as_u64() {
                return Some(whole.to_string());
            }
            number
                .as_f64()
                .filter(|float| float.fract() == 0.0 && float.abs() < EXACT_FLOAT)
                .map(|float| format!("{}", float as i64))
        }
        _ => None,
    }
}

/// Whether a cell holds something (not `null`, not blank text).
pub(crate) fn is_given(cell: Option<&Value>) -> bool {
    match cell {
        None | Some(Value::Null) => false,
        Some(Value::String(text)) => !text.trim().is_empty(),
        Some(_) => true,
    }
}

/// The error of an identity cell that is neither text nor a whole number.
pub(crate) fn unusable_identity(field: &str) -> userhub_domain::FieldError {
    userhub_domain::FieldError::new(
        field,
        userhub_domain::ErrorCode::InvalidValue,
        format!("`{field}` must be text or a whole number"),
    )
}

/// A text parameter given as text, a number or a boolean (XML leaves may read as either).
pub(crate) fn text_param(document: &serde_json::Map<String, Value>, name: &str) -> Option<String> {
    match document.get(name)? {
        Value::String(text) => Some(text.trim().to_owned()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        _ => None,
    }
}

/// The first message of a failed record's errors, with its field.
pub(crate) fn error_text(
    errors: &[userhub_domain::FieldError],
    caller_name: &dyn Fn(&str) -> String,
) -> String {
    match errors.first() {
        Some(error) => described(&error.field, &error.message, caller_name),
        None => "the record failed".to_owned(),
    }
}

/// An error about our field `path` told with the caller's name for it, once: our path inside
/// the message becomes the caller's name, and the message is prefixed with it unless it already
/// starts with it.
pub(crate) fn described(path: &str, message: &str, caller_name: &dyn Fn(&str) -> String) -> String {
    if path.is_empty() {
        return message.to_owned();
    }
    let name = caller_name(path);
    let message = message.replace(&format!("`{path}`"), &format!("`{name}`"));
    if message.starts_with(&format!("`{name}`")) {
        message
    } else {
        format!("{name}: {message}")
    }
}

/// The parts of a canonical field path: `identities[2].email` → (`identities`, `email`).
pub(crate) fn path_parts(path: &str) -> (&str, &str) {
    let (head, rest) = path.split_once('.').unwrap_or((path, ""));
    let head = head.split_once('[').map_or(head, |(head, _)| head);
    (head, rest)
}

/// A pooled database connection.
pub(crate) async fn client(gateway: &Gateway) -> Result<userhub_store::PooledClient, DialectError> {
    let client = gateway
        .context
        .pool
        .get()
        .await
        .map_err(userhub_store::StoreError::from)
        .map_err(GatewayError::from)?;
    Ok(client)
}

/// A task id given as text or a number.
pub(crate) fn task_id_of(value: Option<&Value>) -> Option<userhub_domain::TaskId> {
    match value? {
        Value::String(text) => text.trim().parse().ok(),
        Value::Number(number) => number.to_string().parse().ok(),
        _ => None,
    }
}

/// The domain's task `task_id` if one of `products` created it (a dialect shows only its own
/// tasks, whose size it bounds); `None` otherwise.
pub(crate) async fn dialect_task(
    gateway: &Gateway,
    principal: &Principal,
    task_id: userhub_domain::TaskId,
    products: &[&str],
) -> Result<Option<userhub_store::tasks::TaskRecord>, DialectError> {
    let client = client(gateway).await?;
    let task = userhub_store::tasks::find_task(&client, principal.domain.id, task_id)
        .await
        .map_err(GatewayError::from)?;
    Ok(task.filter(|task| products.contains(&task.input_format.as_str())))
}

/// Every record's outcome of a completed task, in input order.
pub(crate) async fn task_outcomes(
    gateway: &Gateway,
    task: &userhub_store::tasks::TaskRecord,
) -> Result<Vec<Option<crate::sync::RecordOutcome>>, DialectError> {
    let total = usize::try_from(task.total).unwrap_or_default();
    Ok(crate::sync::outcomes(&gateway.context.pool, task.id, total).await?)
}

/// A canonical profile record being assembled from a product's fields.
#[derive(Debug, Default)]
pub(crate) struct ProfileDraft {
    /// Top-level fields (e.g. `core-profile-id`, `preferred_language`).
    pub fields: serde_json::Map<String, Value>,
    pub identities: Vec<Value>,
    pub names: serde_json::Map<String, Value>,
    pub custom: serde_json::Map<String, Value>,
}

impl ProfileDraft {
    /// The record: the fields, plus `identities`, `names` and `custom_fields` when not empty.
    pub(crate) fn finish(self) -> serde_json::Map<String, Value> {
        let mut record = self.fields;
        if !self.identities.is_empty() {
            record.insert("identities".to_owned(), Value::Array(self.identities));
        }
        if !self.names.is_empty() {
            record.insert("names".to_owned(), Value::Object(self.names));
        }
        if !self.custom.is_empty() {
            record.insert("custom_fields".to_owned(), Value::Object(self.custom));
        }
        record
    }
}
