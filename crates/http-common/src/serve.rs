//! The HTTP server loop (hyper, HTTP/1.1) with the limits a server on the internet needs: a
//! deadline for each request's headers (which also ends idle keep-alive connections), caps on
//! open connections in all and per client address (the one past a cap is answered and
//! closed), small connection buffers, request heads that end lines with CRLF only, a deadline
//! for every answer the client stops reading, the caller's address in every request, a brief
//! lingering close (so that a client whose upload was refused unread reads the refusal, not a
//! reset), and graceful shutdown. Hand-written around hyper because `axum::serve` has none of
//! these limits.

use crate::browsers::{BrowserPolicy, apply_browser_policy};
use crate::client_address::{AddressPolicy, ClientAddress, resolve_client_address};
use crate::error::{AnsweredCode, json_fallback, json_method_not_allowed, limit_uri_length};
use crate::limits::{ServerLimits, time_request_bodies};
use crate::strict_heads::StrictHeads;
use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::middleware::{from_fn, from_fn_with_state};
use futures_util::FutureExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tokio_io_timeout::TimeoutStream;
use tokio_util::sync::CancellationToken;
use tower::ServiceExt;

/// How long the answer for a connection past a cap may take to write.
const REFUSAL_WRITE_TIME: Duration = Duration::from_secs(2);
/// After a refusal, a closing connection's unread input is read and dropped for at most this
/// long...
const LINGER_TIME: Duration = Duration::from_secs(2);
/// ... and at most this much of it, so that a client still sending its body reads our answer
/// rather than a reset (a connection closed with unread input is reset, and the reset discards
/// the answer the client has not read yet). Reading and dropping costs little; the caps on
/// connections bound how many do it at once.
const LINGER_BYTES: usize = 64 * 1024 * 1024;
/// After the service's own failure (a dependency down: the client did nothing wrong and should
/// retry), the rest of an upload is read for longer, so that the client surely sees the `503`.
const LINGER_AFTER_FAILURE_TIME: Duration = Duration::from_secs(10);
const LINGER_AFTER_FAILURE_BYTES: usize = 64 * 1024 * 1024;
/// hyper's read and write buffers per connection (request heads must fit).
const CONNECTION_BUFFER_BYTES: usize = 32 * 1024;

/// How a listener serves: its limits, which web pages may call it, and where the client's
/// address is found.
#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub limits: ServerLimits,
    pub browsers: BrowserPolicy,
    pub addresses: AddressPolicy,
}

/// Open connections per client address bucket.
#[derive(Debug, Default)]
struct PerAddress {
    open: Mutex<HashMap<IpAddr, usize>>,
}

/// A connection's place in the per-address count; given back when dropped.
struct AddressHold {
    table: Arc<PerAddress>,
    bucket: IpAddr,
}

impl PerAddress {
    fn hold(table: &Arc<PerAddress>, bucket: IpAddr, limit: usize) -> Option<AddressHold> {
        let mut open = table.open.lock().unwrap_or_else(|p| p.into_inner());
        let count = open.entry(bucket).or_insert(0);
        if *count >= limit {
            return None;
        }
        *count += 1;
        Some(AddressHold {
            table: Arc::clone(table),
            bucket,
        })
    }
}

impl Drop for AddressHold {
    fn drop(&mut self) {
        let mut open = self.table.open.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(count) = open.get_mut(&self.bucket) {
            *count -= 1;
            if *count == 0 {
                open.remove(&self.bucket);
            }
        }
    }
}

/// Why a connection is not served.
enum Refusal {
    Server(usize),
    Address(usize),
}

/// What a connection holds while it is open.
struct ConnectionHold {
    _slot: OwnedSemaphorePermit,
    _address: Option<AddressHold>,
}

/// The accept loop's caps.
struct Caps {
    slots: Arc<Semaphore>,
    per_address: Arc<PerAddress>,
    limits: ServerLimits,
    addresses: AddressPolicy,
}

impl Caps {
    fn admit(&self, peer: IpAddr) -> Result<ConnectionHold, Refusal> {
        let address = if self.addresses.is_trusted_proxy(peer) {
            None
        } else {
            let bucket = ClientAddress::new(peer).bucket();
            let limit = self.limits.max_connections_per_address;
            Some(
                PerAddress::hold(&self.per_address, bucket, limit)
                    .ok_or(Refusal::Address(limit))?,
            )
        };
        let slot = Arc::clone(&self.slots)
            .try_acquire_owned()
            .map_err(|_| Refusal::Server(self.limits.max_connections))?;
        Ok(ConnectionHold {
            _slot: slot,
            _address: address,
        })
    }
}

