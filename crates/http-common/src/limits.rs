//! The limits every HTTP listener applies, and the middleware that watches every request body:
//! it gives the body its deadlines (`408 REQUEST_TIMEOUT`, through [`BodyTimeout`]), and an
//! answer given before the body was read to its end (a refusal: 401, 403, 413, 429, 503) is
//! marked `Connection: close`, so that the unread rest is never read and holds nothing; the
//! server loop's lingering close lets the client read the answer rather than a reset, and
//! `Expect: 100-continue` gets the answer instead of `100`. Request slots are the
//! [`crate::budget`]'s; connection caps and write deadlines are the server loop's.

use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::time::{Instant, Sleep};

/// Time and concurrency limits of one HTTP listener.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Time allowed for a request's headers; also how long an idle keep-alive connection stays.
    pub header_read_timeout: Duration,
    /// Longest pause between two pieces of a request body.
    pub body_idle_timeout: Duration,
    /// Time allowed for a whole request body.
    pub body_timeout: Duration,
    /// Open connections; the one past it is answered `503` and closed.
    pub max_connections: usize,
    /// Open connections per client address (IPv4 host, IPv6 /64); trusted proxies are exempt.
    pub max_connections_per_address: usize,
    /// Longest time an answer may wait for the client to take more of it; past it the
    /// connection is closed and what it held is freed.
    pub write_timeout: Duration,
}

/// Why a request body stopped arriving.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum BodyTimeout {
    #[error("no part of the request body arrived for {} s", .0.as_secs())]
    Idle(Duration),
    #[error("the request body was not received within {} s", .0.as_secs())]
    Total(Duration),
}

impl BodyTimeout {
    /// The timeout behind a body read error, if that is what it was.
    pub fn behind(error: &(dyn std::error::Error + 'static)) -> Option<BodyTimeout> {
        let mut current = Some(error);
        while let Some(error) = current {
            if let Some(timeout) = error.downcast_ref::<BodyTimeout>() {
                return Some(*timeout);
            }
            current = error.source();
        }
        None
    }
}

impl From<BodyTimeout> for ApiError {
    fn from(timeout: BodyTimeout) -> Self {
        ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "REQUEST_TIMEOUT",
            format!("{timeout}; nothing was stored"),
        )
        .with_header("connection", "close")
    }
}

/// A request body that fails with [`BodyTimeout`] when it pauses or takes too long, and tells
/// whether it was read to its end.
struct TimedBody {
    inner: Body,
    ended: Arc<AtomicBool>,
    idle: Duration,
    idle_timer: Pin<Box<Sleep>>,
    total: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl TimedBody {
    fn new(inner: Body, idle: Duration, total: Duration, ended: Arc<AtomicBool>) -> TimedBody {
        let now = Instant::now();
        if http_body::Body::is_end_stream(&inner) {
            ended.store(true, Ordering::Relaxed);
        }
        TimedBody {
            inner,
            ended,
            idle,
            idle_timer: Box::pin(tokio::time::sleep_until(now + idle)),
            total,
            deadline: Box::pin(tokio::time::sleep_until(now + total)),
        }
    }
}

impl http_body::Body for TimedBody {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        context: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(context) {
            if matches!(frame, Some(Ok(_))) {
                let next = Instant::now() + this.idle;
                this.idle_timer.as_mut().reset(next);
            }
            if frame.is_none() || this.inner.is_end_stream() {
                this.ended.store(true, Ordering::Relaxed);
            }
            return Poll::Ready(frame);
        }
        if this.deadline.as_mut().poll(context).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimeout::Total(this.total)))));
        }
        if this.idle_timer.as_mut().poll(context).is_ready() {
            return Poll::Ready(Some(Err(axum::Error::new(BodyTimeout::Idle(this.idle)))));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Gives every request body the deadlines of `limits`, and closes the connection after an
/// answer given before its body was read to the end.
pub async fn time_request_bodies(
    State(limits): State<ServerLimits>,
    request: Request,
    next: Next,
) -> Response {
    let ended = Arc::new(AtomicBool::new(false));
    let request = request.map(|body| {
        Body::new(TimedBody::new(
            body,
            limits.body_idle_timeout,
            limits.body_timeout,
            Arc::clone(&ended),
        ))
    });
    let mut response = next.run(request).await;
    if !ended.load(Ordering::Relaxed) {
        response
            .headers_mut()
            .insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}
