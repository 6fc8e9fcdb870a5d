//! Synchronous small batches (EXT `?wait=true`): `200` with every record's outcome in input
//! order, `202` with the task when it takes longer than the sync timeout, and a clear error for
//! batches over the sync limit.

use serde_json::{Value, json};
use userhub_tests::{Service, TestApp};

async fn post_waiting(app: &TestApp, body: &Value) -> (u16, Value) {
    let response = app
        .authorized(app.client.post(format!("{}?wait=true", app.tasks_url())))
        .json(body)
        .send()
        .await
        .unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn a_waited_request_answers_every_outcome_in_input_order() {
    let app = TestApp::spawn().await;
    let records: Vec<Value> = (0..30)
        .map(|n| {
            if n % 7 == 3 {
                json!({"identities": [{"email": format!("broken-{n}")}]})
            } else {
                json!({"identities": [{"uid": format!("s-{n}")}], "age": n + 1})
            }
        })
        .collect();
    let (status, body) = post_waiting(
        &app,
        &json!({"action": "create_core_profiles", "payload": records}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["state"], "completed");
    assert_eq!(body["total"], 30);
    assert_eq!(body["failed"], 4);
    let entries = body["records"].as_array().unwrap();
    assert_eq!(entries.len(), 30);
    for (n, entry) in entries.iter().enumerate() {
        assert_eq!(entry["index"], n, "{entry}");
        if n % 7 == 3 {
            assert_eq!(entry["outcome"], "failed");
            assert_eq!(entry["errors"][0]["code"], "INVALID_VALUE");
        } else {
            assert_eq!(entry["outcome"], "succeeded");
            assert_eq!(entry["identities"][0]["uid"], format!("s-{n}"));
        }
    }
    // The same task is a normal task too: its files hold the same outcomes.
    let task_id = body["task_id"].as_u64().unwrap();
    assert_eq!(app.results(task_id).await.len(), 26);
    // Without `wait` the original behaviour stays: 201 at once.
    let response = app
        .post_json(
            "create_core_profiles",
            &json!([{"identities": [{"uid": "later"}]}]),
        )
        .await;
    assert_eq!(response.status(), 201);
    app.stop().await;
}

#[tokio::test]
async fn a_task_slower_than_the_sync_timeout_is_answered_202_with_the_task() {
    // No workers run: the task cannot complete.
    let app = TestApp::spawn_service(Service::Gateway, |settings| {
        settings.gateway.sync_timeout_ms = 300;
    })
    .await;
    let (status, body) = post_waiting(
        &app,
        &json!({"action": "create_core_profiles", "payload": [{"identities": [{"uid": "x"}]}]}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    assert!(body["task_id"].as_u64().is_some());
    assert_eq!(body["state"], "queued");
    app.stop().await;
}

#[tokio::test]
async fn batches_over_the_sync_limit_and_bad_wait_values_are_refused() {
    let app = TestApp::spawn_with(|settings| settings.gateway.sync_max_records = 3).await;
    let records: Vec<Value> = (0..4)
        .map(|n| json!({"identities": [{"uid": format!("u{n}")}]}))
        .collect();
    let (status, body) = post_waiting(
        &app,
        &json!({"action": "create_core_profiles", "payload": records}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"]["code"], "INVALID_OPTION");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("at most 3")
    );
    let response = app
        .authorized(app.client.post(format!("{}?wait=soon", app.tasks_url())))
        .json(
            &json!({"action": "create_core_profiles", "payload": [{"identities": [{"uid": "a"}]}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(app.task_count().await, 0, "nothing was created");
    app.stop().await;
}

#[tokio::test]
async fn a_threshold_makes_small_batches_synchronous() {
    let app = TestApp::spawn_with(|settings| settings.gateway.sync_below_records = 3).await;
    let small = app
        .post_json(
            "create_core_profiles",
            &json!([{"identities": [{"uid": "s1"}]}, {"identities": [{"uid": "s2"}]}]),
        )
        .await;
    assert_eq!(small.status(), 200);
    let body: Value = small.json().await.unwrap();
    assert_eq!(body["records"].as_array().unwrap().len(), 2);
    let large: Vec<Value> = (0..3)
        .map(|n| json!({"identities": [{"uid": format!("l{n}")}]}))
        .collect();
    let response = app.post_json("create_core_profiles", &json!(large)).await;
    assert_eq!(
        response.status(),
        201,
        "at the threshold the answer stays 201"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_waited_export_answers_inline_only_what_fits_and_replays_say_so() {
    let app = TestApp::spawn_with(|settings| settings.gateway.sync_max_records = 5).await;
    let records: Vec<Value> = (0..8)
        .map(|n| json!({"identities": [{"uid": format!("e{n}")}]}))
        .collect();
    app.run_task("create_core_profiles", &records).await;
    // `{"all": true}` picks 8 profiles: more than an answer may hold, so it is not awaited.
    let (status, body) = post_waiting(
        &app,
        &json!({"action": "get_core_profiles", "payload": [{"all": true}]}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let task_id = body["task_id"].as_u64().unwrap();
    let done = app.wait_completed(task_id).await;
    assert_eq!(done["total"], 8, "the export itself runs as usual");
    // A selector picking few profiles is answered inline.
    let (status, body) = post_waiting(
        &app,
        &json!({"action": "get_core_profiles", "payload": [{"identity": {"uid": "e3"}}]}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["records"].as_array().unwrap().len(), 1);

    // An idempotent replay of a waited request says it is one.
    let body =
        json!({"action": "create_core_profiles", "payload": [{"identities": [{"uid": "once"}]}]});
    let mut replayed = Vec::new();
    for _ in 0..2 {
        let response = app
            .authorized(app.client.post(format!("{}?wait=true", app.tasks_url())))
            .header("Idempotency-Key", "waited-once")
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);
        replayed.push(response.headers().get("idempotent-replayed").is_some());
    }
    assert_eq!(replayed, vec![false, true]);
    app.stop().await;
}
