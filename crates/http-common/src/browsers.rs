//! What web pages may do with the API. CORS is granted only to an explicit list of origins
//! (none by default); every answer carries the original API's static CORS headers, which grant
//! nothing without `Access-Control-Allow-Origin`. In local demo mode, where one domain needs no
//! key, only requests addressed to a loopback host and sent by no page or a loopback page are
//! answered, so that neither a foreign page nor DNS rebinding can reach the open domain.

use crate::error::ApiError;
use axum::extract::{Request, State};
use axum::http::uri::Authority;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::IpAddr;
use std::sync::Arc;

/// Which pages may call the API.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BrowserPolicy {
    /// Origins (`scheme://host[:port]`) whose pages may call the API with CORS; `*` admits any
    /// page, without credentials.
    pub allowed_origins: Vec<String>,
    /// Local demo mode: answer only loopback `Host`s and loopback (or absent) `Origin`s.
    pub loopback_only: bool,
}

/// How far an origin is trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Grant {
    None,
    /// Any page (`*`): the origin is named, credentials are not allowed.
    Anyone,
    /// Listed by the operator: the origin is named and credentials are allowed.
    Listed,
}

impl BrowserPolicy {
    fn grant(&self, origin: &str) -> Grant {
        let listed = self
            .allowed_origins
            .iter()
            .any(|allowed| allowed.trim_end_matches('/').eq_ignore_ascii_case(origin));
        if listed {
            Grant::Listed
        } else if self.allowed_origins.iter().any(|allowed| allowed == "*") {
            Grant::Anyone
        } else {
            Grant::None
        }
    }
}

fn is_loopback_host(host: &str) -> bool {
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || bare
            .parse::<IpAddr>()
            .is_ok_and(|address| address.is_loopback())
}

/// Whether `Host` names this machine.
fn host_is_loopback(headers: &HeaderMap) -> bool {
    headers
        .get(header::HOST)
        .and_then(|value| value.to_str().ok())
        .and_then(|host| host.parse::<Authority>().ok())
        .is_some_and(|authority| is_loopback_host(authority.host()))
}

/// Whether an `Origin` is a page served from this machine.
fn origin_is_loopback(origin: &str) -> bool {
    origin
        .parse::<Uri>()
        .ok()
        .and_then(|uri| uri.host().map(is_loopback_host))
        .unwrap_or(false)
}

fn refused(code: &'static str, message: &str) -> Response {
    ApiError::new(StatusCode::FORBIDDEN, code, message).into_response()
}

/// Applies `policy` to every request and adds the CORS headers to every answer.
pub async fn apply_browser_policy(
    State(policy): State<Arc<BrowserPolicy>>,
    request: Request,
    next: Next,
) -> Response {
    let origin = request
        .headers()
        .get(header::ORIGIN)
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    if policy.loopback_only {
        if !host_is_loopback(request.headers()) {
            return refused(
                "FORBIDDEN_HOST",
                "in local demo mode the server answers only requests addressed to localhost",
            );
        }
        if origin
            .as_deref()
            .is_some_and(|origin| !origin_is_loopback(origin))
        {
            return refused(
                "FORBIDDEN_ORIGIN",
                "in local demo mode the server answers no page from another site",
            );
        }
    }
    let grant = origin
        .as_deref()
        .map_or(Grant::None, |origin| policy.grant(origin));
    let preflight = request.method() == Method::OPTIONS
        && request
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let tus = is_upload_path(request.uri().path());
    let mut response = if preflight {
        StatusCode::NO_CONTENT.into_response()
    } else {
        next.run(request).await
    };
    add_cors_headers(response.headers_mut(), origin.as_deref(), grant, tus);
    response
}

/// Whether the path is one of the resumable-upload endpoints (`/v2/{domain}/uploads...`).
fn is_upload_path(path: &str) -> bool {
    let mut segments = path.trim_start_matches('/').split('/');
    segments.next() == Some("v2") && segments.nth(1) == Some("uploads")
}

/// The original API's methods and headers; the tus endpoints (EXT) add their own, so that a tus
/// client in a page of an allowed origin can send and read them.
fn add_cors_headers(headers: &mut HeaderMap, origin: Option<&str>, grant: Grant, tus: bool) {
    let (methods, allowed) = if tus {
        (
            "GET, POST, PUT, DELETE, OPTIONS, PATCH, HEAD",
            "Accept,Authorization,Content-Type,Content-Encoding,Keep-Alive,Origin,User-Agent,\
             X-Requested-With,Idempotency-Key,X-Request-Id,Tus-Resumable,Upload-Length,\
             Upload-Offset,Upload-Metadata,Upload-Defer-Length,Upload-Concat",
        )
    } else {
        (
            "GET, POST, PUT, DELETE, OPTIONS",
            "Accept,Authorization,Content-Type,Content-Encoding,Keep-Alive,Origin,User-Agent,\
             X-Requested-With,Idempotency-Key,X-Request-Id",
        )
    };
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static(methods),
    );
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static(allowed),
    );
    headers.insert(
        header::ACCESS_CONTROL_MAX_AGE,
        HeaderValue::from_static("86400"),
    );
    headers.insert(header::VARY, HeaderValue::from_static("Origin"));
    let Some(origin) = origin.filter(|_| grant != Grant::None) else {
        return;
    };
    let Ok(origin) = HeaderValue::from_str(origin) else {
        return;
    };
    headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
    let exposed = if tus {
        "Location,X-Request-Id,X-Rate-Limit-Limit,X-Rate-Limit-Remaining,X-Rate-Limit-Reset,\
         Retry-After,Idempotent-Replayed,Tus-Resumable,Tus-Version,Tus-Extension,Tus-Max-Size,\
         Upload-Offset,Upload-Length,Upload-Expires,Upload-Metadata"
    } else {
        "Location,X-Request-Id,X-Rate-Limit-Limit,X-Rate-Limit-Remaining,X-Rate-Limit-Reset,\
         Retry-After,Idempotent-Replayed"
    };
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        HeaderValue::from_static(exposed),
    );
    if grant == Grant::Listed {
        headers.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_origins_get_credentials() {
        let policy = BrowserPolicy {
            allowed_origins: vec!["https://app.example.com/".to_owned()],
            loopback_only: false,
        };
        assert_eq!(policy.grant("https://app.example.com"), Grant::Listed);
        assert_eq!(policy.grant("https://evil.example"), Grant::None);
        let anyone = BrowserPolicy {
            allowed_origins: vec!["*".to_owned()],
            loopback_only: false,
        };
        assert_eq!(anyone.grant("https://evil.example"), Grant::Anyone);
        assert_eq!(
            BrowserPolicy::default().grant("http://localhost"),
            Grant::None
        );
    }

    #[test]
    fn loopback_hosts_and_origins_are_recognised() {
        for host in [
            "localhost:8080",
            "127.0.0.1:8080",
            "[::1]:8080",
            "127.1.2.3",
            "LOCALHOST",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            assert!(host_is_loopback(&headers), "{host}");
        }
        for host in [
            "evil.example",
            "localhost.evil.example",
            "10.0.0.1:8080",
            "",
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, HeaderValue::from_str(host).unwrap());
            assert!(!host_is_loopback(&headers), "{host}");
        }
        assert!(!host_is_loopback(&HeaderMap::new()), "no Host at all");
        assert!(origin_is_loopback("http://localhost:8080"));
        assert!(origin_is_loopback("http://127.0.0.1:3000"));
        assert!(!origin_is_loopback("https://evil.example"));
        assert!(!origin_is_loopback("null"));
    }
}
