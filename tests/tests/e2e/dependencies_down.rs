//! While a dependency is down the gateway answers `503` with `Retry-After` and creates no task;
//! `/readyz` says which dependency is missing.

use serde_json::Value;
use userhub_tests::TestApp;
use userhub_tests::fixtures::seed_payload;
use userhub_tests::instances::OwnInstance;

#[tokio::test]
async fn without_the_broker_creation_is_503_and_nothing_is_stored() {
    let app = TestApp::spawn_without_broker().await;
    let response = app.post_form("create_core_profiles", &seed_payload()).await;
    assert_eq!(response.status(), 503);
    assert!(response.headers().contains_key("retry-after"));
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "SERVICE_UNAVAILABLE");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("message broker"),
        "{body}"
    );
    assert_eq!(app.task_count().await, 0);
    let ready = app
        .client
        .get(format!("{}/readyz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(ready.status(), 503);
    let ready: Value = ready.json().await.unwrap();
    assert_eq!(
        (ready["database"].as_str(), ready["broker"].as_str()),
        (Some("up"), Some("down"))
    );
    let health = app
        .client
        .get(format!("{}/healthz", app.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(health.status(), 200, "the process itself is alive");
    app.stop().await;
}

#[tokio::test]
async fn a_broker_node_list_passes_over_a_node_that_is_down() {
    let live = userhub_tests::test_settings().broker.url;
    let dead = format!(
        "amqp://guest:guest@127.0.0.1:{}/%2f",
        userhub_tests::free_port()
    );
    let app = TestApp::spawn_with(|settings| {
        settings.broker.url = format!("{dead},{live}");
    })
    .await;
    let (status, results, _) = app
        .run_task(
            "create_core_profiles",
            &[serde_json::json!({"identities": [{"uid": "via-the-second-node"}]})],
        )
        .await;
    assert_eq!(status["succeeded"], 1, "{status}");
    assert_eq!(results.len(), 1);
    app.stop().await;
}

/// Sets a policy on the test's queues of one task type on `broker` (a node of the test's own).
fn set_queue_policy(
    broker: &OwnInstance,
    name: &str,
    prefix: &str,
    action: &str,
    definition: &str,
) {
    let pattern = format!("^{prefix}\\.q\\.{action}\\.");
    broker.rabbitmqctl(&[
        "-q",
        "set_policy",
        "--apply-to",
        "queues",
        name,
        &pattern,
        definition,
    ]);
}

/// Publishes `{}` into every work queue of `create_core_profiles` until the broker refuses it
/// (the queue is over its length limit and its limit applies).
async fn fill_until_refused(settings: &userhub_server::Settings) {
    let inspector = userhub_broker::Inspector::connect(&settings.broker)
        .await
        .unwrap();
    let topology = userhub_broker::Topology::new(&settings.broker);
    for queue in topology.work_queues(userhub_domain::TaskAction::CreateCoreProfiles) {
        let mut refused = false;
        for _ in 0..100 {
            if !inspector.offer(&queue.name, b"{}").await.unwrap() {
                refused = true;
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        assert!(refused, "{} refuses publishes once full", queue.name);
    }
    inspector.close().await;
}

/// A work queue that is full (`max-length` 0 with the queues' `reject-publish` overflow) makes
/// the broker refuse the gateway's chunks with publisher nacks: the request answers `503` with
/// `Retry-After` and leaves no task, and its Idempotency-Key is free again. Once the queue takes
/// messages, the same request is accepted and every chunk is published.
#[tokio::test]
async fn chunks_the_broker_refuses_answer_503_and_leave_no_task() {
    // A policy makes the queues full: on a node of the test's own, not the machine's broker.
    let broker = OwnInstance::rabbitmq(5731);
    // Only the gateway runs: nothing consumes the queues this test fills.
    let app = TestApp::spawn_service(userhub_tests::Service::Gateway, |settings| {
        settings.broker.url = broker.url.clone();
        settings.gateway.chunk_records = 2;
        // Classic queues drop what is over their limit instead of refusing it.
        settings.broker.queue_type = userhub_broker::QueueType::Quorum;
    })
    .await;
    let records: Vec<Value> = (0..10)
        .map(|n| serde_json::json!({"identities": [{"uid": format!("nack-{n}")}]}))
        .collect();
    let body = serde_json::json!({"action": "create_core_profiles", "payload": records});
    let post = || {
        app.authorized(
            app.client
                .post(app.tasks_url())
                .header("Idempotency-Key", "nacked-once")
                .json(&body),
        )
        .send()
    };

    set_queue_policy(
        &broker,
        "full",
        &app.settings.broker.prefix,
        "create_core_profiles",
        r#"{"max-length": 0}"#,
    );
    fill_until_refused(&app.settings).await;
    let refused = post().await.unwrap();
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().contains_key("retry-after"));
    let refused: Value = refused.json().await.unwrap();
    assert_eq!(refused["error"]["code"], "SERVICE_UNAVAILABLE", "{refused}");
    assert_eq!(app.task_count().await, 0, "a refused task is withdrawn");
    broker.rabbitmqctl(&["-q", "clear_policy", "full"]);

    let accepted = post().await.unwrap();
    assert_eq!(
        accepted.status(),
        201,
        "the same key is accepted once the queue takes chunks"
    );
    let accepted: Value = accepted.json().await.unwrap();
    assert_eq!(accepted["state"], "queued", "{accepted}");
    assert_eq!(app.task_count().await, 1);
    let task_id = accepted["task_id"].as_u64().unwrap();
    let taken = userhub_tests::take_work_messages(
        &app.settings,
        userhub_domain::TaskAction::CreateCoreProfiles,
        100,
    )
    .await;
    let of_task = taken
        .iter()
        .filter(|message| {
            serde_json::from_slice::<Value>(message).unwrap()["task_id"].as_u64() == Some(task_id)
        })
        .count();
    assert_eq!(
        of_task, 5,
        "every chunk of the accepted task is queued once"
    );
    app.stop().await;
}
