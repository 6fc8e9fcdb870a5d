//! Altcraft (seed 003): `import_and_start_batch_task` and `tasks/status`.

use super::{post_text, profiles};
use serde_json::{Value, json};
use std::time::Duration;
use userhub_tests::TestApp;
use userhub_tests::event_tap::EventTap;

const START: &str = "/api/v1.1/workflows/import_and_start_batch_task";
const STATUS: &str = "/api/v1.1/tasks/status";
const TOKEN: &str = "abcdefghijklmnqrstuvwxyz";

const BY_EMAIL: &str = r#"{
"token": "abcdefghijklmnqrstuvwxyz",
"workflow_id": 2,
"matching": "email",
"data": [
{
"data": {
"_fname": "Herbert",
"_lname": "Lambert",
"email": "profile5@example.com",
"phones": "+79000000000"
}
},
{
"data": {
"_fname": "Bert",
"_lname": "Lambert",
"email": "profile8@example.com",
"phones": "+79000000000"
}
}
]
}"#;

const BY_CUSTOM: &str = r#"{
"token": "abcdefghijklmnqrstuvwxyz",
"workflow_id": 233,
"matching": "custom",
"field_name": "New_field_1",
"data": [
{
"data": {
"_fname": "NUMBER15",
"_lname": "Lambert",
"email": "profile015@example.com",
"phones": "+790000000015",
"New_field_1": "00015"
}
},
{
"data": {
"_fname": "NUMBER16",
"_lname": "Lambert",
"email": "profile016@example.com",
"phones": "+790000000016",
"New_field_1": "00016"
}
}
]
}"#;

/// The seed's status request, verbatim but for the token and task id.
const STATUS_REQUEST: &str = r#"{
"token": "abcdefghijklmnqrstuvwxyz",
"task_id": "task_b2f9fk6a-2479-4a63-b592-f15d4e3b69c5"

}"#;

async fn start(app: &TestApp, example: &str) -> String {
    let (status, answer) = post_text(
        app,
        START,
        "application/json",
        example.replace(TOKEN, &app.api_key),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["error"], 0);
    assert_eq!(answer["error_text"], "Successful operation");
    answer["task_id"].as_str().unwrap().to_owned()
}

async fn completed_status(app: &TestApp, task_id: &str) -> Value {
    let request = STATUS_REQUEST
        .replace(TOKEN, &app.api_key)
        .replace("task_b2f9fk6a-2479-4a63-b592-f15d4e3b69c5", task_id);
    for _ in 0..200 {
        let (status, answer) = post_text(app, STATUS, "application/json", request.clone()).await;
        assert_eq!(status, 200, "{answer}");
        if answer["data"]["status"] == "completed" {
            return answer;
        }
        assert!(answer["data"]["progress"].as_i64().unwrap() < 100);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("task {task_id} did not complete");
}

#[tokio::test]
async fn the_seed_examples_import_start_the_workflow_and_report_status() {
    let app = TestApp::spawn().await;
    let mut tap = EventTap::bind(&app, "#").await;
    let task_id = start(&app, BY_EMAIL).await;
    let status = completed_status(&app, &task_id).await;
    assert_eq!(status["error"], 0);
    assert_eq!(status["error_text"], "Successful operation");
    assert_eq!(status["data"]["progress"], 100);
    let result = &status["data"]["result"];
    assert_eq!(result["error"], 0);
    let entries = result["result"].as_array().unwrap();
    assert_eq!(entries.len(), 2);
    // Both profiles share the seed's phone number: the second record conflicts on it.
    let first = entries[0]["profile_id"].as_str().unwrap();
    assert_eq!(entries[1]["error"], 400, "{status}");
    let events = tap.events(&app).await;
    assert_eq!(events.len(), 1, "{events:?}");
    assert_eq!(events[0]["workflow_id"], 2);
    assert_eq!(events[0]["core-profile-id"].to_string(), first);

    let task_id = start(&app, BY_CUSTOM).await;
    let status = completed_status(&app, &task_id).await;
    let entries = status["data"]["result"]["result"].as_array().unwrap();
    assert!(
        entries.iter().all(|entry| entry["profile_id"].is_string()),
        "{status}"
    );
    let events = tap.events(&app).await;
    assert_eq!(events.len(), 2);
    assert!(events.iter().all(|event| event["workflow_id"] == 233));
    let stored = profiles(&app).await;
    let numbered: Vec<&Value> = stored
        .iter()
        .filter_map(|profile| profile["custom_fields"].get("New_field_1"))
        .collect();
    assert_eq!(
        numbered,
        [&json!("00015"), &json!("00016")],
        "text stays text"
    );
    tap.close().await;
    app.stop().await;
}

#[tokio::test]
async fn limits_and_unknown_tasks_are_answered_in_altcraft_shape() {
    let app = TestApp::spawn().await;
    let huge = json!({"token": app.api_key, "workflow_id": 1, "matching": "email",
                      "data": [{"data": {"email": "a@b.io", "notes": "x".repeat(11 * 1024 * 1024)}}]});
    let (status, answer) = post_text(&app, START, "application/json", huge.to_string()).await;
    assert_eq!(status, 400);
    assert_eq!(
        answer,
        json!({"error": 400, "error_debug": "http: request body too large", "error_text": "Invalid request"})
    );
    let no_workflow =
        json!({"token": app.api_key, "matching": "email", "data": [{"data": {"email": "a@b.io"}}]});
    let (status, answer) =
        post_text(&app, START, "application/json", no_workflow.to_string()).await;
    assert_eq!(status, 400);
    assert!(
        answer["error_debug"]
            .as_str()
            .unwrap()
            .contains("workflow_id")
    );
    let request = STATUS_REQUEST.replace(TOKEN, &app.api_key);
    let (status, answer) = post_text(&app, STATUS, "application/json", request).await;
    assert_eq!(status, 404, "{answer}");
    assert_eq!(answer["error"], 404);
    assert_eq!(app.task_count().await, 0);
    app.stop().await;
}
