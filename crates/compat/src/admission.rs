//! Admitting a compatible request before its body is read in full. A key in the
//! `Authorization` header is checked before any of the body is read; a key inside the body
//! (`apptoken`, `token`) must come within its first [`PRE_AUTH_BYTES`], where a scan that builds
//! nothing finds it, and is checked as soon as it is found. Then the key's rights and the rate
//! limit apply, and only then is the rest of the body read, up to the endpoint's limit. Failed
//! keys count against the caller's address (see `AuthThrottle`).

use crate::key_scan::{Scan, json_member, xml_child};
use crate::{DialectError, DialectRequest, admit, principal_of_key};
use axum::http::header;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use userhub_gateway::Gateway;
use userhub_gateway::GatewayError;
use userhub_gateway::ingest::{BodyError, ContentEncoding, decoded_body};
use userhub_http_common::{Authenticator, Principal};

/// How much of a body is read, at most, before its key is known.
pub(crate) const PRE_AUTH_BYTES: usize = 1024 * 1024;
/// The body is scanned for its key first after this many bytes, then each time it doubles.
const FIRST_SCAN_BYTES: usize = 4 * 1024;

/// Where a product's requests carry the key.
#[derive(Debug, Clone, Copy)]
pub(crate) enum KeyPlace {
    /// `Authorization: Bearer <key>` (or Basic).
    Header,
    /// A top-level member of a JSON body.
    JsonMember(&'static str),
    /// An element under the root of an XML body.
    XmlChild(&'static str),
}

/// What an endpoint asks of a request before reading it.
pub(crate) struct Admission {
    pub place: KeyPlace,
    /// The endpoint's body limit (decoded bytes).
    pub limit: u64,
    /// The endpoint starts write tasks: read-only keys are refused.
    pub writes: bool,
    /// The rate limit it counts against: the product's own (name, per minute), or the domain's.
    pub product_rate: fn(&Principal) -> Option<(&'static str, u32)>,
}

/// An admitted request: who sent it and its whole (decoded) body.
pub(crate) struct Admitted {
    pub principal: Principal,
    pub body: Vec<u8>,
}

/// Authenticates, authorizes and rate-limits the request, then reads its body.
pub(crate) async fn admit_request(
    gateway: &Gateway,
    request: DialectRequest,
    admission: Admission,
) -> Result<Admitted, DialectError> {
    let DialectRequest {
        headers,
        body,
        client,
    } = request;
    let headers = &headers;
    let throttle = &gateway.context.auth_throttle;
    if let Err(retry_after) = throttle.check(client) {
        userhub_http_common::discard(body).await;
        return Err(DialectError::AuthThrottled(retry_after));
    }
    let encoding_header = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok());
    let Some(encoding) = ContentEncoding::parse(encoding_header) else {
        userhub_http_common::discard(body).await;
        return Err(DialectError::BadRequest(
            "unsupported content encoding; use gzip or none".to_owned(),
        ));
    };
    let (mut stream, rest) = decoded_body(body, encoding, admission.limit);
    let mut buffer = Vec::new();
    let checked = async {
        let key = match admission.place {
            KeyPlace::Header => headers
                .get(header::AUTHORIZATION)
                .and_then(Authenticator::key_of_header),
            KeyPlace::JsonMember(name) | KeyPlace::XmlChild(name) => {
                find_key(&mut stream, &mut buffer, admission.place, name).await?
            }
        };
        let principal = principal_of_key(gateway, key.as_deref()).await?;
        if admission.writes && principal.read_only {
            return Err(DialectError::Forbidden(
                "this API key is read-only and cannot import profiles".to_owned(),
            ));
        }
        admit(gateway, &principal, (admission.product_rate)(&principal)).await?;
        Ok(principal)
    };
    let principal = match checked.await {
        Ok(principal) => principal,
        Err(error) => {
            if matches!(error, DialectError::Unauthorized(_)) {
                throttle.record_failure(client);
            }
            // By wire bytes: a compressed upload may decode to far more than the drain bound.
            rest.discard().await;
            return Err(error);
        }
    };
    while let Some(chunk) = stream.next().await {
        buffer.extend_from_slice(&chunk.map_err(GatewayError::from)?);
    }
    Ok(Admitted {
        principal,
        body: buffer,
    })
}

/// Reads the body until its key is found (or cannot be), scanning at doubling sizes.
async fn find_key(
    stream: &mut (impl Stream<Item = Result<Bytes, BodyError>> + Unpin),
    buffer: &mut Vec<u8>,
    place: KeyPlace,
    name: &str,
) -> Result<Option<String>, DialectError> {
    let mut next_scan = FIRST_SCAN_BYTES;
    loop {
        let complete = match stream.next().await {
            Some(chunk) => {
                buffer.extend_from_slice(&chunk.map_err(GatewayError::from)?);
                false
            }
            None => true,
        };
        if !complete && buffer.len() < next_scan {
            continue;
        }
        let scan = match place {
            KeyPlace::XmlChild(_) => xml_child(buffer, name, complete),
            KeyPlace::JsonMember(_) | KeyPlace::Header => json_member(buffer, name, complete),
        };
        match scan {
            Scan::Found(key) => return Ok(Some(key)),
            Scan::Absent => return Ok(None),
            Scan::Malformed(message) => return Err(DialectError::BadRequest(message)),
            Scan::NotYet if complete => return Ok(None),
            Scan::NotYet if buffer.len() >= PRE_AUTH_BYTES => {
                return Err(DialectError::Unauthorized(format!(
                    "no `{name}` in the first {} KiB of the body: send the token before the data",
                    PRE_AUTH_BYTES / 1024
                )));
            }
            Scan::NotYet => next_scan = (buffer.len() * 2).min(PRE_AUTH_BYTES),
        }
    }
}
