//! Hostile input from reliability.md: each gets a clear 4xx or a per-record error, nothing is
//! half-written and the server stays up.

use bytes::Bytes;
use serde_json::{Value, json};
use userhub_tests::TestApp;

async fn assert_still_up(app: &TestApp) {
    let health = app
        .client
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200);
}

#[tokio::test]
async fn records_that_are_not_objects_invalid_utf8_and_lone_surrogates_are_record_errors() {
    let app = TestApp::spawn().await;
    let (status, results, errors) = {
        let response = app
            .post_form(
                "create_core_profiles",
                "[1, \"text\", null, [], {\"identities\":[{\"uid\":\"ok\"}]}]",
            )
            .await;
        assert_eq!(response.status(), 201);
        let task_id = response.json::<Value>().await.unwrap()["task_id"]
            .as_u64()
            .unwrap();
        (
            app.wait_completed(task_id).await,
            app.results(task_id).await,
            app.errors(task_id).await,
        )
    };
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(1), Some(4))
    );
    assert_eq!(results[0]["index"], 4);
    assert!(
        errors
            .iter()
            .all(|e| e["errors"][0]["code"] == "INVALID_VALUE_TYPE"),
        "{errors:?}"
    );

    let mut body =
        b"{\"identities\":[{\"uid\":\"fine\"}]}\n{\"identities\":[{\"uid\":\"bad \xff\xfe\"}]}\n"
            .to_vec();
    body.extend_from_slice(b"{\"identities\":[{\"uid\":\"surrogate \\ud800\"}]}\n");
    let part = reqwest::multipart::Part::bytes(body).file_name("p.jsonl");
    let form = reqwest::multipart::Form::new()
        .text("action", "create_core_profiles")
        .part("payload", part);
    let response = app
        .authorized(app.client.post(app.tasks_url()).multipart(form))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let task_id = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let status = app.wait_completed(task_id).await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(1), Some(2)),
        "{status}"
    );
    let errors = app.errors(task_id).await;
    assert_eq!(errors[0]["line"], 2);
    assert_eq!(
        errors[0]["errors"][0]["code"], "INVALID_JSON",
        "invalid UTF-8"
    );
    assert_eq!(errors[1]["line"], 3);
    assert_eq!(
        errors[1]["errors"][0]["code"], "INVALID_JSON",
        "a lone surrogate"
    );

    let invalid_json_body = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "application/json")
        .body(b"{\"action\":\"create_core_profiles\",\"payload\":[{\"x\":\"\xff\"}]}".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(invalid_json_body.status(), 400);
    assert_still_up(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_hundred_thousand_custom_fields_are_one_count_error() {
    let app = TestApp::spawn().await;
    let fields: serde_json::Map<String, Value> =
        (0..100_000).map(|i| (format!("k{i}"), json!(i))).collect();
    let payload = json!([{"identities": [{"uid": "wide"}], "custom_fields": fields}]);
    let response = app.post_json("create_core_profiles", &payload).await;
    assert_eq!(response.status(), 201);
    let task_id = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    app.wait_completed(task_id).await;
    let errors = app.errors(task_id).await;
    assert_eq!(errors[0]["errors"].as_array().unwrap().len(), 1);
    assert_eq!(errors[0]["errors"][0]["code"], "EXCEEDED_COUNT_LIMIT");
    assert!(
        errors[0]["input"]
            .as_str()
            .is_some_and(|text| text.len() <= 4096),
        "the echo is cut at 4 KiB"
    );
    assert_still_up(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn a_single_100_mb_jsonl_line_is_a_record_error_read_in_bounded_memory() {
    let app = TestApp::spawn().await;
    let head = "--b\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\ncreate_core_profiles\r\n\
                --b\r\nContent-Disposition: form-data; name=\"payload\"; filename=\"p.jsonl\"\r\n\r\n\
                {\"identities\":[{\"uid\":\"before\"}]}\n{\"identities\":[{\"uid\":\"";
    let tail = "\"}]}\n{\"identities\":[{\"uid\":\"after\"}]}\n\r\n--b--\r\n";
    let filler = Bytes::from(vec![b'x'; 1024 * 1024]);
    let pieces = std::iter::once(Bytes::from(head))
        .chain(std::iter::repeat_n(filler, 100))
        .chain(std::iter::once(Bytes::from(tail)))
        .map(Ok::<_, std::io::Error>);
    let response = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "multipart/form-data; boundary=b")
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let task_id = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let status = app.wait_completed(task_id).await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(2), Some(1)),
        "{status}"
    );
    let errors = app.errors(task_id).await;
    assert_eq!(errors[0]["line"], 2);
    assert_eq!(
        errors[0]["errors"][0]["code"],
        "EXCEEDED_VALUE_LENGTH_LIMIT"
    );
    let peak_mib = userhub_tests::peak_rss_kib(std::process::id()).unwrap() / 1024;
    println!("peak RSS of the test process (server included): {peak_mib} MiB");
    assert!(
        peak_mib < 90,
        "the 100 MB line was never held in memory: {peak_mib} MiB"
    );
    assert_still_up(&app).await;
    app.stop().await;
}

#[tokio::test]
async fn sql_and_html_looking_strings_are_stored_and_returned_verbatim() {
    let app = TestApp::spawn().await;
    let sql = "Robert'); DROP TABLE core_profiles;--";
    let html = "<script>alert('x')</script>&amp;";
    let record = json!({
        "identities": [{"uid": sql, "note": html}],
        "last_city": sql,
        "names": {"first_name": html},
        "custom_fields": {html: sql}
    });
    let (_, created, errors) = app.run_task("create_core_profiles", &[record]).await;
    assert!(errors.is_empty(), "{errors:?}");
    let id = created[0]["core-profile-id"].as_u64().unwrap();
    let (_, exported, _) = app
        .run_task("get_core_profiles", &[json!({"core-profile-id": id})])
        .await;
    assert_eq!(exported[0]["last_city"], sql);
    assert_eq!(exported[0]["names"]["first_name"], html);
    assert_eq!(exported[0]["custom_fields"][html], sql);
    assert_eq!(
        exported[0]["identities"][0],
        json!({"uid": sql, "note": html})
    );
    let tables = app
        .query_json("SELECT count(*) AS n FROM core_profiles")
        .await;
    assert_eq!(tables[0]["n"], 1, "nothing was executed");
    app.stop().await;
}
