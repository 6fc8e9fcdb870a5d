//! Retrying failed records (EXT): `POST .../{task_id}/retry` makes a child task of exactly the
//! records that failed with a retryable code (or every failed one with `all_failed=true`), each
//! keeping its parent's index and line; the two tasks name each other, and asking again answers
//! the same child.

use serde_json::{Value, json};
use userhub_tests::{Service, TestApp};

async fn retry(app: &TestApp, task_id: u64, query: &str) -> (u16, Value) {
    let url = format!("{}/retry{query}", app.task_url(task_id));
    let response = app.authorized(app.client.post(url)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

fn indexes_and_lines(entries: &[Value]) -> Vec<(u64, u64)> {
    entries
        .iter()
        .map(|entry| {
            (
                entry["index"].as_u64().unwrap(),
                entry["line"].as_u64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_retry_holds_the_retryable_failures_with_their_parent_positions() {
    let app = TestApp::spawn().await;
    let (_, seeded, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "taken"}]})],
        )
        .await;
    let owner = seeded[0]["core-profile-id"].as_i64().unwrap();
    let lines = [
        json!({"identities": [{"uid": "fresh-1"}]}).to_string(),
        json!({"identities": [{"uid": "taken"}], "last_city": "Oslo"}).to_string(),
        json!({"identities": [], "age": 3}).to_string(),
        "{not json".to_owned(),
        json!({"identities": [{"uid": "fresh-2"}]}).to_string(),
    ];
    let parent = app
        .create_task_from_lines("create_core_profiles", &lines)
        .await;
    let status = app.wait_completed(parent).await;
    assert_eq!(status["failed"], 3);

    // Another process frees the identity the record wanted.
    app.execute(&format!(
        "DELETE FROM identities WHERE normalized = 'taken' AND core_profile_id = {owner}"
    ))
    .await;

    let (code, created) = retry(&app, parent, "").await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["parent_task_id"], parent);
    assert_eq!(
        created["total"], 1,
        "only the identity conflict is retryable"
    );
    assert_eq!(created["replayed"], false);
    let child = created["task_id"].as_u64().unwrap();
    let child_status = app.wait_completed(child).await;
    assert_eq!(child_status["parent_task_id"], parent);
    assert_eq!(child_status["succeeded"], 1);
    let results = app.results(child).await;
    assert_eq!(indexes_and_lines(&results), [(1, 2)]);
    assert!(results[0]["core-profile-id"].as_i64().unwrap() > owner);
    assert_eq!(app.status(parent).await["child_task_ids"], json!([child]));

    // The same retry again is the same child.
    let (code, again) = retry(&app, parent, "").await;
    assert_eq!(code, 201, "{again}");
    assert_eq!(again["task_id"], child);
    assert_eq!(again["replayed"], true);

    // Every failed record, the broken one included, each failing as before.
    let (code, all) = retry(&app, parent, "?all_failed=true").await;
    assert_eq!(code, 201, "{all}");
    assert_eq!(all["total"], 3);
    let every = all["task_id"].as_u64().unwrap();
    app.wait_completed(every).await;
    let errors = app.errors(every).await;
    assert_eq!(indexes_and_lines(&errors), [(1, 2), (2, 3), (3, 4)]);
    let codes: Vec<&str> = errors
        .iter()
        .map(|entry| entry["errors"][0]["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes[1], app.errors(parent).await[1]["errors"][0]["code"]);
    assert_eq!(codes[2], "INVALID_JSON");
    assert_eq!(errors[2]["input"], "{not json");
    assert_eq!(
        app.status(parent).await["child_task_ids"],
        json!([child.min(every), child.max(every)])
    );
    app.stop().await;
}

#[tokio::test]
async fn retries_that_cannot_be_made_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let (status, _, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "ok"}]})],
        )
        .await;
    let clean = status["task_id"].as_u64().unwrap();
    let (code, body) = retry(&app, clean, "").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("NOTHING_TO_RETRY"))
    );
    let (code, body) = retry(&app, clean, "?all_failed=maybe").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("INVALID_PARAMETER"))
    );
    let (code, body) = retry(&app, clean, "?other=1").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (400, Some("INVALID_PARAMETER"))
    );
    let (code, body) = retry(&app, 123_456_789, "").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (404, Some("TASK_NOT_FOUND"))
    );
    let reader = app
        .create_domain_with_key(&format!("{}-ro", app.domain), true)
        .await;
    let response = app
        .client
        .post(format!(
            "{}/v2/{}-ro/identity/bulk_actions/{clean}/retry",
            app.base_url, app.domain
        ))
        .bearer_auth(reader)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    app.stop().await;

    // A task that has not completed yet.
    let gateway = TestApp::spawn_service(Service::Gateway, |_| {}).await;
    let open = gateway
        .create_task("create_core_profiles", &[json!({"identities": []})])
        .await;
    let (code, body) = retry(&gateway, open, "").await;
    assert_eq!(
        (code, body["error"]["code"].as_str()),
        (409, Some("TASK_NOT_COMPLETED"))
    );
    gateway.stop().await;
}
