//! Hostile bodies against a `userhub-server all` process: decompression and parse bombs sent
//! without a key, with a read-only key and past every documented count limit. Each is answered
//! with a clear 4xx, and the process's peak resident memory (`VmHWM`, reset before each) stays
//! within 64 MiB of its resident memory before the request (docs/operations.md, "Sharing a server between tenants").
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;
use userhub_tests::hostile::{EarlyRequest, RunningServer, gzip, send_reading_early};
use userhub_tests::{Service, TestApp};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");
const BOUND_KIB: u64 = 64 * 1024;
const ANSWER_WITHIN: Duration = Duration::from_secs(120);

struct Probe {
    name: &'static str,
    method: &'static str,
    path: String,
    content_type: String,
    key: Option<String>,
    body: Vec<u8>,
    expected: &'static [u16],
    /// Text the answer must hold.
    says: &'static str,
}

/// `head`, `count` times `item` (JSON items separated by commas), `tail`.
fn repeated(head: &str, item: &str, count: usize, tail: &str) -> Vec<u8> {
    let separator = if item.starts_with('<') { "" } else { "," };
    let mut text = String::with_capacity(head.len() + (item.len() + 1) * count + tail.len());
    text.push_str(head);
    for at in 0..count {
        if at > 0 {
            text.push_str(separator);
        }
        text.push_str(item);
    }
    text.push_str(tail);
    text.into_bytes()
}

