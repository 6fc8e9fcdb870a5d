//! Faults of workers running as real processes (reliability.md 1, 2, 3, 8, 9): whatever happens
//! to a worker, every accepted record is applied exactly once and every task completes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use std::collections::HashSet;
use std::time::Duration;
use userhub_tests::event_tap::EventTap;
use userhub_tests::oracle::{assert_profiles_match, assert_tasks_consistent, numbered_profiles};
use userhub_tests::{ServerProcess, Service, TestApp};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");

async fn api_with_chunks(chunk_records: usize) -> TestApp {
    TestApp::spawn_service(Service::Api, |settings| {
        settings.gateway.chunk_records = chunk_records;
        settings.broker.prefetch = 4;
    })
    .await
}

/// A worker that aborts at `point` of its `chunk`-th chunk must exit by itself.
async fn crash_worker(app: &TestApp, point: &str, chunk: &str) {
    let env = [
        ("USERHUB__WORKER__FAULTS__CRASH_POINT", point),
        ("USERHUB__WORKER__FAULTS__CRASH_ON_CHUNK", chunk),
    ];
    let mut doomed = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &env);
    let status = doomed.wait(Duration::from_secs(60)).await;
    assert!(!status.success(), "the worker aborted: {status}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_before_commit_has_its_chunks_redelivered_and_applied_once() {
    let app = api_with_chunks(250).await;
    let records = numbered_profiles(0..5_000);
    let task_id = app.create_task("create_core_profiles", &records).await;
    let mut tap = EventTap::bind(&app, "#").await;
    crash_worker(&app, "before_commit", "3").await;
    let applied_before = app.status(task_id).await["processed"].as_i64().unwrap();
    assert!(applied_before < 5_000, "the crash left work undone");
    let _survivor = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    let status = app.wait_completed(task_id).await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(5_000), Some(0)),
        "{status}"
    );
    assert_profiles_match(&app, &records).await;
    assert_tasks_consistent(&app).await;
    assert_one_event_per_profile(&app, &mut tap, 5_000).await;
    tap.close().await;
    app.stop().await;
}

