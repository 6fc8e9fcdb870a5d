//! Faults around acceptance and the database (reliability.md 5, 7): a gateway killed while
//! accepting leaves no task looking healthy; connections killed mid-chunk are retried and apply
//! once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use bytes::Bytes;
use std::time::Duration;
use userhub_tests::oracle::{assert_import_applied, numbered_profiles};
use userhub_tests::{ServerProcess, Service, TestApp, free_port, jsonl};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");

/// Starts `userhub-server api` as a process and waits until it is ready; returns its base URL.
async fn api_process(app: &TestApp, extra_env: &[(&str, &str)]) -> (ServerProcess, String) {
    let port = free_port();
    let addr = format!("127.0.0.1:{port}");
    let mut env: Vec<(&str, &str)> = vec![("USERHUB__HTTP__ADDR", addr.as_str())];
    env.extend_from_slice(extra_env);
    let process = ServerProcess::spawn(SERVER, &app.settings, &["api"], &env);
    let base = format!("http://{addr}");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !app
        .client
        .get(format!("{base}/readyz"))
        .send()
        .await
        .is_ok_and(|r| r.status() == 200)
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the api process did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (process, base)
}

fn multipart(boundary: &str, jsonl: &str) -> (String, String) {
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\ncreate_core_profiles\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"payload\"; filename=\"p.jsonl\"\r\n\r\n"
    );
    (format!("{head}{jsonl}"), format!("\r\n--{boundary}--\r\n"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_while_receiving_an_upload_leaves_no_task() {
    let app = TestApp::spawn_service(Service::Api, |_| {}).await;
    let (mut gateway, base) = api_process(&app, &[]).await;
    let (body, tail) = multipart("slow-upload", &jsonl(&numbered_profiles(0..5_000)));
    let mut pieces: Vec<Bytes> = body
        .into_bytes()
        .chunks(64 * 1024)
        .map(Bytes::copy_from_slice)
        .collect();
    pieces.push(Bytes::from(tail));
    let slow = futures_util::stream::unfold(pieces.into_iter(), |mut pieces| async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        pieces
            .next()
            .map(|piece| (Ok::<_, std::io::Error>(piece), pieces))
    });
    let upload = app
        .client
        .post(format!("{base}/v2/{}/identity/bulk_actions", app.domain))
        .bearer_auth(&app.api_key)
        .header("content-type", "multipart/form-data; boundary=slow-upload")
        .body(reqwest::Body::wrap_stream(slow))
        .send();
    let kill_soon = async {
        tokio::time::sleep(Duration::from_millis(700)).await;
        gateway.kill();
    };
    let (response, ()) = tokio::join!(upload, kill_soon);
    assert!(
        response.is_err() || !response.unwrap().status().is_success(),
        "the client sees the failure"
    );
    assert_eq!(app.task_count().await, 0, "nothing was accepted");
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_gateway_killed_after_publishing_leaves_a_task_reported_failed() {
    let app =
        TestApp::spawn_service(Service::Api, |settings| settings.gateway.chunk_records = 10).await;
    let (mut gateway, base) = api_process(
        &app,
        &[("USERHUB__GATEWAY__FAULTS__CRASH_BEFORE_QUEUED", "true")],
    )
    .await;
    let records = numbered_profiles(0..30);
    let (body, tail) = multipart("b", &jsonl(&records));
    let response = app
        .client
        .post(format!("{base}/v2/{}/identity/bulk_actions", app.domain))
        .bearer_auth(&app.api_key)
        .header("content-type", "multipart/form-data; boundary=b")
        .body(format!("{body}{tail}"))
        .send()
        .await;
    assert!(response.is_err(), "the gateway died before answering");
    let _ = gateway.wait(Duration::from_secs(10)).await;
    let tasks = app.query_json("SELECT id, state FROM tasks").await;
    let task_id = tasks[0]["id"]
        .as_u64()
        .expect("the task row was committed before publishing");
    assert_eq!(tasks[0]["state"], "created", "never reported queued");
    let _worker = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    let status = app.wait_completed(task_id).await;
    assert_eq!(status["outcome"], "failed");
    assert!(
        status["failure_reason"]
            .as_str()
            .unwrap()
            .contains("interrupted"),
        "{status}"
    );
    assert_eq!(status["succeeded"], 0);
    let profiles = app
        .query_json("SELECT count(*) AS n FROM core_profiles")
        .await;
    assert_eq!(
        profiles[0]["n"], 0,
        "none of the half-published chunks was applied"
    );
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connections_terminated_mid_chunk_roll_back_and_apply_once() {
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.gateway.chunk_records = 250
    })
    .await;
    let records = numbered_profiles(0..20_000);
    let first = app
        .create_task("create_core_profiles", &records[..10_000])
        .await;
    let second = app
        .create_task("create_core_profiles", &records[10_000..])
        .await;
    let _workers = [
        ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]),
        ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]),
    ];
    let mut terminated = 0;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(4);
    while tokio::time::Instant::now() < deadline {
        let client = app.pool.get().await.unwrap();
        let rows = client
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
                  WHERE datname = current_database() AND pid <> pg_backend_pid() AND state = 'active'",
                &[],
            )
            .await
            .unwrap();
        terminated += rows.len();
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    println!("terminated {terminated} busy connections");
    assert!(terminated > 0, "connections were killed mid-work");
    assert_import_applied(&app, &[first, second], 10_000, &records).await;
    app.stop().await;
}
