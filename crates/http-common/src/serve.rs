//! The HTTP server loop (hyper, HTTP/1.1) with the limits a server on the internet needs: a
//! deadline for each request's headers (which also ends idle keep-alive connections), a cap on
//! open connections (the one past it is answered `503` and closed), the caller's address in
//! every request, and graceful shutdown. Hand-written around hyper because `axum::serve` runs
//! without a timer and without a connection limit.

use crate::browsers::{BrowserPolicy, apply_browser_policy};
use crate::error::{json_fallback, json_method_not_allowed, limit_uri_length};
use crate::limits::{InFlight, ServerLimits, limit_in_flight, time_request_bodies};
use crate::throttle::resolve_client_address;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::HeaderName;
use axum::middleware::{from_fn, from_fn_with_state};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Semaphore, watch};
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long the `503` for a connection past the cap may take to write.
const REFUSAL_WRITE_TIME: Duration = Duration::from_secs(2);

/// How a listener serves: its limits, which web pages may call it, and where the client's
/// address is found.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub limits: ServerLimits,
    pub browsers: BrowserPolicy,
    /// Behind a proxy: the header holding the client's address (its last entry is used).
    pub client_address_header: Option<HeaderName>,
}

/// Serves `router` on `listener` until `shutdown`, then waits for open requests to finish.
/// Unknown paths and methods get JSON errors; every request gets the limits and the browser
/// policy of `options` and its [`ClientAddress`](crate::ClientAddress).
pub async fn serve(
    listener: TcpListener,
    router: Router,
    options: ServeOptions,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    tracing::info!(addr = %listener.local_addr()?, "listening");
    let ServeOptions {
        limits,
        browsers,
        client_address_header,
    } = options;
    let router = router
        .fallback(json_fallback)
        .method_not_allowed_fallback(json_method_not_allowed)
        .layer(from_fn(limit_uri_length))
        .layer(from_fn_with_state(limits, time_request_bodies))
        .layer(from_fn_with_state(Arc::new(browsers), apply_browser_policy))
        .layer(from_fn_with_state(
            client_address_header,
            resolve_client_address,
        ))
        .layer(from_fn_with_state(
            InFlight::new(limits.max_in_flight),
            limit_in_flight,
        ));
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    // Every connection task holds a receiver; the loop waits for all of them to drop.
    let (open_tx, open_rx) = watch::channel(());
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: wait rather than spin.
                    tracing::warn!(%error, "accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = shutdown.cancelled() => break,
        };
        let _ = stream.set_nodelay(true);
        let Ok(slot) = Arc::clone(&slots).try_acquire_owned() else {
            tokio::spawn(refuse(stream, limits.max_connections));
            continue;
        };
        let router = router.clone();
        let shutdown = shutdown.clone();
        let open = open_rx.clone();
        let header_read_timeout = limits.header_read_timeout;
        tokio::spawn(async move {
            serve_connection(stream, peer, router, header_read_timeout, shutdown).await;
            drop(slot);
            drop(open);
        });
    }
    drop(open_rx);
    drop(listener);
    open_tx.closed().await;
    Ok(())
}

async fn serve_connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Router,
    header_read_timeout: Duration,
    shutdown: CancellationToken,
) {
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        router.clone().oneshot(request)
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    tokio::pin!(connection);
    let mut stopping = false;
    loop {
        tokio::select! {
            result = connection.as_mut() => {
                if let Err(error) = result {
                    tracing::debug!(%error, %peer, "connection ended with an error");
                }
                return;
            }
            () = shutdown.cancelled(), if !stopping => {
                stopping = true;
                connection.as_mut().graceful_shutdown();
            }
        }
    }
}

/// Answers a connection past the cap with a `503` and closes it.
async fn refuse(mut stream: TcpStream, max_connections: usize) {
    let body = serde_json::json!({"error": {
        "code": "SERVER_BUSY",
        "message": format!(
            "the server has its limit of {max_connections} open connections; retry shortly"
        ),
        "details": {"max_connections": max_connections},
    }})
    .to_string();
    let answer = format!(
        "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        stream.write_all(answer.as_bytes()).await?;
        stream.shutdown().await?;
        // Read what the client already sent, so that closing does not reset the connection
        // before it has read the answer.
        let mut sink = [0u8; 4096];
        while stream.read(&mut sink).await? > 0 {}
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(REFUSAL_WRITE_TIME, write).await;
}
