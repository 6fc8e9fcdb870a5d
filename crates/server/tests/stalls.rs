//! Stall detection (reliability.md 10): a task that stops making progress is reported in its
//! status and, once its missing work is provably gone, completed with a clear reason.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::json;
use std::time::Duration;
use userhub_domain::{TaskAction, TaskId};
use userhub_store::tasks::{NewTask, insert_task};
use userhub_tests::oracle::{assert_tasks_consistent, numbered_profiles};
use userhub_tests::{ServerProcess, Service, TestApp};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");

async fn app_with_fast_stall_detection() -> TestApp {
    TestApp::spawn_service(Service::Api, |settings| {
        settings.gateway.chunk_records = 5;
        settings.worker.stall_after_ms = 400;
        settings.worker.stall_fail_after_ms = 2_000;
        settings.worker.stall_check_interval_ms = 100;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_whose_chunk_was_lost_is_reported_stalled_then_completed_with_its_records_failed() {
    let app = app_with_fast_stall_detection().await;
    let task_id = app
        .create_task("create_core_profiles", &numbered_profiles(0..10))
        .await;
    // Lose the first chunk: take it off the queue and never process it.
    let lost = userhub_tests::take_work_messages(
        &app.settings,
        userhub_domain::TaskAction::CreateCoreProfiles,
        1,
    )
    .await;
    assert_eq!(lost.len(), 1, "a chunk was taken");
    let _worker = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    let mut seen_stalled = None;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let status = loop {
        let status = app.status(task_id).await;
        if status["stalled"] == true {
            seen_stalled = Some(status.clone());
        }
        if status["state"] == "completed" {
            break status;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "not completed: {status}"
        );
        tokio::time::sleep(Duration::from_millis(40)).await;
    };
    let stalled = seen_stalled.expect("the stall was visible in the status before completion");
    assert!(
        stalled["stall_reason"]
            .as_str()
            .unwrap()
            .contains("1 of 2 chunks done"),
        "{stalled}"
    );
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(5), Some(5)),
        "{status}"
    );
    assert_eq!(status["outcome"], "completed_with_errors");
    assert!(
        status["failure_reason"].as_str().unwrap().contains("lost"),
        "{status}"
    );
    let errors = app.errors(task_id).await;
    assert_eq!(
        errors
            .iter()
            .map(|e| e["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 1, 2, 3, 4]
    );
    assert!(
        errors
            .iter()
            .all(|e| e["errors"][0]["code"] == "PROCESSING_FAILED")
    );
    assert_tasks_consistent(&app).await;
    app.stop().await;
}

/// A task left `created` as a gateway that died mid-acceptance leaves it (accepted in one
/// transaction, or in batches as a task from an upload); a worker for its type is running.
async fn abandoned_task(app: &TestApp, accepted_in_batches: bool) -> TaskId {
    let domain_id = app
        .query_json(&format!(
            "SELECT id FROM domains WHERE name = '{}'",
            app.domain
        ))
        .await[0]["id"]
        .as_i64()
        .unwrap();
    let id = TaskId::generate();
    let task = NewTask {
        id,
        domain_id: userhub_domain::DomainId::new(domain_id),
        action: TaskAction::CreateCoreProfiles,
        input_format: "jsonl",
        total: 3,
        chunks_total: 1,
        idempotency_key: None,
        request_hash: None,
        chunk_manifest: None,
        options: Default::default(),
        parent_task_id: None,
        accepted_in_batches,
    };
    insert_task(&app.pool.get().await.unwrap(), &task)
        .await
        .unwrap();
    id
}

async fn assert_failed_as_abandoned(app: &TestApp, id: TaskId) {
    let status = app.wait_completed(id.get()).await;
    assert_eq!(status["outcome"], "failed");
    assert!(
        status["failure_reason"]
            .as_str()
            .unwrap()
            .contains("acceptance was interrupted"),
        "{status}"
    );
    assert_eq!(json!(app.errors(id.get()).await), json!([]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_task_abandoned_during_acceptance_is_failed_with_the_reason() {
    let app = app_with_fast_stall_detection().await;
    let id = abandoned_task(&app, false).await;
    let _worker = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    assert_failed_as_abandoned(&app, id).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_task_abandoned_before_any_chunk_applied_is_failed_and_frees_its_upload() {
    let app = app_with_fast_stall_detection().await;
    let id = abandoned_task(&app, true).await;
    app.execute(&format!(
        "INSERT INTO uploads (domain_id, id, length, received, metadata, expires_at, task_id) \
         SELECT id, 'abandoned-upload', 10, 10, '{{\"content_type\": \"application/x-ndjson\"}}', \
                now() + interval '1 day', {id} FROM domains WHERE name = '{}'",
        app.domain
    ))
    .await;
    let _worker = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    assert_failed_as_abandoned(&app, id).await;
    let upload = app
        .query_json("SELECT task_id FROM uploads WHERE id = 'abandoned-upload'")
        .await;
    assert_eq!(
        upload,
        json!([{"task_id": null}]),
        "the upload can make a task again"
    );
    app.stop().await;
}
