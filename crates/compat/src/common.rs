//! What every compatible endpoint shares: the request as its handler takes it, the error
//! before its product's rendering, submitting the canonical task (and waiting for it), and
//! helpers that read a product's fields into canonical records.

use crate::Compat;
use axum::body::Body;
use axum::extract::{FromRequest, Request};
use axum::http::{HeaderMap, header};
use serde_json::Value;
use std::time::Duration;
use userhub_domain::{TaskAction, TaskOptions};
use userhub_http_common::decode::{PayloadFormat, RawRecord};
use userhub_http_common::{ApiError, ClientAddress, Principal};
use userhub_tasks::TaskError;
use userhub_tasks::intake::{Created, Submission};
use userhub_tasks::readback::{Awaited, Finished, await_task};

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
    match userhub_http_common::decode::check_value_count(body, MAX_DOCUMENT_VALUES) {
        Err(userhub_http_common::decode::BudgetError::TooMany { max }) => {
            Err(DialectError::TooLarge(format!(
                "the body holds more than {max} values; send fewer profiles per request"
            )))
        }
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
    /// The request cannot be answered yet (e.g. its task is still running); retry shortly.
    Unavailable(String),
    /// The body stopped arriving (a pause or the whole-body deadline).
    TimedOut(String),
    /// A fault of the service (PostgreSQL or RabbitMQ down, an internal error): its status,
    /// message and headers as http-common maps them, logged once where the answer is made.
    Fault(ApiError),
}

impl From<userhub_http_common::decode::DecodeError> for DialectError {
    fn from(error: userhub_http_common::decode::DecodeError) -> Self {
        use userhub_http_common::decode::DecodeError;
        let message = error.to_string();
        match error {
            DecodeError::TooManyRecords { .. } | DecodeError::TooLarge { .. } => {
                DialectError::TooLarge(message)
            }
            DecodeError::TimedOut(_) => DialectError::TimedOut(message),
            DecodeError::Invalid(_) => DialectError::BadRequest(message),
        }
    }
}

impl From<userhub_http_common::decode::BodyError> for DialectError {
    fn from(error: userhub_http_common::decode::BodyError) -> Self {
        DialectError::from(userhub_http_common::decode::DecodeError::from(error))
    }
}

impl From<TaskError> for DialectError {
    fn from(error: TaskError) -> Self {
        let message = error.to_string();
        match error {
            TaskError::ReadOnlyKey(_) => DialectError::Forbidden(message),
            TaskError::Store(error) => DialectError::Fault(ApiError::from(error)),
            TaskError::Transport(error) => {
                DialectError::Fault(ApiError::unavailable("message broker").with_cause(&error))
            }
            error if error.is_fault() => DialectError::internal(&message),
            _ => DialectError::BadRequest(message),
        }
    }
}

impl From<ApiError> for DialectError {
    fn from(error: ApiError) -> Self {
        let retry_after = || {
            error
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
                .and_then(|(_, value)| value.parse().ok())
                .unwrap_or(1)
        };
        match (error.status.as_u16(), error.code) {
            (401, _) => DialectError::Unauthorized(error.message),
            (429, "AUTH_THROTTLED") => DialectError::AuthThrottled(retry_after()),
            (429, _) => DialectError::RateLimited(retry_after()),
            _ => DialectError::Fault(error),
        }
    }
}

impl From<userhub_store::StoreError> for DialectError {
    fn from(error: userhub_store::StoreError) -> Self {
        DialectError::Fault(ApiError::from(error))
    }
}

impl DialectError {
    /// An internal fault with its cause (for the log; the answer says only that it happened).
    pub(crate) fn internal(cause: &dyn std::fmt::Display) -> DialectError {
        DialectError::Fault(ApiError::internal(cause))
    }

    /// Logs a fault of the service once; called where the product's answer is made.
    pub(crate) fn log(&self) {
        if let DialectError::Fault(fault) = self {
            fault.log();
        }
    }

    /// Whether this is the service being unavailable (as opposed to failing).
    pub(crate) fn is_unavailable(&self) -> bool {
        match self {
            DialectError::Unavailable(_) => true,
            DialectError::Fault(fault) => fault.status.as_u16() == 503,
            _ => false,
        }
    }

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
            DialectError::Fault(fault) => fault.status.as_u16(),
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
            | DialectError::TimedOut(message) => message.clone(),
            DialectError::Fault(fault) => fault.message.clone(),
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
            DialectError::Fault(fault) => fault
                .headers
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case("retry-after"))
                .and_then(|(_, value)| value.parse().ok()),
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

/// Applies the domain's rate limit (or the product's own `per_minute`, counted separately).
pub(crate) async fn admit(
    compat: &Compat,
    principal: &Principal,
    product: Option<(&str, u32)>,
) -> Result<(), DialectError> {
    let decision = compat.context.admit_rate(principal, product).await?;
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
pub(crate) fn record_limit(compat: &Compat, principal: &Principal) -> usize {
    principal
        .domain
        .record_limit
        .map_or(compat.settings.records_per_task, |limit| {
            limit.max(1) as usize
        })
}

/// Submits the task and, if `wait`, waits for it (up to the sync timeout).
pub(crate) async fn run(
    compat: &Compat,
    principal: &Principal,
    task: CanonicalTask,
    wait: bool,
) -> Result<Ran, DialectError> {
    let request = Submission {
        action: task.action,
        options: task.options,
        format: PayloadFormat::Dialect(task.product),
        records: task.records,
    };
    let submitter = compat.submitter(principal);
    let submitted = compat.intake.submit(&submitter, request, None).await?;
    let created = submitted.created;
    if !wait {
        return Ok(Ran::Accepted(created));
    }
    let timeout = Duration::from_millis(compat.settings.sync_timeout_ms);
    let pool = &compat.context.database(principal);
    let max_records = compat.settings.sync_max_records;
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

/// A database connection of the domain's share.
pub(crate) async fn client(
    compat: &Compat,
    domain_id: userhub_domain::DomainId,
) -> Result<userhub_store::TenantClient, DialectError> {
    let client = compat
        .context
        .database
        .for_domain(domain_id)
        .get()
        .await
        .map_err(DialectError::from)?;
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
    compat: &Compat,
    principal: &Principal,
    task_id: userhub_domain::TaskId,
    products: &[&str],
) -> Result<Option<userhub_store::tasks::TaskRecord>, DialectError> {
    let client = client(compat, principal.domain.id).await?;
    let task = userhub_store::tasks::find_task(&*client, principal.domain.id, task_id)
        .await
        .map_err(DialectError::from)?;
    Ok(task.filter(|task| products.contains(&task.input_format.as_str())))
}

/// Every record's outcome of a completed task, in input order.
pub(crate) async fn task_outcomes(
    compat: &Compat,
    principal: &Principal,
    task: &userhub_store::tasks::TaskRecord,
) -> Result<Vec<Option<userhub_tasks::readback::RecordOutcome>>, DialectError> {
    let total = usize::try_from(task.total).unwrap_or_default();
    let pool = compat.context.database(principal);
    Ok(userhub_tasks::readback::outcomes(&pool, task.key(), total).await?)
}
