//! RabbitMQ and PostgreSQL restarted under load (reliability.md 4 and 6), with a worker killed
//! too: the gateway answers 503 (never a false 201) while a dependency is down, every service
//! recovers by itself, every task completes and the database matches the input exactly.
//! Each test starts the instance it stops, beside the machine's shared services
//! (`scripts/rabbit-cluster.sh` with one node, `scripts/postgres-instance.sh`), and never
//! touches those; nextest runs each of these tests alone (`.config/nextest.toml`) because they
//! load the whole machine.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use userhub_tests::load::{post_until_accepted, wait_for_progress};
use userhub_tests::oracle::{assert_import_applied, numbered_profiles};
use userhub_tests::{ServerProcess, Service, TestApp, jsonl, random_hex};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");

/// Runs one of the project's scripts with `environment`; its output.
fn script(name: &str, environment: &[(&str, &str)], args: &[&str]) -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../scripts")
        .join(name);
    let output = Command::new("bash")
        .arg(path)
        .args(args)
        .envs(environment.iter().copied())
        .output()
        .unwrap_or_else(|error| panic!("{name}: {error}"));
    assert!(
        output.status.success(),
        "{name} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// A service instance of this test's own: started by its script, removed when dropped (even if
/// the test fails).
struct OwnInstance {
    script: &'static str,
    environment: &'static [(&'static str, &'static str)],
    url: String,
    stop: &'static [&'static str],
    start: &'static [&'static str],
}

impl OwnInstance {
    /// A single RabbitMQ node on its own ports (not the cluster tests' ones).
    fn rabbitmq() -> OwnInstance {
        OwnInstance::start(
            "rabbit-cluster.sh",
            &[
                ("USERHUB_CLUSTER_PORT", "5721"),
                ("USERHUB_CLUSTER_NODES", "1"),
            ],
            &["stop-node", "1"],
            &["start-node", "1"],
        )
    }

    /// A PostgreSQL server on its own port and data directory.
    fn postgres() -> OwnInstance {
        OwnInstance::start(
            "postgres-instance.sh",
            &[("USERHUB_POSTGRES_PORT", "5441")],
            &["stop-server"],
            &["start-server"],
        )
    }

    fn start(
        script_name: &'static str,
        environment: &'static [(&'static str, &'static str)],
        stop: &'static [&'static str],
        start: &'static [&'static str],
    ) -> OwnInstance {
        let url = script(script_name, environment, &["start"]);
        OwnInstance {
            script: script_name,
            environment,
            url,
            stop,
            start,
        }
    }

    /// Stops the service, keeping its data; [`Stopped::start`] starts it again.
    fn stop(&self) -> Stopped<'_> {
        script(self.script, self.environment, self.stop);
        Stopped { instance: self }
    }
}

impl Drop for OwnInstance {
    fn drop(&mut self) {
        script(self.script, self.environment, &["stop"]);
    }
}

/// A stopped instance; started again when dropped, even if the test fails.
struct Stopped<'a> {
    instance: &'a OwnInstance,
}

impl Stopped<'_> {
    fn start(self) {}
}

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        let instance = self.instance;
        script(instance.script, instance.environment, instance.start);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rabbitmq_restart_and_a_killed_worker_during_a_100k_import_lose_and_repeat_nothing() {
    let broker = OwnInstance::rabbitmq();
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
    let database = OwnInstance::postgres();
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.gateway.chunk_records = 500;
        settings.database.url = format!("{}/uh_test_{}", database.url, random_hex(6));
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
