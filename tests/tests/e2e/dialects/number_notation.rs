//! Every compatible endpoint keeps a custom field's number as it was written (`1E2`, `-0.0`,
//! `1.50`), as the native API does: the value is taken from the request's text, not from a
//! parsed value that would re-spell it (`1e+2`).

use super::post_text;
use serde_json::json;
use std::time::Duration;
use userhub_tests::TestApp;

/// The stored custom fields of every profile, as their JSON text.
async fn custom_texts(app: &TestApp) -> Vec<String> {
    let rows = app
        .query_json("SELECT custom_fields::text AS custom FROM core_profiles ORDER BY id")
        .await;
    rows.as_array()
        .unwrap()
        .iter()
        .filter_map(|row| row["custom"].as_str().map(str::to_owned))
        .collect()
}

/// Waits for a profile to hold custom fields (asynchronous endpoints).
async fn stored_custom_texts(app: &TestApp) -> Vec<String> {
    for _ in 0..200 {
        let texts = custom_texts(app).await;
        if !texts.is_empty() {
            return texts;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no profile was stored");
}

fn assert_as_written(texts: &[String], expected: &[&str]) {
    assert_eq!(texts.len(), 1, "{texts:?}");
    for text in expected {
        assert!(texts[0].contains(text), "{text} in {}", texts[0]);
    }
    assert!(!texts[0].contains("e+"), "re-spelled: {}", texts[0]);
}

#[tokio::test]
async fn altcraft_imports_keep_numbers_as_written() {
    let app = TestApp::spawn().await;
    let body = format!(
        r#"{{"token": "{}", "db_id": 1, "matching": "email",
            "data": [{{"email": "n@example.com", "score": 1E2, "ratio": -0.0, "price": 1.50,
                       "nested": {{"a": 2E-3}}}}]}}"#,
        app.api_key
    );
    let (status, answer) = post_text(
        &app,
        "/api/v1.1/profiles/import_batch",
        "application/json",
        body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["result"][0]["error"], 0, "{answer}");
    assert_as_written(&custom_texts(&app).await, &["1E2", "-0.0", "1.50", "2E-3"]);
}

#[tokio::test]
async fn altcraft_workflow_imports_keep_numbers_as_written() {
    let app = TestApp::spawn().await;
    let body = json!({"token": app.api_key, "workflow_id": 5, "matching": "email",
                      "data": [{"data": {"email": "w@example.com", "score": 0}}]})
    .to_string()
    .replace("\"score\":0", "\"score\":1E2");
    let (status, answer) = post_text(
        &app,
        "/api/v1.1/workflows/import_and_start_batch_task",
        "application/json",
        body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_as_written(&stored_custom_texts(&app).await, &["1E2"]);
}

#[tokio::test]
async fn helpcrunch_updates_keep_numbers_as_written() {
    let app = TestApp::spawn().await;
    let task = app
        .create_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "h"}]})],
        )
        .await;
    app.wait_completed(task).await;
    let id = app.results(task).await[0]["core-profile-id"]
        .as_i64()
        .unwrap();
    let body = format!(
        r#"[{{"customer": {id}, "customData": [{{"property": "score", "value": 1E2}},
                                               {{"property": "ratio", "value": 1.50}}]}}]"#
    );
    let response = app
        .client
        .put(format!("{}/v1/customers/batch", app.base_url))
        .header("authorization", format!("Bearer {}", app.api_key))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    assert_as_written(&custom_texts(&app).await, &["1E2", "1.50"]);
}

#[tokio::test]
async fn xtremepush_imports_keep_numbers_as_written() {
    let app = TestApp::spawn().await;
    let body = format!(
        r#"{{"apptoken": "{}", "columns": ["user_id", "score", "ratio"],
            "rows": [["u1", 1E2, -0.0]]}}"#,
        app.api_key
    );
    let (status, answer) = post_text(
        &app,
        "/api/external/import/profile",
        "application/json",
        body,
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_as_written(&custom_texts(&app).await, &["1E2", "-0.0"]);
}
