//! While a dependency is down the gateway answers `503` with `Retry-After` and creates no task;
//! `/readyz` says which dependency is missing.

use serde_json::Value;
use userhub_tests::TestApp;
use userhub_tests::fixtures::seed_payload;

#[tokio::test]
async fn without_the_broker_creation_is_503_and_nothing_is_stored() {
    let app = TestApp::spawn_without_broker().await;
    let response = app.post_form("create_core_profiles", &seed_payload()).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("message broker"),
        "{body}"
    );
    assert_eq!(app.task_count().await, 0);
    let ready = app
        .client
        .get(format!("{}/readyz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        (ready["database"].as_str(), ready["broker"].as_str()),
        (Some("up"), Some("down"))
    );
    let health = app
        .client
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the process itself is alive");
    app.stop().await;
}

#[tokio::test]
async fn a_broker_node_list_passes_over_a_node_that_is_down() {
    let live = userhub_tests::test_settings().broker.url;
    let dead = format!(
        "amqp://guest:guest@127.0.0.1:{}/%2f",
        userhub_tests::free_port()
    );
    let app = TestApp::spawn_with(|settings| {
        settings.broker.url = format!("{dead},{live}");
    })
    .await;
    let (status, results, _) = app
        .run_task(
            "create_core_profiles",
            &[serde_json::json!({"identities": [{"uid": "via-the-second-node"}]})],
        )
        .await;
    assert_eq!(status["succeeded"], 1, "{status}");
    assert_eq!(results.len(), 1);
    app.stop().await;
}