/// Every created profile has its `created` event, under one event id each; a relay killed between
/// the broker's confirm and its commit may repeat an event (at least once), never lose one.
async fn assert_one_event_per_profile(app: &TestApp, tap: &mut EventTap, profiles: usize) {
    let events = tap.events(app).await;
    let ids: HashSet<i64> = events
        .iter()
        .map(|event| event["core-profile-id"].as_i64().unwrap())
        .collect();
    let event_ids: HashSet<&str> = events
        .iter()
        .map(|event| event["event_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), profiles, "every profile's event arrived");
    assert_eq!(event_ids.len(), profiles, "one event id per profile");
    let stored = app
        .query_json("SELECT count(*) AS n FROM core_profiles")
        .await[0]["n"]
        .as_i64()
        .unwrap();
    assert_eq!(stored as usize, profiles);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_killed_after_commit_before_ack_is_skipped_by_the_ledger() {
    let app = api_with_chunks(250).await;
    let records = numbered_profiles(0..5_000);
    let task_id = app.create_task("create_core_profiles", &records).await;
    let mut tap = EventTap::bind(&app, "#").await;
    crash_worker(&app, "after_commit", "2").await;
    let committed = app
        .query_json("SELECT count(*) AS n FROM task_chunks")
        .await[0]["n"]
        .as_i64()
        .unwrap();
    assert!(
        committed >= 1,
        "the chunk that crashed after its commit is in the ledger: {committed}"
    );
    let _survivor = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    let status = app.wait_completed(task_id).await;
    assert_eq!(status["succeeded"], 5_000, "{status}");
    assert_profiles_match(&app, &records).await;
    assert_tasks_consistent(&app).await;
    assert_one_event_per_profile(&app, &mut tap, 5_000).await;
    tap.close().await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminated_worker_finishes_its_chunks_and_exits_zero() {
    let app = api_with_chunks(200).await;
    let records = numbered_profiles(0..10_000);
    let task_id = app.create_task("create_core_profiles", &records).await;
    let mut first = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    while app.status(task_id).await["processed"].as_i64().unwrap() == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the worker made no progress"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    first.terminate();
    let status = first.wait(Duration::from_secs(30)).await;
    assert!(
        status.success(),
        "SIGTERM ends the worker with exit code 0: {status}"
    );
    let in_flight = app
        .query_json(
            "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = current_database() AND state = 'idle in transaction'",
        )
        .await;
    assert_eq!(in_flight[0]["n"], 0, "no transaction left open");
    let _second = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    let status = app.wait_completed(task_id).await;
    assert_eq!(status["succeeded"], 10_000, "{status}");
    assert_profiles_match(&app, &records).await;
    assert_tasks_consistent(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_poison_chunk_is_dead_lettered_and_only_its_records_fail() {
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.gateway.chunk_records = 10;
        settings.worker.max_attempts = 3;
    })
    .await;
    let client = app.pool.get().await.unwrap();
    client
        .batch_execute(
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN IF NEW.last_city = 'POISON' THEN RAISE EXCEPTION 'poison record'; END IF; RETURN NEW; END $$;
             CREATE TRIGGER poison BEFORE INSERT ON core_profiles FOR EACH ROW EXECUTE FUNCTION poison();",
        )
        .await
        .unwrap();
    let mut records = numbered_profiles(0..30);
    records[14]["last_city"] = json!("POISON");
    let task_id = app.create_task("create_core_profiles", &records).await;
    let _worker = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    let status = app.wait_completed(task_id).await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(20), Some(10)),
        "{status}"
    );
    assert_eq!(status["outcome"], "completed_with_errors");
    let errors = app.errors(task_id).await;
    let failed: Vec<u64> = errors
        .iter()
        .map(|e| e["index"].as_u64().unwrap())
        .collect();
    assert_eq!(
        failed,
        (10..20).collect::<Vec<u64>>(),
        "exactly the poisoned chunk's records"
    );
    for error in &errors {
        assert_eq!(error["errors"][0]["code"], "PROCESSING_FAILED");
        assert!(
            error["errors"][0]["details"]["reason"]
                .as_str()
                .unwrap()
                .contains("poison record"),
            "{error}"
        );
    }
    let profiles = app
        .query_json("SELECT count(*) AS n FROM core_profiles")
        .await;
    assert_eq!(profiles[0]["n"], 20);
    let dead = userhub_tests::dead_letter_depth(
        &app.settings,
        userhub_domain::TaskAction::CreateCoreProfiles,
    )
    .await;
    assert_eq!(dead, 1, "one dead-lettered chunk");
    assert_tasks_consistent(&app).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_tasks_updating_the_same_profiles_lose_no_update() {
    let app = api_with_chunks(20).await;
    let records = numbered_profiles(0..200);
    let created = app.create_task("create_core_profiles", &records).await;
    let _first = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    let results = {
        app.wait_completed(created).await;
        app.results(created).await
    };
    let ids: Vec<u64> = results
        .iter()
        .map(|r| r["core-profile-id"].as_u64().unwrap())
        .collect();
    let forward: Vec<Value> = ids
        .iter()
        .map(|id| json!({"core-profile-id": id, "custom_fields": {"a": id}, "names": {"first_name": "A"}}))
        .collect();
    let backward: Vec<Value> = ids
        .iter()
        .rev()
        .map(|id| json!({"core-profile-id": id, "custom_fields": {"b": id}, "last_country": "FR"}))
        .collect();
    let first = app.create_task("update_core_profiles", &forward).await;
    let second = app.create_task("update_core_profiles", &backward).await;
    let _workers = [
        ServerProcess::worker(SERVER, &app.settings, "update_core_profiles", &[]),
        ServerProcess::worker(SERVER, &app.settings, "update_core_profiles", &[]),
    ];
    for task in [first, second] {
        let status = app.wait_completed(task).await;
        assert_eq!(
            (status["succeeded"].as_i64(), status["failed"].as_i64()),
            (Some(200), Some(0)),
            "{status}"
        );
    }
    let merged = app
        .query_json(
            "SELECT count(*) AS n FROM core_profiles
              WHERE custom_fields::jsonb ? 'a' AND custom_fields::jsonb ? 'b' AND custom_fields::jsonb ? 'n'
                AND names->>'first_name' = 'A' AND last_country = 'FR'",
        )
        .await;
    assert_eq!(
        merged[0]["n"], 200,
        "both tasks' changes are on every profile"
    );
    assert_tasks_consistent(&app).await;
    app.stop().await;
}
