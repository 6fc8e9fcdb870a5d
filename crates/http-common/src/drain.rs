//! Reading what is left of a request body before answering an early error, so that a client
//! still sending its upload gets our `4xx`/`503` instead of a broken pipe. Bounded: past the
//! limit the connection is closed instead.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use http_body_util::BodyExt;
use std::time::Duration;

/// At most this much of a rejected body is read.
pub const DRAIN_BYTES: u64 = 32 * 1024 * 1024;
/// For at most this long.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Reads and discards `body` within the bounds; `true` when it was read to its end.
pub async fn discard(mut body: Body) -> bool {
    let read = async {
        let mut total = 0u64;
        while let Some(frame) = body.frame().await {
            let Ok(frame) = frame else { return false };
            if let Some(data) = frame.data_ref() {
                total += data.len() as u64;
                if total > DRAIN_BYTES {
                    return false;
                }
            }
        }
        true
    };
    tokio::time::timeout(DRAIN_TIME, read)
        .await
        .unwrap_or(false)
}

/// Drains `body`, then returns `response`, marked `Connection: close` if the body was too long.
pub async fn after_draining(body: Body, mut response: Response) -> Response {
    if !discard(body).await {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
