//! Retention: a completed task's results and errors are deleted after `retention.task_days`
//! (downloads answer `410 RESULTS_EXPIRED`, the status says when, the idempotency key is free),
//! its row `retention.expired_task_days` later (`404`); recent tasks are untouched.

use serde_json::{Value, json};
use std::time::Duration;
use userhub_tests::TestApp;

async fn wait_until(app: &TestApp, sql: &str) {
    for _ in 0..100 {
        if app
            .query_json(sql)
            .await
            .as_array()
            .is_some_and(|rows| !rows.is_empty())
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("never true: {sql}");
}

#[tokio::test]
async fn old_tasks_lose_their_outcomes_then_their_rows() {
    let app = TestApp::spawn_with(|settings| {
        settings.retention.task_days = 30;
        settings.retention.expired_task_days = 10;
        settings.retention.sweep_interval_ms = 100;
    })
    .await;
    let records = [
        json!({"identities": [{"uid": "kept"}]}),
        json!({"identities": [{"uid": "kept"}]}),
        json!({"identities": [{"uid": "new"}]}),
    ];
    let old = app.create_task("create_core_profiles", &records[..1]).await;
    app.wait_completed(old).await;
    let recent = app.create_task("create_core_profiles", &records[1..]).await;
    app.wait_completed(recent).await;
    assert_eq!(app.errors(recent).await.len(), 1, "the uid exists already");

    app.execute(&format!(
        "UPDATE tasks SET completed_at = now() - interval '31 days', idempotency_key = 'k-{old}' \
          WHERE id = {old}"
    ))
    .await;
    wait_until(
        &app,
        &format!("SELECT 1 FROM tasks WHERE id = {old} AND expired_at IS NOT NULL"),
    )
    .await;

    let status = app.status(old).await;
    assert_eq!(status["state"], "completed");
    assert_eq!(status["succeeded"], 1, "the counters stay");
    assert_eq!(status["results"], false);
    assert!(status["expired_at"].is_string(), "{status}");
    for kind in ["results", "errors"] {
        let response = app
            .authorized(app.client.get(format!("{}/{kind}", app.task_url(old))))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 410);
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "RESULTS_EXPIRED", "{body}");
    }
    let left = app
        .query_json(&format!(
            "SELECT count(*) AS chunks FROM task_chunks WHERE task_id = {old}"
        ))
        .await;
    assert_eq!(left[0]["chunks"], 0);
    let key = app
        .query_json(&format!(
            "SELECT idempotency_key FROM tasks WHERE id = {old}"
        ))
        .await;
    assert_eq!(key[0]["idempotency_key"], Value::Null);
    // The recent task is untouched, and the profile the old task created stays.
    assert_eq!(app.status(recent).await["results"], true);
    assert_eq!(app.errors(recent).await.len(), 1);
    assert_eq!(app.results(recent).await.len(), 1);
    let profiles = app
        .query_json("SELECT count(*) AS n FROM core_profiles")
        .await;
    assert_eq!(profiles[0]["n"], 2);

    app.execute(&format!(
        "UPDATE tasks SET expired_at = now() - interval '11 days' WHERE id = {old}"
    ))
    .await;
    wait_until(
        &app,
        &format!("SELECT 1 WHERE NOT EXISTS (SELECT 1 FROM tasks WHERE id = {old})"),
    )
    .await;
    let gone = app
        .authorized(app.client.get(app.task_url(old)))
        .send()
        .await
        .unwrap();
    assert_eq!(gone.status(), 404);
    assert_eq!(app.status(recent).await["state"], "completed");
    app.stop().await;
}
