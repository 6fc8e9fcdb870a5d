//! Effectively once: a chunk delivered twice is applied once, through the worker runtime and
//! through the real broker.

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;
use userhub_broker::Broker;
use userhub_domain::{TaskAction, TaskId};
use userhub_store::tasks::{NewTask, insert_task, mark_queued};
use userhub_tasks::envelope::{CHUNK_SCHEMA_V1, ChunkMessage, ChunkRecord};
use userhub_tasks::transport::{ChunkTransport, MessageHeaders, Outgoing, Route};
use userhub_tasks::{ChunkDisposition, apply_chunk};
use userhub_tests::TestApp;
use userhub_worker_create_core_profiles::CreateCoreProfiles;

async fn domain_id(app: &TestApp) -> i64 {
    let rows = app
        .query_json(&format!(
            "SELECT id FROM domains WHERE name = '{}'",
            app.domain
        ))
        .await;
    rows[0]["id"].as_i64().unwrap()
}

async fn queued_task(app: &TestApp, total: i64, chunks_total: i32) -> TaskId {
    let id = TaskId::generate();
    let client = app.pool.get().await.unwrap();
    let task = NewTask {
        id,
        domain_id: userhub_domain::DomainId::new(domain_id(app).await),
        action: TaskAction::CreateCoreProfiles,
        input_format: "jsonl",
        total,
        chunks_total,
        idempotency_key: None,
        request_hash: None,
        chunk_manifest: None,
        options: Default::default(),
        parent_task_id: None,
        accepted_in_batches: false,
    };
    insert_task(&client, &task).await.unwrap();
    mark_queued(&client, userhub_domain::TaskKey::new(task.domain_id, id))
        .await
        .unwrap();
    id
}

fn chunk_json(
    app_domain_id: i64,
    domain: &str,
    task_id: TaskId,
    chunk_no: u32,
    uids: &[&str],
) -> Vec<u8> {
    let records: Vec<Value> = uids
        .iter()
        .enumerate()
        .map(|(at, uid)| json!({"index": chunk_no * 10 + at as u32, "input": {"identities": [{"uid": uid}]}}))
        .collect();
    serde_json::to_vec(&json!({
        "schema": CHUNK_SCHEMA_V1,
        "task_id": task_id,
        "domain_id": app_domain_id,
        "domain": domain,
        "action": "create_core_profiles",
        "chunk_no": chunk_no,
        "chunks_total": 2,
        "records": records,
    }))
    .unwrap()
}

#[tokio::test]
async fn applying_the_same_chunk_twice_changes_nothing_the_second_time() {
    let app = TestApp::spawn().await;
    let task_id = queued_task(&app, 3, 2).await;
    let body = chunk_json(
        domain_id(&app).await,
        &app.domain,
        task_id,
        0,
        &["a", "b", "c"],
    );
    let first: ChunkMessage = serde_json::from_slice(&body).unwrap();
    let again: ChunkMessage = serde_json::from_slice(&body).unwrap();
    assert_eq!(first.records.len(), 3);
    let applied = apply_chunk(&CreateCoreProfiles, &app.pool, first)
        .await
        .unwrap();
    assert_eq!(
        applied,
        ChunkDisposition::Applied {
            completed_task: false,
            succeeded: 3,
            failed: 0
        }
    );
    let repeated = apply_chunk(&CreateCoreProfiles, &app.pool, again)
        .await
        .unwrap();
    assert_eq!(repeated, ChunkDisposition::Duplicate);
    let counts = app
        .query_json("SELECT (SELECT count(*) FROM core_profiles) AS profiles, (SELECT count(*) FROM task_chunks) AS chunks, (SELECT processed FROM tasks) AS processed")
        .await;
    assert_eq!(
        counts[0],
        json!({"profiles": 3, "chunks": 1, "processed": 3})
    );
    app.stop().await;
}

#[tokio::test]
async fn a_chunk_published_twice_to_the_broker_is_applied_once() {
    let app = TestApp::spawn().await;
    let task_id = queued_task(&app, 5, 2).await;
    let domain_id = domain_id(&app).await;
    let chunk0 = chunk_json(domain_id, &app.domain, task_id, 0, &["x1", "x2", "x3"]);
    let chunk1 = chunk_json(domain_id, &app.domain, task_id, 1, &["y1", "y2"]);
    let stop = CancellationToken::new();
    let broker = Broker::start(app.settings.broker.clone(), stop.clone());
    tokio::time::timeout(std::time::Duration::from_secs(10), broker.up())
        .await
        .unwrap();
    let message = |body: &Vec<u8>, id: &str| Outgoing {
        route: Route::Work {
            action: TaskAction::CreateCoreProfiles,
            domain_id: userhub_domain::DomainId::new(domain_id),
        },
        message_id: id.to_owned(),
        body: body.clone(),
        headers: MessageHeaders::default(),
        priority: 5,
    };
    broker
        .publish(&[message(&chunk0, "c0"), message(&chunk0, "c0-again")])
        .await
        .unwrap();
    broker
        .publish(&[message(&chunk1, "c1"), message(&chunk0, "c0-third")])
        .await
        .unwrap();
    let status = app.wait_completed(task_id.get()).await;
    assert_eq!(
        (status["processed"].as_i64(), status["succeeded"].as_i64()),
        (Some(5), Some(5)),
        "{status}"
    );
    // Let the remaining duplicate deliveries drain, then check nothing was applied twice.
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let counts = app
        .query_json("SELECT (SELECT count(*) FROM core_profiles) AS profiles, (SELECT count(*) FROM task_chunks) AS chunks, (SELECT processed FROM tasks) AS processed, (SELECT count(*) FROM identities) AS identities")
        .await;
    assert_eq!(
        counts[0],
        json!({"profiles": 5, "chunks": 2, "processed": 5, "identities": 5})
    );
    let results = app.results(task_id.get()).await;
    assert_eq!(
        results
            .iter()
            .map(|r| r["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![0, 1, 2, 10, 11]
    );
    stop.cancel();
    app.stop().await;
}

#[tokio::test]
async fn a_chunk_for_a_withdrawn_task_is_dropped() {
    let app = TestApp::spawn().await;
    let message: ChunkMessage = serde_json::from_value(json!({
        "schema": CHUNK_SCHEMA_V1,
        "task_id": TaskId::generate(),
        "domain_id": domain_id(&app).await,
        "domain": app.domain,
        "action": "create_core_profiles",
        "chunk_no": 0,
        "chunks_total": 1,
        "records": [{"index": 0, "input": {"identities": [{"uid": "ghost"}]}}]
    }))
    .unwrap();
    let _: &Vec<ChunkRecord> = &message.records;
    let disposition = apply_chunk(&CreateCoreProfiles, &app.pool, message)
        .await
        .unwrap();
    assert!(matches!(disposition, ChunkDisposition::Dropped(_)));
    let profiles = app
        .query_json("SELECT count(*) AS n FROM core_profiles")
        .await;
    assert_eq!(profiles[0]["n"], 0);
    app.stop().await;
}
