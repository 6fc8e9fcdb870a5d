//! The compatible endpoints of seeds 001–004, driven with the seeds' own examples (only host and
//! credentials replaced).

mod altcraft_import;
mod altcraft_workflows;
mod helpcrunch;
mod number_notation;
mod xtremepush;

use serde_json::Value;
use userhub_tests::TestApp;

/// Posts `body` as JSON text to `path`; returns the status and the JSON answer.
pub async fn post_text(
    app: &TestApp,
    path: &str,
    content_type: &str,
    body: String,
) -> (u16, Value) {
    let response = app
        .client
        .post(format!("{}{path}", app.base_url))
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (status, value)
}

/// The domain's profiles as exported JSON, in id order.
pub async fn profiles(app: &TestApp) -> Vec<Value> {
    let rows = app
        .query_json(
            "SELECT id, names, custom_fields, tags, preferred_language, \
                    (SELECT json_agg(json_build_object(kind, value) ORDER BY kind, value) \
                       FROM identities i WHERE i.core_profile_id = p.id) AS identities \
               FROM core_profiles p ORDER BY id",
        )
        .await;
    rows.as_array().cloned().unwrap_or_default()
}

/// Hostile and malformed bodies get the product's 4xx answers, never a 5xx, and store nothing.
#[tokio::test]
async fn hostile_bodies_never_get_a_server_error() {
    use serde_json::json;
    let app = TestApp::spawn().await;
    let key = app.api_key.clone();
    let deep = format!("{}1{}", "[".repeat(5000), "]".repeat(5000));
    let deep_xml = format!("<xml>{}{}</xml>", "<a>".repeat(5000), "</a>".repeat(5000));
    let generic = [
        String::new(),
        "null".to_owned(),
        "[]".to_owned(),
        "\"text\"".to_owned(),
        deep.clone(),
        "{\"a\":".to_owned(),
        "\u{0}\u{1}".to_owned(),
    ];
    let endpoints: [(&str, Vec<String>); 5] = [
        (
            "/api/external/import/profile",
            vec![
                json!({"apptoken": key, "columns": "user_id", "rows": []}).to_string(),
                json!({"apptoken": key, "columns": ["user_id"], "rows": [[{"x": 1}], [[1]], [true], null]}).to_string(),
                json!({"apptoken": key, "columns": [1, 2], "rows": [[1, 2]]}).to_string(),
                json!({"apptoken": 5, "columns": ["user_id"], "rows": [["a"]]}).to_string(),
            ],
        ),
        (
            "/api/external/info/task",
            vec![
                json!({"apptoken": key, "id": "99999999999999999999"}).to_string(),
                json!({"apptoken": key, "id": [1]}).to_string(),
            ],
        ),
        (
            "/api/v1.1/profiles/import_batch",
            vec![
                json!({"token": key, "db_id": 1, "data": [1, "x", null, {"profile_id": {"a": 1}}]}).to_string(),
                json!({"token": key, "db_id": 1, "matching": "profile_id", "data": [{"profile_id": "abc"}]}).to_string(),
                json!({"token": key, "db_id": 1, "matching": "custom", "data": [{"email": "a@b.io"}]}).to_string(),
                json!({"token": key, "db_id": 1, "matching": 5, "data": []}).to_string(),
                json!({"token": key, "db_id": 1, "skip_triggers": "maybe", "data": [{"email": "a@b.io"}]}).to_string(),
            ],
        ),
        (
            "/api/v1.1/workflows/import_and_start_batch_task",
            vec![
                json!({"token": key, "workflow_id": -1, "data": [{"data": {"email": "a@b.io"}}]}).to_string(),
                json!({"token": key, "workflow_id": 1, "format": "csv", "data": []}).to_string(),
                json!({"token": key, "workflow_id": 1, "data": [{"nodata": true}]}).to_string(),
            ],
        ),
        (
            "/api/v1.1/tasks/status",
            vec![json!({"token": key, "task_id": {"x": 1}}).to_string()],
        ),
    ];
    for (path, bodies) in endpoints {
        for body in &generic {
            let (status, answer) = post_text(&app, path, "application/json", body.clone()).await;
            assert!(
                (400..500).contains(&status),
                "{path} {status} {answer} for {body:.200}"
            );
        }
        // Well-formed requests with bad records may be answered 200 with per-record errors.
        for body in bodies {
            let (status, answer) = post_text(&app, path, "application/json", body.clone()).await;
            assert!(
                (200..500).contains(&status),
                "{path} {status} {answer} for {body:.200}"
            );
        }
    }
    for body in [
        deep_xml,
        "<xml><token>&xxe;</token></xml>".to_owned(),
        "<!DOCTYPE x [<!ENTITY a \"b\">]><xml/>".to_owned(),
    ] {
        let (status, answer) = post_text(
            &app,
            "/api/v1.1/profiles/import_batch",
            "application/xml",
            body,
        )
        .await;
        assert!((400..500).contains(&status), "{status} {answer}");
    }
    for body in [
        "[1]",
        "[{\"customer\": 1e40}]",
        "[{\"customer\": 1, \"tags\": [1]}]",
        &deep,
    ] {
        let response = app
            .client
            .put(format!("{}/v1/customers/batch", app.base_url))
            .bearer_auth(&key)
            .body(body.to_owned())
            .send()
            .await
            .unwrap();
        assert!(
            (400..500).contains(&response.status().as_u16()),
            "{body:.100}"
        );
    }
    assert_eq!(profiles(&app).await.len(), 0);
    app.stop().await;
}
