//! The error body every non-2xx response carries: `{"error": {"code", "message", "details"}}`.
//! Faults of the service (5xx) are logged once, where the response is produced, with their
//! cause; the body never carries the cause.

use axum::Json;
use axum::http::{HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

/// An HTTP error with its status, stable code and a human sentence.
#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    pub details: Option<Box<Value>>,
    /// Extra response headers (e.g. `Retry-After`).
    pub headers: Vec<(&'static str, String)>,
    /// What failed inside, for the log (never in the body).
    pub cause: Option<String>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
            details: None,
            headers: Vec::new(),
            cause: None,
        }
    }

    /// Records what failed inside (logged with the response, never shown to the client).
    pub fn with_cause(mut self, cause: &dyn std::fmt::Display) -> ApiError {
        self.cause = Some(cause.to_string());
        self
    }

    pub fn with_details(mut self, details: Value) -> ApiError {
        self.details = Some(Box::new(details));
        self
    }

    pub fn with_header(mut self, name: &'static str, value: impl ToString) -> ApiError {
        self.headers.push((name, value.to_string()));
        self
    }

    pub fn unauthorized(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", message)
            .with_header("www-authenticate", "Bearer")
    }

    pub fn forbidden(message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", message)
    }

    pub fn not_found(code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError::new(StatusCode::NOT_FOUND, code, message)
    }

    /// A dependency is down; the client should retry later. Details go to the log, not the body.
    pub fn unavailable(what: &str) -> ApiError {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVICE_UNAVAILABLE",
            format!("the {what} is unavailable right now; nothing was stored, retry later"),
        )
        .with_header("retry-after", 5)
    }

    /// An unexpected fault: a generic body; the cause is logged with the response.
    pub fn internal(error: &dyn std::fmt::Display) -> ApiError {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "INTERNAL",
            "an internal error occurred",
        )
        .with_cause(error)
    }

    /// Logs a fault of the service once: every 500, and a 503 that has a cause.
    pub fn log(&self) {
        match (&self.cause, self.status.as_u16()) {
            (cause, 500) => tracing::error!(code = self.code, cause = ?cause, "internal error"),
            (Some(cause), 503) => {
                tracing::warn!(code = self.code, %cause, "dependency unavailable")
            }
            _ => {}
        }
    }
}

/// A path segment that is not a task id: `400 INVALID_TASK_ID`.
impl From<userhub_domain::ids::InvalidTaskId> for ApiError {
    fn from(error: userhub_domain::ids::InvalidTaskId) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "INVALID_TASK_ID",
            error.to_string(),
        )
    }
}

impl ApiError {
    /// `404 TASK_NOT_FOUND`: no such task where the caller may look (another domain's task
    /// included).
    pub fn task_not_found(task_id: userhub_domain::TaskId) -> ApiError {
        ApiError::not_found(
            "TASK_NOT_FOUND",
            format!("there is no task {task_id} in this domain"),
        )
    }

    /// `409 TASK_COMPLETED`: the task has completed; there is nothing to cancel.
    pub fn task_completed(task_id: userhub_domain::TaskId) -> ApiError {
        ApiError::new(
            StatusCode::CONFLICT,
            "TASK_COMPLETED",
            format!("task {task_id} has already completed; there is nothing to cancel"),
        )
    }
}

/// PostgreSQL: a transient failure (connection, pool, restart) is `503` with `Retry-After`,
/// anything else `500`.
impl From<userhub_store::StoreError> for ApiError {
    fn from(error: userhub_store::StoreError) -> Self {
        if error.is_transient() {
            ApiError::unavailable("database").with_cause(&error)
        } else {
            ApiError::internal(&error)
        }
    }
}

/// The error code an answer carries, for the server loop (which closes connections after
/// refusals differently from after the service's own failures).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AnsweredCode(pub &'static str);

/// The body of every non-2xx response.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// What went wrong.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct ErrorDetail {
    /// A stable code, e.g. `INVALID_PAYLOAD`, `RATE_LIMITED`, `TASK_NOT_FOUND`.
    pub code: String,
    /// A human sentence.
    pub message: String,
    /// Facts about the error, e.g. the limit that was exceeded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub details: Option<Value>,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        self.log();
        let body = ErrorBody {
            error: ErrorDetail {
                code: self.code.to_owned(),
                message: self.message,
                details: self.details.map(|d| *d),
            },
        };
        let mut response = (self.status, Json(body)).into_response();
        response.extensions_mut().insert(AnsweredCode(self.code));
        for (name, value) in self.headers {
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().insert(name, value);
            }
        }
        response
    }
}

/// The answer for paths no route matches.
pub async fn json_fallback() -> ApiError {
    ApiError::not_found("NOT_FOUND", "no such endpoint")
}

/// The answer for a known path with a method it does not take.
pub async fn json_method_not_allowed(method: axum::http::Method) -> ApiError {
    let shown: String = method.as_str().chars().take(32).collect();
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "METHOD_NOT_ALLOWED",
        format!("this endpoint does not take `{shown}`"),
    )
}

/// Longest request target (path and query) answered: longer ones get `414 URI_TOO_LONG`.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// Refuses request targets longer than [`MAX_URI_BYTES`] with a JSON `414`.
pub async fn limit_uri_length(
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if length > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            format!("the request target has {length} bytes; at most {MAX_URI_BYTES} are accepted"),
        )
        .with_details(serde_json::json!({ "limit_bytes": MAX_URI_BYTES }))
        .into_response();
    }
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use userhub_store::StoreError;

    #[test]
    fn database_faults_map_once_by_their_kind_and_keep_the_cause_out_of_the_body() {
        let transient = ApiError::from(StoreError::Unavailable("pool timed out".to_owned()));
        assert_eq!(transient.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            transient
                .headers
                .iter()
                .any(|(name, value)| *name == "retry-after" && value == "5")
        );
        assert!(!transient.message.contains("pool timed out"));
        assert_eq!(
            transient.cause.as_deref(),
            Some("database unavailable: pool timed out")
        );

        let permanent = ApiError::from(StoreError::Config("bad column".to_owned()));
        assert_eq!(permanent.status, StatusCode::INTERNAL_SERVER_ERROR);
        assert_eq!(permanent.code, "INTERNAL");
        assert!(!permanent.message.contains("bad column"));
        assert!(permanent.cause.as_deref().unwrap().contains("bad column"));
    }
}