fn multipart_csv(boundary: &str, rows: usize) -> Vec<u8> {
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\ncreate_core_profiles\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"payload\"; filename=\"p.csv\"\r\n\
         Content-Type: text/csv\r\n\r\nuid,email\r\n"
    )
    .into_bytes();
    for row in 0..rows {
        body.extend_from_slice(format!("user-{row},user-{row}@example.com\r\n").as_bytes());
    }
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    body
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hostile_bodies_are_refused_within_the_memory_bound() {
    let app = TestApp::spawn_service(Service::Api, |_| {}).await;
    let read_only = app
        .create_domain_with_key(&format!("{}-ro", app.domain), true)
        .await;
    let server = RunningServer::start(SERVER, &app.settings, &["all"], &[], "/readyz").await;
    let http = reqwest::Client::new();
    let domain = &app.domain;
    // Warm up: an import through the process and its status, so that the baseline holds the
    // pools, caches and worker buffers of ordinary work.
    let records: Vec<String> = (0..2_000)
        .map(|n| format!("{{\"identities\":[{{\"uid\":\"warm-{n}\"}}]}}"))
        .collect();
    let records = format!("[{}]", records.join(","));
    let tasks = format!("{}/v2/{domain}/identity/bulk_actions", server.base);
    let warm = http
        .post(&tasks)
        .bearer_auth(&app.api_key)
        .form(&[("action", "create_core_profiles"), ("payload", &records)])
        .send()
        .await
        .unwrap();
    assert_eq!(warm.status(), 201);
    let task: serde_json::Value = warm.json().await.unwrap();
    app.wait_completed(task["task_id"].as_u64().unwrap()).await;
    tokio::time::sleep(std::time::Duration::from_secs(1)).await;
    println!(
        "resident after warm-up: {} MiB",
        server.resident_kib() / 1024
    );

    let elements = 2_500_000;
    let probes = vec![
        Probe {
            name: "Altcraft XML of 2.5 M elements without a token",
            method: "POST",
            path: "/api/v1.1/profiles/import_batch".to_owned(),
            content_type: "application/xml".to_owned(),
            key: None,
            body: repeated("<xml>", "<data/>", elements, "</xml>"),
            expected: &[401],
            says: "",
        },
        Probe {
            name: "Altcraft XML of 2.5 M elements after a valid token",
            method: "POST",
            path: "/api/v1.1/profiles/import_batch".to_owned(),
            content_type: "application/xml".to_owned(),
            key: None,
            body: repeated(
                &format!("<xml><token>{}</token>", app.api_key),
                "<data/>",
                elements,
                "</xml>",
            ),
            expected: &[400, 413],
            says: "",
        },
        Probe {
            name: "Altcraft JSON with its token after 2 MiB of data",
            method: "POST",
            path: "/api/v1.1/profiles/import_batch".to_owned(),
            content_type: "application/json".to_owned(),
            key: None,
            body: repeated(
                "{\"data\":[",
                "{\"email\":\"someone@example.com\"}",
                70_000,
                &format!("],\"token\":\"{}\"}}", app.api_key),
            ),
            expected: &[401],
            says: "send the token before the data",
        },
        Probe {
            name: "Xtremepush columns bomb without an apptoken",
            method: "POST",
            path: "/api/external/import/profile".to_owned(),
            content_type: "application/json".to_owned(),
            key: None,
            body: repeated("{\"columns\":[", "\"\"", 5_000_000, "]}"),
            expected: &[401],
            says: "",
        },
        Probe {
            name: "Xtremepush columns bomb after a valid apptoken",
            method: "POST",
            path: "/api/external/import/profile".to_owned(),
            content_type: "application/json".to_owned(),
            key: None,
            body: repeated(
                &format!("{{\"apptoken\":\"{}\",\"columns\":[", app.api_key),
                "\"\"",
                5_000_000,
                "],\"rows\":[]}",
            ),
            expected: &[400, 413],
            says: "",
        },
        Probe {
            name: "HelpCrunch array of 2 M customers",
            method: "PUT",
            path: "/v1/customers/batch".to_owned(),
            content_type: "application/json".to_owned(),
            key: Some(app.api_key.clone()),
            body: repeated("[", "{}", 2_000_000, "]"),
            expected: &[400, 413],
            says: "",
        },
        Probe {
            name: "native JSON payload of 5 M records",
            method: "POST",
            path: format!("/v2/{domain}/identity/bulk_actions"),
            content_type: "application/json".to_owned(),
            key: Some(app.api_key.clone()),
            body: repeated(
                "{\"action\":\"create_core_profiles\",\"payload\":[",
                "{}",
                5_000_000,
                "]}",
            ),
            expected: &[400, 413],
            says: "",
        },
        Probe {
            name: "native multipart CSV of 160 MB with a read-only key",
            method: "POST",
            path: format!("/v2/{domain}-ro/identity/bulk_actions"),
            content_type: "multipart/form-data; boundary=XyZzy".to_owned(),
            key: Some(read_only.clone()),
            body: multipart_csv("XyZzy", 3_500_000),
            expected: &[403],
            says: "",
        },
    ];
    for probe in probes {
        let raw_size = probe.body.len();
        server.reset_peak();
        let before = server.resident_kib();
        let mut headers = vec![
            ("Content-Type", probe.content_type.clone()),
            ("Content-Encoding", "gzip".to_owned()),
        ];
        if let Some(key) = &probe.key {
            headers.push(("Authorization", format!("Bearer {key}")));
        }
        // A server that refuses early closes the connection before the body is sent: the
        // answer is read while the body is written.
        let request = EarlyRequest {
            method: probe.method,
            path: &probe.path,
            headers,
            body: gzip(probe.body),
        };
        let (status, text) = send_reading_early(&server.addr, request, ANSWER_WITHIN).await;
        assert!(
            probe.expected.contains(&status),
            "{} ({raw_size} bytes inflated): {status} {text}",
            probe.name
        );
        assert!(text.contains(probe.says), "{}: {text}", probe.name);
        let grown = server.peak_kib().saturating_sub(before);
        println!("{}: {status}, peak +{} MiB", probe.name, grown / 1024);
        assert!(
            grown < BOUND_KIB,
            "{}: peak memory grew by {} MiB",
            probe.name,
            grown / 1024
        );
    }
    app.stop().await;
}
