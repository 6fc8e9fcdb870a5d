//! The task list (EXT): newest first, filters, cursor pagination, tenant scoped.

use serde_json::{Value, json};
use userhub_tests::TestApp;

async fn list(app: &TestApp, query: &str) -> (u16, Value) {
    let response = app
        .authorized(app.client.get(format!("{}?{query}", app.tasks_url())))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

#[tokio::test]
async fn tasks_are_listed_newest_first_with_filters_and_cursors() {
    let app = TestApp::spawn().await;
    let mut created = Vec::new();
    for n in 0..5 {
        created.push(
            app.create_task(
                "create_core_profiles",
                &[json!({"identities": [{"uid": format!("l{n}")}]})],
            )
            .await,
        );
    }
    let export = app
        .create_task("get_core_profiles", &[json!({"all": true})])
        .await;
    for id in created.iter().chain([&export]) {
        app.wait_completed(*id).await;
    }
    let (status, first_page) = list(&app, "limit=4").await;
    assert_eq!(status, 200);
    let ids: Vec<u64> = first_page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![export, created[4], created[3], created[2]]);
    let cursor = first_page["next_cursor"].as_str().unwrap();
    let (_, second_page) = list(&app, &format!("limit=4&cursor={cursor}")).await;
    let ids: Vec<u64> = second_page["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["task_id"].as_u64().unwrap())
        .collect();
    assert_eq!(ids, vec![created[1], created[0]]);
    assert_eq!(second_page["next_cursor"], Value::Null);
    let (_, exports) = list(&app, "action=get_core_profiles&state=completed").await;
    assert_eq!(exports["tasks"].as_array().unwrap().len(), 1);
    assert_eq!(exports["tasks"][0]["progress_percentage"], 100);
    let (_, queued) = list(&app, "state=queued").await;
    assert_eq!(queued["tasks"], json!([]));
    for bad in [
        "state=done",
        "action=nope",
        "limit=0",
        "limit=101",
        "cursor=abc",
    ] {
        let (status, body) = list(&app, bad).await;
        assert_eq!(status, 400, "{bad}");
        assert_eq!(body["error"]["code"], "INVALID_PARAMETER");
    }
    let other_key = app.create_domain_with_key("listing-other", false).await;
    let response = app
        .client
        .get(format!(
            "{}/v2/listing-other/identity/bulk_actions",
            app.base_url
        ))
        .bearer_auth(other_key)
        .send()
        .await
        .unwrap();
    let body: Value = response.json().await.unwrap();
    assert_eq!(
        body["tasks"],
        json!([]),
        "other domains see none of these tasks"
    );
    app.stop().await;
}