/// Serves `router` on `listener` until `shutdown`, then waits for open requests to finish.
/// Unknown paths and methods get JSON errors; every request gets the limits and the browser
/// policy of `options` and its [`ClientAddress`].
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
        addresses,
    } = options;
    let router = router
        .fallback(json_fallback)
        .method_not_allowed_fallback(json_method_not_allowed)
        .layer(from_fn(limit_uri_length))
        .layer(from_fn_with_state(limits, time_request_bodies))
        .layer(from_fn_with_state(Arc::new(browsers), apply_browser_policy))
        .layer(from_fn_with_state(
            Arc::new(addresses.clone()),
            resolve_client_address,
        ));
    let caps = Caps {
        slots: Arc::new(Semaphore::new(limits.max_connections.max(1))),
        per_address: Arc::new(PerAddress::default()),
        limits,
        addresses,
    };
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
        let hold = match caps.admit(peer.ip()) {
            Ok(hold) => hold,
            Err(refusal) => {
                tokio::spawn(refuse(stream, refusal));
                continue;
            }
        };
        let router = router.clone();
        let shutdown = shutdown.clone();
        let open = open_rx.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, router, limits, shutdown).await;
            drop(hold);
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
    limits: ServerLimits,
    shutdown: CancellationToken,
) {
    let failed = Arc::new(AtomicBool::new(false));
    let service_failed = Arc::clone(&failed);
    let service = hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
        let mut request = request.map(Body::new);
        request.extensions_mut().insert(ConnectInfo(peer));
        let failed = Arc::clone(&service_failed);
        Box::pin(router.clone().oneshot(request).map(move |answered| {
            if let Ok(response) = &answered
                && is_service_failure(response)
            {
                failed.store(true, Ordering::Relaxed);
            }
            answered
        }))
    });
    let mut io = TimeoutStream::new(StrictHeads::new(stream));
    io.set_write_timeout(Some(limits.write_timeout));
    let io = Box::pin(io);
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(CONNECTION_BUFFER_BYTES);
    let mut connection = builder.serve_connection(TokioIo::new(io), service);
    let mut stopping = false;
    let served = loop {
        tokio::select! {
            result = std::future::poll_fn(|cx| connection.poll_without_shutdown(cx)) => break result,
            () = shutdown.cancelled(), if !stopping => {
                stopping = true;
                Pin::new(&mut connection).graceful_shutdown();
            }
        }
    };
    if let Err(error) = served {
        tracing::debug!(%error, %peer, "connection ended with an error");
        return;
    }
    let io = connection.into_parts().io.into_inner();
    if failed.load(Ordering::Relaxed) {
        linger(io, LINGER_AFTER_FAILURE_BYTES, LINGER_AFTER_FAILURE_TIME).await;
    } else {
        linger(io, LINGER_BYTES, LINGER_TIME).await;
    }
}

/// Whether `response` is the service's own failure (a `5xx` other than being too busy).
fn is_service_failure(response: &axum::response::Response) -> bool {
    let busy = response
        .extensions()
        .get::<AnsweredCode>()
        .is_some_and(|code| code.0 == "SERVER_BUSY");
    response.status().is_server_error() && !busy
}

/// Closes our side, then reads what the client still sends (up to `most` bytes, for `time`)
/// before closing, so that an answer sent without reading the request's body reaches the
/// client.
async fn linger(mut io: impl AsyncRead + AsyncWrite + Unpin, most: usize, time: Duration) {
    let close = async {
        io.shutdown().await?;
        let mut sink = vec![0u8; 16 * 1024];
        let mut read = 0;
        while read < most {
            match io.read(&mut sink).await? {
                0 => break,
                n => read += n,
            }
        }
        Ok::<(), std::io::Error>(())
    };
    let _ = tokio::time::timeout(time, close).await;
}

/// Answers a connection past a cap and closes it.
async fn refuse(mut stream: TcpStream, refusal: Refusal) {
    let (status, code, message, details) = match refusal {
        Refusal::Server(limit) => (
            "503 Service Unavailable",
            "SERVER_BUSY",
            format!("the server has its limit of {limit} open connections; retry shortly"),
            serde_json::json!({"max_connections": limit}),
        ),
        Refusal::Address(limit) => (
            "429 Too Many Requests",
            "TOO_MANY_CONNECTIONS",
            format!("this address already has {limit} open connections; close one first"),
            serde_json::json!({"max_connections_per_address": limit}),
        ),
    };
    let body = serde_json::json!({"error": {
        "code": code,
        "message": message,
        "details": details,
    }})
    .to_string();
    let answer = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\n\
         retry-after: 1\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    );
    let write = async {
        stream.write_all(answer.as_bytes()).await?;
        Ok::<(), std::io::Error>(())
    };
    if tokio::time::timeout(REFUSAL_WRITE_TIME, write)
        .await
        .is_ok()
    {
        linger(stream, LINGER_BYTES, LINGER_TIME).await;
    }
}
