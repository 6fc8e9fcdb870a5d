//! The OpenAPI document at `/openapi.json` describes what the server really answers: every status
//! seen is documented for its operation, and every JSON body validates against its schema, with
//! no undocumented fields.

use serde_json::{Value, json};
use userhub_tests::TestApp;
use userhub_tests::fixtures::seed_records;

const TASKS: &str = "/v2/{domain}/identity/bulk_actions";
const TASK: &str = "/v2/{domain}/identity/bulk_actions/{task_id}";
const RESULTS: &str = "/v2/{domain}/identity/bulk_actions/{task_id}/results";

/// The document, with every object schema closed (`additionalProperties: false`) so that a field
/// the server sends but the document does not name fails validation.
struct Contract {
    document: Value,
}

fn close_objects(schema: &mut Value) {
    match schema {
        Value::Object(map) => {
            if map.contains_key("properties") && !map.contains_key("additionalProperties") {
                map.insert("additionalProperties".to_owned(), Value::Bool(false));
            }
            map.values_mut().for_each(close_objects);
        }
        Value::Array(items) => items.iter_mut().for_each(close_objects),
        _ => {}
    }
}

impl Contract {
    async fn fetch(app: &TestApp) -> Contract {
        let response = app
            .client
            .get(format!("{}/openapi.json", app.base_url))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        let mut document: Value = response.json().await.unwrap();
        assert_eq!(document["openapi"], "3.1.0");
        close_objects(&mut document["components"]);
        Contract { document }
    }

    /// Checks one real response against the document; returns its JSON body (or `Null`).
    async fn check(&self, method: &str, path: &str, response: reqwest::Response) -> Value {
        let status = response.status().as_u16();
        let content_type = response
            .headers()
            .get("content-type")
            .map(|value| value.to_str().unwrap().to_owned())
            .unwrap_or_default();
        let bytes = response.bytes().await.unwrap();
        let documented = &self.document["paths"][path][method]["responses"][status.to_string()];
        assert!(
            documented.is_object(),
            "{method} {path} answered {status}, which the document does not list: {}",
            String::from_utf8_lossy(&bytes)
        );
        let media_type = content_type.split(';').next().unwrap().trim();
        let content = &documented["content"][media_type];
        assert!(
            content.is_object(),
            "{method} {path} {status} sent {media_type}, the document lists {}",
            documented["content"]
        );
        if media_type != "application/json" {
            return Value::Null;
        }
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        let schema = json!({
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "components": self.document["components"],
            "allOf": [content["schema"]],
        });
        let validator = jsonschema::validator_for(&schema).unwrap();
        let problems: Vec<String> = validator
            .iter_errors(&body)
            .map(|error| format!("{} at {}", error, error.instance_path))
            .collect();
        assert!(
            problems.is_empty(),
            "{method} {path} {status} does not match its schema: {problems:?}\n{body}"
        );
        body
    }
}

