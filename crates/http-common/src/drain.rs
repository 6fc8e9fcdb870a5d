//! Reading what is left of a request body before answering an early error, so that a client
//! still sending its upload gets our `4xx`/`503` instead of a broken pipe. Bounded: past the
//! limit the connection is closed instead.

use axum::body::Body;
use axum::http::{HeaderValue, header};
use axum::response::Response;
use futures_util::{Stream, StreamExt};
use std::time::Duration;

/// At most this much of a rejected body is read.
pub const DRAIN_BYTES: u64 = 32 * 1024 * 1024;
/// For at most this long.
pub const DRAIN_TIME: Duration = Duration::from_secs(10);

/// Reads and discards `body` within the bounds; `true` when it was read to its end.
pub async fn discard(body: Body) -> bool {
    discard_stream(body.into_data_stream()).await
}

/// Reads and discards a stream of body pieces (e.g. a decoded body) within the bounds; `true`
/// when it was read to its end.
pub async fn discard_stream<B: AsRef<[u8]>, E>(
    mut stream: impl Stream<Item = Result<B, E>> + Unpin,
) -> bool {
    let read = async {
        let mut total = 0u64;
        while let Some(piece) = stream.next().await {
            let Ok(piece) = piece else { return false };
            total += piece.as_ref().len() as u64;
            if total > DRAIN_BYTES {
                return false;
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
