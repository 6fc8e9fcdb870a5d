//! A 3-node RabbitMQ cluster (issue 16), started and stopped by `scripts/rabbit-cluster.sh`
//! beside the machine's broker, under a 100 000-record import on quorum queues: the node leading
//! the import's work queue is killed with SIGKILL, then the node the gateway is connected to is
//! stopped, then both nodes come back. Every task completes, the profiles match the input
//! exactly, no chunk is applied twice, and the gateway answers 503 at worst. nextest runs this
//! test alone (`.config/nextest.toml`): it starts and stops broker nodes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use userhub_domain::TaskAction;
use userhub_tests::load::{post_until_accepted, wait_for_progress};
use userhub_tests::oracle::{assert_import_applied, numbered_profiles};
use userhub_tests::{ServerProcess, Service, TestApp};

const SERVER: &str = env!("CARGO_BIN_EXE_userhub-server");

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/rabbit-cluster.sh")
}

/// Runs the cluster script; its output.
fn cluster(args: &[&str]) -> String {
    let output = Command::new("bash")
        .arg(script())
        .args(args)
        .output()
        .expect("bash runs the cluster script");
    assert!(
        output.status.success(),
        "rabbit-cluster.sh {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_owned()
}

/// The cluster, stopped (and its data removed) when dropped, even if the test fails.
struct Cluster {
    urls: String,
}

impl Cluster {
    fn start() -> Cluster {
        let urls = cluster(&["start"]);
        assert_eq!(urls.split(',').count(), 3, "{urls}");
        Cluster { urls }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        cluster(&["stop"]);
    }
}

/// The node (1 to 3) that leads `queue`.
async fn leader_of(queue: &str) -> String {
    for _ in 0..100 {
        let leader = cluster(&["leader", queue]);
        if !leader.is_empty() {
            return leader;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no leader for {queue}");
}

/// The node this process's broker connection (the in-process gateway's) is on.
async fn node_of_this_process(prefix: &str) -> String {
    let name = format!("userhub:{prefix}:{}", std::process::id());
    for _ in 0..100 {
        for node in ["1", "2", "3"] {
            if cluster(&["connections", node])
                .lines()
                .any(|line| line == name)
            {
                return node.to_owned();
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("no node holds connection {name}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_import_survives_a_killed_leader_and_a_stopped_gateway_node() {
    let cluster_nodes = Cluster::start();
    let urls = cluster_nodes.urls.clone();
    let app = TestApp::spawn_service(Service::Api, |settings| {
        settings.broker.url = urls;
        settings.gateway.chunk_records = 500;
    })
    .await;
    let records = numbered_profiles(0..100_000);
    let batches: Vec<&[Value]> = records.chunks(10_000).collect();
    let mut refusals = 0;
    let mut tasks = Vec::new();
    for batch in &batches[..6] {
        tasks.push(post_until_accepted(&app, batch, &mut refusals).await);
    }
    let _workers = [
        ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]),
        ServerProcess::worker(SERVER, &app.settings, "create_core_profiles", &[]),
    ];
    wait_for_progress(&app, tasks[0]).await;

    // SIGKILL the leader of the queue holding most of the import (the domain's bulk lane).
    let topology = userhub_broker::Topology::new(&app.settings.broker);
    let domain_id: i64 =
        app.query_json("SELECT domain_id FROM tasks LIMIT 1").await[0]["domain_id"]
            .as_i64()
            .unwrap();
    let shard = domain_id.rem_euclid(i64::from(app.settings.broker.shards));
    let bulk = topology
        .work_queues(TaskAction::CreateCoreProfiles)
        .into_iter()
        .find(|queue| queue.name.ends_with(&format!(".bulk.{shard}")))
        .unwrap();
    let leader = leader_of(&bulk.name).await;
    cluster(&["kill", &leader]);
    for batch in &batches[6..8] {
        tasks.push(post_until_accepted(&app, batch, &mut refusals).await);
    }
    for task in &tasks {
        let status = app.wait_completed(*task).await;
        assert_eq!(status["succeeded"], 10_000, "{status}");
    }
    cluster(&["start-node", &leader]);

    // Stop the node the gateway is connected to while it accepts tasks.
    let gateway_node = node_of_this_process(&app.settings.broker.prefix).await;
    cluster(&["stop-node", &gateway_node]);
    for batch in &batches[8..] {
        tasks.push(post_until_accepted(&app, batch, &mut refusals).await);
    }
    cluster(&["start-node", &gateway_node]);
    println!(
        "leader {leader} killed, gateway node {gateway_node} stopped; {refusals} requests \
         answered 503"
    );
    assert_import_applied(&app, &tasks, 10_000, &records).await;
    app.stop().await;
    drop(cluster_nodes);
}
