//! A webhook receiver on loopback for tests: it records every request it gets and answers
//! `500` to the first `fail_first` of them, `200` after.

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What the receiver saw, and how many requests it fails first.
#[derive(Default)]
pub struct Inbox {
    pub received: Vec<(HeaderMap, Bytes)>,
    pub fail_first: usize,
}

/// An inbox shared between the receiver and the test.
pub type SharedInbox = Arc<Mutex<Inbox>>;

async fn receive(State(inbox): State<SharedInbox>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let mut inbox = inbox.lock().expect("the inbox lock");
    inbox.received.push((headers, body));
    if inbox.received.len() <= inbox.fail_first {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    }
}

/// Starts a receiver filling `inbox`; returns its URL.
pub async fn receiver(inbox: SharedInbox) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a loopback port");
    let url = format!("http://{}/hook", listener.local_addr().expect("an address"));
    let app = Router::new()
        .route("/hook", post(receive))
        .with_state(inbox);
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// Waits (up to 30 s) until `inbox` got `count` requests.
pub async fn wait_for(inbox: &SharedInbox, count: usize) {
    for _ in 0..300 {
        if inbox.lock().expect("the inbox lock").received.len() >= count {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("the receiver did not get {count} requests");
}
