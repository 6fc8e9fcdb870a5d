//! The limits every HTTP service applies, and the middleware enforcing the per-request ones: a
//! cap on requests in progress (`503 SERVER_BUSY` with `Retry-After`) and deadlines for
//! receiving a request body (`408 REQUEST_TIMEOUT`, through [`BodyTimeout`]).

use crate::error::ApiError;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http_body::{Frame, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tokio::sync::Semaphore;
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
    /// Requests being handled at once; past it requests are answered `503`.
    pub max_in_flight: usize,
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

/// A request body that fails with [`BodyTimeout`] when it pauses or takes too long.
struct TimedBody {
    inner: Body,
    idle: Duration,
    idle_timer: Pin<Box<Sleep>>,
    total: Duration,
    deadline: Pin<Box<Sleep>>,
}

impl TimedBody {
    fn new(inner: Body, idle: Duration, total: Duration) -> TimedBody {
        let now = Instant::now();
        TimedBody {
            inner,
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

/// Gives every request body the deadlines of `limits`.
pub async fn time_request_bodies(
    State(limits): State<ServerLimits>,
    request: Request,
    next: Next,
) -> Response {
    let request = request.map(|body| {
        Body::new(TimedBody::new(
            body,
            limits.body_idle_timeout,
            limits.body_timeout,
        ))
    });
    next.run(request).await
}

/// The shared count of requests in progress.
#[derive(Debug, Clone)]
pub struct InFlight {
    slots: Arc<Semaphore>,
    limit: usize,
}

impl InFlight {
    pub fn new(limit: usize) -> InFlight {
        let limit = limit.max(1);
        InFlight {
            slots: Arc::new(Semaphore::new(limit)),
            limit,
        }
    }
}

/// Probes that must answer even when the server is full.
fn is_probe(path: &str) -> bool {
    matches!(path, "/healthz" | "/readyz" | "/metrics")
}

/// Answers `503 SERVER_BUSY` when `limit` requests are already being handled.
pub async fn limit_in_flight(
    State(in_flight): State<InFlight>,
    request: Request,
    next: Next,
) -> Response {
    if is_probe(request.uri().path()) {
        return next.run(request).await;
    }
    let Ok(_slot) = in_flight.slots.try_acquire() else {
        return ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "SERVER_BUSY",
            format!(
                "the server is handling its limit of {} requests; retry shortly",
                in_flight.limit
            ),
        )
        .with_details(serde_json::json!({ "max_in_flight": in_flight.limit }))
        .with_header("retry-after", 1)
        .with_header("connection", "close")
        .into_response();
    };
    next.run(request).await
}
