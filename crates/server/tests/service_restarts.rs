//! RabbitMQ and PostgreSQL restarted under load (reliability.md 4 and 6), with a worker killed
//! too: the gateway answers 503 (never a false 201) while a dependency is down, every service
//! recovers by itself, every task completes and the database matches the input exactly.
//! Each test starts the instance it stops, beside the machine's shared services
//! (`userhub_tests::instances`), and never
//! touches those; nextest runs each of these tests alone (`.config/nextest.toml`) because they
//! load the whole machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::time::Duration;
use userhub_tests::instances::OwnInstance;
use userhub_tests::load::{post_until_accepted, wait_for_progress};
use userhub_tests::oracle::{assert_import_applied, numbered_profiles};
use userhub_tests::{ServerProcess, Service, TestApp, jsonl};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rabbitmq_restart_and_a_killed_worker_during_a_100k_import_lose_and_repeat_nothing() {
    let broker = OwnInstance::rabbitmq(5721);
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.gateway.chunk_records = 500;
        settings.broker.url = broker.url.clone();
    })
    .await;
    let records = numbered_profiles(0..100_000);
    let batches: Vec<&[Value]> = records.chunks(10_000).collect();
    let mut tasks = Vec::new();
    let mut refusals = 0;
    for batch in &batches[..5] {
        tasks.push(post_until_accepted(&app, batch, &mut refusals).await);
    }
    let mut doomed = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    let _steady = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);
    wait_for_progress(&app, tasks[0]).await;
    doomed.kill();
    let _replacement = ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]);

    let stopped = broker.stop();
    let during = app
        .post_jsonl("create_core_profiles", &jsonl(batches[5]))
        .await;
    assert_eq!(
        during.status(),
        503,
        "no task is accepted while the broker is down"
    );
    let ready = app
        .client
        .get(format!("{}/readyz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    stopped.start();

    for batch in &batches[5..] {
        tasks.push(post_until_accepted(&app, batch, &mut refusals).await);
    }
    println!("{refusals} requests were refused with 503 while RabbitMQ was coming back");
    assert_import_applied(&app, &tasks, 10_000, &records).await;
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_postgres_restart_during_an_import_is_ridden_out_by_every_service() {
    let database = OwnInstance::postgres(5441);
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.gateway.chunk_records = 500;
        settings.database.url = database.database_url();
    })
    .await;
    let records = numbered_profiles(0..40_000);
    let batches: Vec<&[Value]> = records.chunks(10_000).collect();
    let mut refusals = 0;
    let mut tasks = vec![post_until_accepted(&app, batches[0], &mut refusals).await];
    tasks.push(post_until_accepted(&app, batches[1], &mut refusals).await);
    let _workers = [
        ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]),
        ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]),
    ];
    wait_for_progress(&app, tasks[0]).await;

    let stopped = database.stop();
    let during = app
        .post_jsonl("create_core_profiles", &jsonl(batches[2]))
        .await;
    assert_eq!(
        during.status(),
        503,
        "no task is accepted while the database is down"
    );
    tokio::time::sleep(Duration::from_secs(2)).await;
    stopped.start();

    for batch in &batches[2..] {
        tasks.push(post_until_accepted(&app, batch, &mut refusals).await);
    }
    assert_import_applied(&app, &tasks, 10_000, &records).await;
    app.stop().await;
}
