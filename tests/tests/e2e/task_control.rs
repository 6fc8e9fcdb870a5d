//! EXT task control: cancel during an import (chunks in flight, queued and not yet started),
//! and the refusals of cancel requests that cannot apply.

use serde_json::{Value, json};
use std::time::Duration;
use tokio_util::sync::CancellationToken;
use userhub_domain::TaskAction;
use userhub_tests::{Service, TestApp, jsonl};

const RECORDS: usize = 100_000;

fn records(count: usize) -> Vec<Value> {
    (0..count)
        .map(|n| json!({"identities": [{"uid": format!("cancel-{n}")}], "last_city": "Pune"}))
        .collect()
}

async fn cancel(app: &TestApp, task_id: u64) -> reqwest::Response {
    app.authorized(app.client.post(format!("{}/cancel", app.task_url(task_id))))
        .send()
        .await
        .unwrap()
}

/// Workers of `create_core_profiles` in this process, until `stop`.
async fn start_workers(app: &TestApp, count: usize, stop: &CancellationToken) {
    for _ in 0..count {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        tokio::spawn(userhub_server::run_worker(
            app.settings.clone(),
            TaskAction::CreateCoreProfiles,
            listener,
            stop.clone(),
        ));
    }
}

/// Cancels a 100 000-record import once some of it is applied, with `workers` worker
/// processes' worth of consumers, and checks that everything adds up.
async fn cancel_mid_import(workers: usize) {
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.gateway.records_per_task = RECORDS;
    })
    .await;
    let response = app
        .post_jsonl("create_core_profiles", &jsonl(&records(RECORDS)))
        .await;
    assert_eq!(response.status(), 201);
    let task_id = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let stop = CancellationToken::new();
    start_workers(&app, workers, &stop).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    loop {
        let processed = app.status(task_id).await["processed"].as_u64().unwrap();
        if processed >= 5_000 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no progress");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let answer = cancel(&app, task_id).await;
    assert_eq!(answer.status(), 202);
    let answer: Value = answer.json().await.unwrap();
    assert_eq!(answer["task_id"], task_id);
    assert!(answer["cancel_requested_at"].is_string(), "{answer}");

    let status = app.wait_completed(task_id).await;
    assert_eq!(status["outcome"], "canceled", "{status}");
    assert_eq!(status["cancel_requested_at"], answer["cancel_requested_at"]);
    let succeeded = status["succeeded"].as_u64().unwrap();
    let failed = status["failed"].as_u64().unwrap();
    assert_eq!(status["processed"], RECORDS as u64, "{status}");
    assert_eq!(succeeded + failed, RECORDS as u64, "{status}");
    assert!(succeeded >= 5_000 && failed > 0, "{status}");

    // Every record is in exactly one of the files; the failed ones were canceled.
    let results = app.results(task_id).await;
    let errors = app.errors(task_id).await;
    assert_eq!(results.len() as u64, succeeded);
    assert_eq!(errors.len() as u64, failed);
    assert!(
        errors
            .iter()
            .all(|entry| entry["errors"][0]["code"] == "CANCELED"),
        "{}",
        errors[0]
    );
    let mut indexes: Vec<u64> = results
        .iter()
        .chain(&errors)
        .map(|entry| entry["index"].as_u64().unwrap())
        .collect();
    indexes.sort_unstable();
    indexes.dedup();
    assert_eq!(
        indexes.len(),
        RECORDS,
        "a record is missing or reported twice"
    );

    // What is stored is exactly what succeeded, and no chunk that started after the cancel
    // committed applied a record.
    let stored = app
        .query_json("SELECT count(*)::int8 AS n FROM core_profiles")
        .await[0]["n"]
        .as_u64()
        .unwrap();
    assert_eq!(stored, succeeded);
    let late = app
        .query_json(&format!(
            "SELECT count(*)::int8 AS n FROM task_chunks c JOIN tasks t ON t.id = c.task_id
              WHERE c.task_id = {task_id} AND c.succeeded > 0
                AND c.committed_at > t.cancel_requested_at"
        ))
        .await[0]["n"]
        .as_u64()
        .unwrap();
    assert_eq!(late, 0, "a chunk started after the cancel applied records");
    stop.cancel();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_mid_import_with_one_worker_stops_the_rest_and_everything_adds_up() {
    cancel_mid_import(1).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancel_mid_import_with_four_workers_stops_the_rest_and_everything_adds_up() {
    cancel_mid_import(4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_canceled_while_queued_applies_nothing() {
    let app = TestApp::spawn_service(Service::Api, |_| {}).await;
    let response = app
        .post_jsonl("create_core_profiles", &jsonl(&records(2_500)))
        .await;
    let task_id = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let answer = cancel(&app, task_id).await;
    assert_eq!(answer.status(), 202);
    assert_eq!(answer.json::<Value>().await.unwrap()["state"], "queued");
    // A repeat keeps the first request.
    assert_eq!(cancel(&app, task_id).await.status(), 202);
    let stop = CancellationToken::new();
    start_workers(&app, 1, &stop).await;
    let status = app.wait_completed(task_id).await;
    assert_eq!(status["outcome"], "canceled", "{status}");
    assert_eq!(status["succeeded"], 0);
    assert_eq!(status["failed"], 2_500);
    assert_eq!(app.results(task_id).await.len(), 0);
    let stored = app
        .query_json("SELECT count(*)::int8 AS n FROM core_profiles")
        .await[0]["n"]
        .as_u64()
        .unwrap();
    assert_eq!(stored, 0);
    stop.cancel();
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cancels_that_cannot_apply_are_refused_clearly() {
    let app = TestApp::spawn().await;
    let task_id = app.create_task("create_core_profiles", &records(3)).await;
    app.wait_completed(task_id).await;
    let completed = cancel(&app, task_id).await;
    assert_eq!(completed.status(), 409);
    let body: Value = completed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TASK_COMPLETED");

    let unknown = cancel(&app, 1234567).await;
    assert_eq!(unknown.status(), 404);
    assert_eq!(
        unknown.json::<Value>().await.unwrap()["error"]["code"],
        "TASK_NOT_FOUND"
    );
    let malformed = app
        .authorized(
            app.client
                .post(format!("{}/not-a-task/cancel", app.tasks_url())),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status(), 400);

    let read_only = app.create_domain_with_key(&app.domain.clone(), true).await;
    let refused = app
        .client
        .post(format!("{}/cancel", app.task_url(task_id)))
        .bearer_auth(read_only)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 403);
    app.stop().await;
}
