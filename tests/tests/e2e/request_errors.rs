//! Request-level problems are answered synchronously with the documented status and code, and
//! create no task.

use serde_json::Value;
use userhub_tests::TestApp;
use userhub_tests::fixtures::seed_payload;

async fn assert_error(response: reqwest::Response, status: u16, code: &str) -> Value {
    assert_eq!(response.status().as_u16(), status);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], code, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "a human message: {body}"
    );
    body
}

#[tokio::test]
async fn missing_and_unknown_actions_are_invalid_action() {
    let app = TestApp::spawn().await;
    let missing = app
        .authorized(
            app.client
                .post(app.tasks_url())
                .form(&[("payload", seed_payload())]),
        )
        .send()
        .await
        .unwrap();
    assert_error(missing, 400, "INVALID_ACTION").await;
    let unknown = app.post_form("delete_core_profiles", &seed_payload()).await;
    let body = assert_error(unknown, 400, "INVALID_ACTION").await;
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("delete_core_profiles")
    );
    let in_multipart = app.post_jsonl("nope", "{}\n").await;
    assert_error(in_multipart, 400, "INVALID_ACTION").await;
    assert_eq!(app.task_count().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn payloads_that_are_missing_malformed_or_empty_are_invalid_payload() {
    let app = TestApp::spawn().await;
    let missing = app
        .authorized(
            app.client
                .post(app.tasks_url())
                .form(&[("action", "create_core_profiles")]),
        )
        .send()
        .await
        .unwrap();
    assert_error(missing, 400, "INVALID_PAYLOAD").await;
    for payload in ["[", "{\"identities\":[]}", "not json", "[]", "   "] {
        let response = app.post_form("create_core_profiles", payload).await;
        assert_error(response, 400, "INVALID_PAYLOAD").await;
    }
    let empty_file = app.post_jsonl("create_core_profiles", "\n\r\n  \n").await;
    assert_error(empty_file, 400, "INVALID_PAYLOAD").await;
    let json_body = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "application/json")
        .body("{\"action\": \"create_core_profiles\", \"payload\": {\"a\": 1}}")
        .send()
        .await
        .unwrap();
    assert_error(json_body, 400, "INVALID_PAYLOAD").await;
    let broken_json = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "application/json")
        .body("{\"action\": ")
        .send()
        .await
        .unwrap();
    assert_error(broken_json, 400, "INVALID_PAYLOAD").await;
    assert_eq!(app.task_count().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn more_than_ten_thousand_records_is_too_many_records() {
    let app = TestApp::spawn().await;
    let jsonl = "{\"identities\":[{\"uid\":\"u\"}]}\n".repeat(10_001);
    let response = app.post_jsonl("create_core_profiles", &jsonl).await;
    let body = assert_error(response, 413, "TOO_MANY_RECORDS").await;
    assert_eq!(body["error"]["details"]["limit"], 10_000);
    let array = format!("[{}]", vec!["{}"; 10_001].join(","));
    assert_error(
        app.post_form("create_core_profiles", &array).await,
        413,
        "TOO_MANY_RECORDS",
    )
    .await;
    assert_eq!(app.task_count().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn bodies_over_the_limit_are_refused_with_and_without_content_length() {
    let app = TestApp::spawn_with(|settings| {
        settings.gateway.max_body_bytes = 64 * 1024;
        settings.gateway.max_multipart_bytes = 128 * 1024;
    })
    .await;
    let big = format!(
        "[{}]",
        vec!["{\"identities\":[{\"uid\":\"u\"}]}"; 5000].join(",")
    );
    let with_length = app.post_form("create_core_profiles", &big).await;
    assert_error(with_length, 413, "PAYLOAD_TOO_LARGE").await;
    let chunks: Vec<Result<bytes::Bytes, std::io::Error>> = (0..100)
        .map(|_| Ok(bytes::Bytes::from(vec![b'x'; 4096])))
        .collect();
    let streamed = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            chunks,
        )))
        .send()
        .await
        .unwrap();
    assert_error(streamed, 413, "PAYLOAD_TOO_LARGE").await;
    let jsonl = "{\"identities\":[{\"uid\":\"u\"}]}\n".repeat(6000);
    assert_error(
        app.post_jsonl("create_core_profiles", &jsonl).await,
        413,
        "PAYLOAD_TOO_LARGE",
    )
    .await;
    assert_eq!(app.task_count().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn a_gzip_bomb_is_refused_by_its_decompressed_size() {
    use std::io::Write;
    let app = TestApp::spawn().await;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder
        .write_all(b"action=create_core_profiles&payload=")
        .unwrap();
    encoder.write_all(&vec![b' '; 64 * 1024 * 1024]).unwrap();
    let bomb = encoder.finish().unwrap();
    assert!(bomb.len() < 200 * 1024);
    let response = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-encoding", "gzip")
        .body(bomb)
        .send()
        .await
        .unwrap();
    assert_error(response, 413, "PAYLOAD_TOO_LARGE").await;
    assert_eq!(app.task_count().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn unsupported_content_types_and_encodings_are_415() {
    let app = TestApp::spawn().await;
    let xml = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "text/xml")
        .body("<profiles/>")
        .send()
        .await
        .unwrap();
    assert_error(xml, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    let none = app
        .authorized(app.client.post(app.tasks_url()))
        .body("action=x")
        .send()
        .await
        .unwrap();
    assert_error(none, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    let brotli = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("content-encoding", "br")
        .body("action=x")
        .send()
        .await
        .unwrap();
    assert_error(brotli, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    assert_eq!(app.task_count().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn task_ids_that_are_not_numbers_or_overflow_are_rejected() {
    let app = TestApp::spawn().await;
    for id in ["abc", "-1", "99999999999999999999999", "9007199254740992"] {
        let url = format!("{}/{id}", app.tasks_url());
        let response = app.authorized(app.client.get(url)).send().await.unwrap();
        assert_error(response, 400, "INVALID_TASK_ID").await;
    }
    let unknown = app
        .authorized(app.client.get(format!("{}/nothing/here", app.base_url)))
        .send()
        .await
        .unwrap();
    assert_error(unknown, 404, "NOT_FOUND").await;
    app.stop().await;
}

#[tokio::test]
async fn deeply_nested_json_is_a_record_error_and_the_server_stays_up() {
    let app = TestApp::spawn().await;
    let deep = format!("[{}{}]", "[".repeat(100_000), "]".repeat(100_000));
    let response = app.post_form("create_core_profiles", &deep).await;
    assert_eq!(response.status(), 201);
    let task_id = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let status = app.wait_completed(task_id).await;
    assert_eq!(status["outcome"], "failed");
    let errors = app.errors(task_id).await;
    // However deep, an array is not a record: reported without being read into memory.
    assert_eq!(errors[0]["errors"][0]["code"], "INVALID_VALUE_TYPE");
    // In JSONL the deep line must not come first: a leading `[` means a JSON array payload.
    let lines = [
        "{\"identities\":[{\"uid\":\"fine\"}]}".to_owned(),
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
    ];
    let (status, _, errors) = {
        let task_id = app
            .create_task_from_lines("create_core_profiles", &lines)
            .await;
        (
            app.wait_completed(task_id).await,
            app.results(task_id).await,
            app.errors(task_id).await,
        )
    };
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(errors[0]["errors"][0]["code"], "INVALID_VALUE_TYPE");
    app.stop().await;
}

#[tokio::test]
async fn early_errors_reach_a_client_still_sending_a_large_upload() {
    let app = TestApp::spawn().await;
    // 8 MiB sent in slices with pauses: the client is still sending when the server decides.
    let big = || {
        let slices = futures_util::stream::unfold(0, |sent| async move {
            if sent == 64 {
                return None;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
            Some((
                Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'x'; 128 * 1024])),
                sent + 1,
            ))
        });
        reqwest::Body::wrap_stream(slices)
    };
    // Refused by authentication, by the content type and by the idempotency key: each before the
    // body is looked at, each answered only after it was read, so the client sees the answer.
    let wrong_key = app
        .client
        .post(app.tasks_url())
        .bearer_auth("uh_000000000000_00000000000000000000000000000000")
        .header("content-type", "application/json")
        .body(big())
        .send()
        .await
        .expect("an answer, not a broken pipe");
    assert_error(wrong_key, 401, "UNAUTHORIZED").await;
    let text = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "text/plain")
        .body(big())
        .send()
        .await
        .expect("an answer, not a broken pipe");
    assert_error(text, 415, "UNSUPPORTED_MEDIA_TYPE").await;
    let bad_key = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "application/json")
        .header("idempotency-key", "")
        .body(big())
        .send()
        .await
        .expect("an answer, not a broken pipe");
    assert_error(bad_key, 400, "INVALID_IDEMPOTENCY_KEY").await;
    assert_eq!(app.task_count().await, 0);
    app.stop().await;
}
