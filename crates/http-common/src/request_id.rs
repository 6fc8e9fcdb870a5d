//! Request ids (echoed or generated) and the CORS headers of the original API on every response.

use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

pub const REQUEST_ID_HEADER: &str = "x-request-id";
const MAX_REQUEST_ID_CHARS: usize = 200;

/// Adds `x-request-id` and CORS headers; answers CORS preflight requests itself.
pub async fn cors_and_request_id(request: Request, next: Next) -> Response {
    let request_id = request
        .headers()
        .get(REQUEST_ID_HEADER)
        .filter(|value| value.len() <= MAX_REQUEST_ID_CHARS && value.to_str().is_ok())
        .cloned()
        .unwrap_or_else(|| {
            HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
                .unwrap_or(HeaderValue::from_static("-"))
        });
    let origin = request.headers().get("origin").cloned();
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        request_id = request_id.to_str().unwrap_or("-"),
    );
    // A caller that sends W3C trace context gets our spans in its trace.
    let trace_context: std::collections::HashMap<String, String> = ["traceparent", "tracestate"]
        .into_iter()
        .filter_map(|name| {
            let value = request.headers().get(name)?.to_str().ok()?;
            Some((name.to_owned(), value.to_owned()))
        })
        .collect();
    userhub_telemetry::continue_trace(&span, &trace_context);
    let mut response = if request.method() == Method::OPTIONS {
        StatusCode::NO_CONTENT.into_response()
    } else {
        tracing::Instrument::instrument(next.run(request), span).await
    };
    let headers = response.headers_mut();
    headers.insert(REQUEST_ID_HEADER, request_id);
    headers.insert(
        "access-control-allow-origin",
        origin.unwrap_or_else(|| HeaderValue::from_static("*")),
    );
    headers.insert(
        "access-control-allow-credentials",
        HeaderValue::from_static("true"),
    );
    headers.insert(
        "access-control-allow-methods",
        HeaderValue::from_static("GET, POST, PUT, DELETE, OPTIONS"),
    );
    headers.insert(
        "access-control-allow-headers",
        HeaderValue::from_static(
            "Accept,Authorization,Content-Type,Content-Encoding,Keep-Alive,Origin,User-Agent,X-Requested-With,\
             Idempotency-Key,X-Request-Id",
        ),
    );
    headers.insert(
        "access-control-expose-headers",
        HeaderValue::from_static(
            "Location,X-Request-Id,X-Rate-Limit-Limit,X-Rate-Limit-Remaining,X-Rate-Limit-Reset,Retry-After,\
             Idempotent-Replayed",
        ),
    );
    headers.insert("access-control-max-age", HeaderValue::from_static("86400"));
    headers.insert("vary", HeaderValue::from_static("Origin"));
    response
}