#[tokio::test]
async fn real_responses_match_the_openapi_document() {
    let app = TestApp::spawn().await;
    let contract = Contract::fetch(&app).await;

    let created = contract
        .check(
            "post",
            TASKS,
            app.post_form("create_core_profiles", &seed_records_text())
                .await,
        )
        .await;
    let task_id = created["task_id"].as_u64().unwrap();
    let waited = app
        .authorized(app.client.post(format!("{}?wait=true", app.tasks_url())))
        .json(&json!({"action": "create_core_profiles", "payload": [{"identities": [{"uid": "w"}]}, {"identities": []}]}));
    let completed = contract
        .check("post", TASKS, waited.send().await.unwrap())
        .await;
    assert_eq!(completed["records"][1]["outcome"], "failed");
    let failing = app
        .create_task(
            "create_core_profiles",
            &[json!({"identities": [{"email": "not an address"}]})],
        )
        .await;

    // Request errors of the create endpoint.
    let no_action = app
        .authorized(app.client.post(app.tasks_url()))
        .form(&[("payload", "[]")]);
    contract
        .check("post", TASKS, no_action.send().await.unwrap())
        .await;
    let text = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "text/plain")
        .body("hello");
    contract
        .check("post", TASKS, text.send().await.unwrap())
        .await;
    let anonymous = app
        .client
        .post(app.tasks_url())
        .form(&[("action", "create_core_profiles")]);
    contract
        .check("post", TASKS, anonymous.send().await.unwrap())
        .await;
    let read_only_key = app.create_domain_with_key(&app.domain, true).await;
    let read_only = app
        .client
        .post(app.tasks_url())
        .bearer_auth(&read_only_key)
        .form(&[("action", "create_core_profiles"), ("payload", "[]")]);
    contract
        .check("post", TASKS, read_only.send().await.unwrap())
        .await;
    let keyed = |payload: &str| {
        app.authorized(app.client.post(app.tasks_url()))
            .header("idempotency-key", "contract-1")
            .form(&[("action", "create_core_profiles"), ("payload", payload)])
    };
    contract
        .check(
            "post",
            TASKS,
            keyed(r#"[{"identities":[{"uid":"contract-1"}]}]"#)
                .send()
                .await
                .unwrap(),
        )
        .await;
    let reused = contract
        .check(
            "post",
            TASKS,
            keyed(r#"[{"identities":[{"uid":"contract-2"}]}]"#)
                .send()
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(reused["error"]["code"], "IDEMPOTENCY_KEY_REUSED");

    // Status and list, while running and once completed.
    contract
        .check(
            "get",
            TASK,
            app.authorized(app.client.get(app.task_url(task_id)))
                .send()
                .await
                .unwrap(),
        )
        .await;
    app.wait_completed(task_id).await;
    let failed_status = app.wait_completed(failing).await;
    assert_eq!(failed_status["failed"], 1);
    for id in [task_id, failing] {
        let status = contract
            .check(
                "get",
                TASK,
                app.authorized(app.client.get(app.task_url(id)))
                    .send()
                    .await
                    .unwrap(),
            )
            .await;
        assert_eq!(status["state"], "completed");
    }
    let list = contract
        .check(
            "get",
            TASKS,
            app.authorized(app.client.get(format!("{}?limit=2", app.tasks_url())))
                .send()
                .await
                .unwrap(),
        )
        .await;
    assert_eq!(list["tasks"].as_array().unwrap().len(), 2);
    let bad_limit = app.authorized(app.client.get(format!("{}?limit=0", app.tasks_url())));
    contract
        .check("get", TASKS, bad_limit.send().await.unwrap())
        .await;
    for bad_id in ["abc", "99999999999999999999"] {
        let url = format!("{}/{bad_id}", app.tasks_url());
        let response = app.authorized(app.client.get(url)).send().await.unwrap();
        contract.check("get", TASK, response).await;
    }
    let missing = app
        .authorized(app.client.get(app.task_url(7)))
        .send()
        .await
        .unwrap();
    let missing = contract.check("get", TASK, missing).await;
    assert_eq!(missing["error"]["code"], "TASK_NOT_FOUND");

    let limits = app
        .authorized(app.client.get(format!("{}/limits", app.tasks_url())))
        .send()
        .await
        .unwrap();
    let limits = contract
        .check("get", &format!("{TASKS}/limits"), limits)
        .await;
    assert_eq!(limits["records_per_task"], 10_000);

    // Downloads in both formats, and their errors.
    for format in ["", "?format=ndjson"] {
        let url = format!("{}/results{format}", app.task_url(task_id));
        let response = app.authorized(app.client.get(url)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        contract.check("get", RESULTS, response).await;
        let url = format!("{}/errors{format}", app.task_url(failing));
        let response = app.authorized(app.client.get(url)).send().await.unwrap();
        assert_eq!(response.status(), 200);
        contract
            .check("get", &format!("{TASK}/errors"), response)
            .await;
    }
    let pending = app
        .create_task("create_core_profiles", &seed_records())
        .await;
    let url = format!("{}/results", app.task_url(pending));
    let response = app.authorized(app.client.get(url)).send().await.unwrap();
    // Either the task is still running (409) or already done (200): both are documented.
    contract.check("get", RESULTS, response).await;
    app.stop().await;
}

fn seed_records_text() -> String {
    serde_json::to_string(&seed_records()).unwrap()
}
