//! The fields of a create request besides its records — `action`, the options — in every
//! encoding: the documented `options` object works, a field given twice or one that does not
//! exist is refused naming it, and misleading messages are gone.

use serde_json::{Value, json};
use userhub_tests::TestApp;
use userhub_tests::event_tap::EventTap;

async fn error_of(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn the_options_object_of_the_contract_is_honoured() {
    let app = TestApp::spawn().await;
    let mut tap = EventTap::bind(&app, "#").await;
    let body = json!({
        "action": "upsert_core_profiles",
        "payload": [{"identities": [{"email": "opt@x.io"}]}],
        "options": {"match_by": "email", "skip_triggers": true, "workflow_id": 9}
    });
    let response = app
        .authorized(app.client.post(app.tasks_url()).json(&body))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let task = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let status = app.wait_completed(task).await;
    assert_eq!(status["succeeded"], 1, "{status}");
    assert!(
        tap.events(&app).await.is_empty(),
        "options.skip_triggers held"
    );
    let stored = app
        .query_json(&format!("SELECT options FROM tasks WHERE id = {task}"))
        .await;
    assert_eq!(stored[0]["options"]["workflow_id"], 9);
    tap.close().await;
    app.stop().await;
}

#[tokio::test]
async fn unknown_and_repeated_fields_are_refused_naming_them_in_every_encoding() {
    let app = TestApp::spawn().await;
    let payload = json!([{"identities": [{"uid": "u"}]}]).to_string();
    let json_typo = json!({"action": "create_core_profiles", "payload": [{"identities": [{"uid": "u"}]}], "skip_trigger": true});
    let (status, body) = error_of(
        app.authorized(app.client.post(app.tasks_url()).json(&json_typo))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("INVALID_OPTION"))
    );
    assert_eq!(body["error"]["details"]["field"], "skip_trigger");
    let in_options =
        json!({"action": "create_core_profiles", "payload": [], "options": {"dryrun": true}});
    let (status, body) = error_of(
        app.authorized(app.client.post(app.tasks_url()).json(&in_options))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert_eq!(body["error"]["details"]["field"], "options.dryrun");

    let form = format!(
        "action=create_core_profiles&action=update_core_profiles&payload={}",
        urlencode(&payload)
    );
    let (status, body) = error_of(
        app.authorized(
            app.client
                .post(app.tasks_url())
                .header("content-type", "application/x-www-form-urlencoded")
                .body(form),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("INVALID_ACTION"))
    );
    assert_eq!(body["error"]["details"]["field"], "action");

    let multipart = reqwest::multipart::Form::new()
        .text("action", "create_core_profiles")
        .text("action", "get_core_profiles")
        .text("payload", "{\"identities\":[{\"uid\":\"u\"}]}\n");
    let (status, body) = error_of(
        app.authorized(app.client.post(app.tasks_url()).multipart(multipart))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["details"]["field"], "action");

    let (status, body) = error_of(
        app.authorized(app.client.post(format!("{}?colour=blue", app.tasks_url())))
            .json(&json!({"action": "create_core_profiles", "payload": [{"identities": [{"uid": "u"}]}]}))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("INVALID_PARAMETER"))
    );
    assert_eq!(body["error"]["details"]["parameter"], "colour");
    assert_eq!(app.task_count().await, 0, "nothing was created");
    app.stop().await;
}

fn urlencode(text: &str) -> String {
    form_urlencoded_byte_serialize(text)
}

fn form_urlencoded_byte_serialize(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'*' => {
                (b as char).to_string()
            }
            b' ' => "+".to_owned(),
            other => format!("%{other:02X}"),
        })
        .collect()
}

#[tokio::test]
async fn misleading_messages_are_gone() {
    let app = TestApp::spawn().await;
    let (status, body) = error_of(
        app.authorized(
            app.client
                .post(app.tasks_url())
                .json(&json!([{"action": "x"}])),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("must be a JSON object, not an array"),
        "{body}"
    );
    let with_bom = [
        b"\xEF\xBB\xBF".to_vec(),
        br#"{"action":"create_core_profiles","payload":[{"identities":[{"uid":"bom"}]}]}"#.to_vec(),
    ]
    .concat();
    let response = app
        .authorized(
            app.client
                .post(app.tasks_url())
                .header("content-type", "application/json")
                .body(with_bom),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "a BOM before JSON is fine");
    let (status, body) = error_of(
        app.authorized(
            app.client
                .post(app.tasks_url())
                .header("content-type", "application/json")
                .header("content-encoding", "gzip")
                .body("{\"action\":\"create_core_profiles\"}"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("is not gzip data"),
        "{body}"
    );
    app.stop().await;
}

#[tokio::test]
async fn every_error_body_has_the_documented_shape() {
    let app = TestApp::spawn().await;
    let list = app
        .authorized(
            app.client
                .get(format!("{}?limit=1&limit=2", app.tasks_url())),
        )
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(list).await;
    assert_eq!(
        (status, body["error"]["details"]["parameter"].as_str()),
        (400, Some("limit"))
    );
    let wrong_method = app
        .authorized(app.client.delete(app.tasks_url()))
        .send()
        .await
        .unwrap();
    let (status, body) = error_of(wrong_method).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (405, Some("METHOD_NOT_ALLOWED"))
    );
    let long = format!("{}?cursor={}", app.tasks_url(), "9".repeat(20_000));
    let (status, body) = error_of(app.authorized(app.client.get(long)).send().await.unwrap()).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (414, Some("URI_TOO_LONG"))
    );
    app.stop().await;
}

#[tokio::test]
async fn a_gzip_file_uploaded_as_the_payload_part_is_read() {
    use std::io::Write;
    let app = TestApp::spawn().await;
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder
        .write_all(
            b"{\"identities\":[{\"uid\":\"gz-1\"}]}\n{\"identities\":[{\"uid\":\"gz-2\"}]}\n",
        )
        .unwrap();
    let gzipped = encoder.finish().unwrap();
    let part = reqwest::multipart::Part::bytes(gzipped)
        .file_name("profiles.jsonl.gz")
        .mime_str("application/gzip")
        .unwrap();
    let form = reqwest::multipart::Form::new()
        .text("action", "create_core_profiles")
        .part("payload", part);
    let response = app
        .authorized(app.client.post(app.tasks_url()).multipart(form))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let task = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let status = app.wait_completed(task).await;
    assert_eq!(status["succeeded"], 2, "{status}");
    app.stop().await;
}
