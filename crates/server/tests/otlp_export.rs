//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, a service exports its spans over OTLP/HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::routing::post;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use userhub_tests::fixtures::seed_records;
use userhub_tests::{ServerProcess, Service, TestApp, free_port};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");

type Received = Arc<Mutex<Vec<(String, usize)>>>;

async fn collect(
    State(received): State<Received>,
    headers: HeaderMap,
    body: Bytes,
) -> &'static str {
    let content_type = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    received.lock().unwrap().push((content_type, body.len()));
    ""
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_exports_its_spans_to_the_otlp_endpoint() {
    let received: Received = Arc::default();
    let collector = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", collector.local_addr().unwrap());
    let router = Router::new()
        .route("/v1/traces", post(collect))
        .with_state(received.clone());
    tokio::spawn(async move { axum::serve(collector, router).await });

    let app = TestApp::spawn_service(Service::Api, |_| {}).await;
    let port = free_port().to_string();
    let addr = format!("127.0.0.1:{port}");
    let mut worker = ServerProcess::spawn(
        SERVER,
        &app.settings,
        &["worker", "create_core_profiles"],
        &[
            ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
            ("USERHUB__HTTP__ADDR", addr.as_str()),
        ],
    );
    let (status, _, _) = app.run_task("create_core_profiles", &seed_records()).await;
    assert_eq!(status["succeeded"], 3);
    worker.terminate();
    assert!(worker.wait(Duration::from_secs(30)).await.success());
    let received = received.lock().unwrap().clone();
    assert!(
        !received.is_empty(),
        "spans were exported when the worker shut down"
    );
    assert!(
        received
            .iter()
            .all(|(content_type, size)| content_type == "application/x-protobuf" && *size > 0),
        "{received:?}"
    );
    app.stop().await;
}
