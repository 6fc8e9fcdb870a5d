//! Admitting a compatible request before its body is read in full. A key in the
//! `Authorization` header is checked before any of the body is read; a key inside the body
//! (`apptoken`, `token`) must come within its first [`PRE_AUTH_BYTES`] and [`PRE_AUTH_TIME`],
//! where a scan that builds nothing finds it, and is checked as soon as it is found; the scan
//! holds one of the process's anonymous slots, never one an authenticated request needs. Then
//! the request takes a slot of its domain's share, the key's rights and the rate limit apply,
//! and only then is the rest of the body read, up to the endpoint's limit. A refusal leaves
//! the rest unread (the connection is closed after the answer). Failed keys count against the
//! caller's address and the key id (see `AuthThrottle`).

use crate::Compat;
use crate::key_scan::{Scan, json_member, xml_child};
use crate::{DialectError, DialectRequest, admit};
use axum::http::header;
use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use std::time::Duration;
use userhub_http_common::decode::{BodyError, ContentEncoding, decoded_stream};
use userhub_http_common::{Authenticator, Principal, Slot};

/// How much of a body is read, at most, before its key is known.
pub(crate) const PRE_AUTH_BYTES: usize = 64 * 1024;
/// How long the body's key may take to arrive.
pub(crate) const PRE_AUTH_TIME: Duration = Duration::from_secs(5);
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

/// An admitted request: who sent it, its whole (decoded) body, and its slot of the domain's
/// share (held until the handler is done with it).
pub(crate) struct Admitted {
    pub principal: Principal,
    pub body: Vec<u8>,
    pub _slot: Slot,
}

/// Authenticates, authorizes and rate-limits the request, then reads its body.
pub(crate) async fn admit_request(
    compat: &Compat,
    request: DialectRequest,
    admission: Admission,
) -> Result<Admitted, DialectError> {
    let DialectRequest {
        headers,
        body,
        client,
    } = request;
    let encoding_header = headers
        .get(header::CONTENT_ENCODING)
        .and_then(|value| value.to_str().ok());
    let Some(encoding) = ContentEncoding::parse(encoding_header) else {
        return Err(DialectError::BadRequest(
            "unsupported content encoding; use gzip or none".to_owned(),
        ));
    };
    let mut stream = decoded_stream(body, encoding, admission.limit);
    let mut buffer = Vec::new();
    let key = match admission.place {
        KeyPlace::Header => headers
            .get(header::AUTHORIZATION)
            .and_then(Authenticator::key_of_header),
        KeyPlace::JsonMember(name) | KeyPlace::XmlChild(name) => {
            let _anonymous = compat.context.budgets.anonymous_slot()?;
            let scan = find_key(&mut stream, &mut buffer, admission.place, name);
            tokio::time::timeout(PRE_AUTH_TIME, scan)
                .await
                .map_err(|_| {
                    DialectError::Unauthorized(format!(
                        "no `{name}` arrived within {} s: send the token first",
                        PRE_AUTH_TIME.as_secs()
                    ))
                })??
        }
    };
    let context = &compat.context;
    let principal = match context.authenticate_token(key.as_deref()).await {
        Ok(principal) => principal,
        Err(failure) => return Err(context.refuse_authentication(client, failure).into()),
    };
    let slot = context.domain_slot(&principal)?;
    if admission.writes && principal.read_only {
        return Err(DialectError::Forbidden(
            "this API key is read-only and cannot import profiles".to_owned(),
        ));
    }
    admit(compat, &principal, (admission.product_rate)(&principal)).await?;
    while let Some(chunk) = stream.next().await {
        buffer.extend_from_slice(&chunk.map_err(DialectError::from)?);
    }
    Ok(Admitted {
        principal,
        body: buffer,
        _slot: slot,
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
                buffer.extend_from_slice(&chunk.map_err(DialectError::from)?);
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
