//! Webhooks (EXT): a domain's endpoint receives `task.completed` signed in the Standard Webhooks
//! scheme, at least once — a retry after a 500 keeps its `webhook-id` — and nothing of another
//! domain; the delivery log, redeliver and secret rotation work; internal targets are refused.

use serde_json::{Value, json};
use standardwebhooks::Webhook;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use userhub_tests::TestApp;
use userhub_tests::receiver::{Inbox, SharedInbox as Shared, receiver, wait_for};

fn webhooks_url(app: &TestApp, domain: &str) -> String {
    format!("{}/v2/{domain}/webhooks", app.base_url)
}

/// An authorized request to the domain's webhook routes (`suffix` after `/webhooks`).
async fn call(app: &TestApp, method: reqwest::Method, suffix: &str) -> reqwest::Response {
    let url = format!("{}{suffix}", webhooks_url(app, &app.domain));
    app.authorized(app.client.request(method, url))
        .send()
        .await
        .unwrap()
}

async fn get_json(app: &TestApp, suffix: &str) -> Value {
    call(app, reqwest::Method::GET, suffix)
        .await
        .json()
        .await
        .unwrap()
}

async fn register(app: &TestApp, url: &str) -> reqwest::Response {
    register_for(app, url, &["task.completed"]).await
}

async fn register_for(app: &TestApp, url: &str, events: &[&str]) -> reqwest::Response {
    app.authorized(
        app.client
            .post(webhooks_url(app, &app.domain))
            .json(&json!({"url": url, "events": events})),
    )
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn completed_tasks_reach_the_domain_s_endpoint_signed_and_at_least_once() {
    let app = TestApp::spawn_with(|settings| {
        settings.webhooks.allow_private_targets = true;
        settings.webhooks.retry_delays_ms = vec![300];
        settings.webhooks.poll_interval_ms = 50;
    })
    .await;
    let inbox: Shared = Arc::new(Mutex::new(Inbox {
        fail_first: 1,
        ..Inbox::default()
    }));
    let url = receiver(Arc::clone(&inbox)).await;
    let response = register(&app, &url).await;
    assert_eq!(response.status(), 201);
    let endpoint: Value = response.json().await.unwrap();
    let secret = endpoint["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("whsec_"), "{endpoint}");
    // The secret is stored sealed, never as the clear text the answer showed.
    let stored = app.query_json("SELECT secret FROM webhook_endpoints").await;
    let stored = stored[0]["secret"].as_str().unwrap();
    assert!(
        stored.starts_with("v1.") && !stored.contains(&secret[6..]),
        "{stored}"
    );

    // Another domain's task reaches no endpoint of this one.
    let other = format!("{}-other", app.domain);
    let other_key = app.create_domain_with_key(&other, false).await;
    let response = app
        .client
        .post(format!("{}/v2/{other}/identity/bulk_actions", app.base_url))
        .bearer_auth(&other_key)
        .json(
            &json!({"action": "create_core_profiles", "payload": [{"identities": [{"uid": "o"}]}]}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);

    let (status, _, _) = app
        .run_task(
            "create_core_profiles",
            &[
                json!({"identities": [{"uid": "w"}]}),
                json!({"identities": []}),
            ],
        )
        .await;
    let task_id = status["task_id"].as_u64().unwrap();
    wait_for(&inbox, 2).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let received = inbox.lock().unwrap().received.clone();
    assert_eq!(received.len(), 2, "a 500, then the retry; nothing else");
    let ids: Vec<&str> = received
        .iter()
        .map(|(headers, _)| headers["webhook-id"].to_str().unwrap())
        .collect();
    assert_eq!(ids[0], ids[1], "a retry keeps its webhook-id");
    let verifier = Webhook::new(&secret).unwrap();
    for (headers, body) in &received {
        verifier.verify(body, headers).expect("a valid signature");
        let forged = [body.as_ref(), b" "].concat();
        assert!(verifier.verify(&forged, headers).is_err());
        let event: Value = serde_json::from_slice(body).unwrap();
        assert_eq!(event["type"], "task.completed");
        assert_eq!(event["data"]["task_id"], task_id);
        assert_eq!(event["data"]["domain"], app.domain.as_str());
        assert_eq!(event["data"]["outcome"], "completed_with_errors");
        assert_eq!(event["data"]["succeeded"], 1);
        assert_eq!(event["data"]["failed"], 1);
    }

    // The delivery log, then a manual redeliver with the same id.
    let endpoint_id = endpoint["id"].as_i64().unwrap();
    let log = get_json(&app, &format!("/{endpoint_id}/deliveries")).await;
    let first = &log["deliveries"][0];
    assert_eq!(first["state"], "delivered", "{log}");
    assert_eq!(first["attempts"], 2);
    assert_eq!(first["last_status"], 200);
    assert_eq!(first["webhook_id"], ids[0]);
    assert!(
        first.get("payload").is_none(),
        "the log shows no payloads: {log}"
    );
    assert_eq!(first["payload_bytes"], received[0].1.len());
    let delivery_id = first["id"].as_i64().unwrap();
    let one = get_json(&app, &format!("/{endpoint_id}/deliveries/{delivery_id}")).await;
    assert_eq!(
        one["payload"],
        serde_json::from_slice::<Value>(&received[0].1).unwrap()
    );

    // Rotation: both secrets sign while the overlap lasts.
    let rotated: Value = call(
        &app,
        reqwest::Method::POST,
        &format!("/{endpoint_id}/rotate"),
    )
    .await
    .json()
    .await
    .unwrap();
    let new_secret = rotated["secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let redeliver = format!("/{endpoint_id}/deliveries/{delivery_id}/redeliver");
    let response = call(&app, reqwest::Method::POST, &redeliver).await;
    assert_eq!(response.status(), 202);
    wait_for(&inbox, 3).await;
    let (headers, body) = inbox.lock().unwrap().received[2].clone();
    assert_eq!(headers["webhook-id"].to_str().unwrap(), ids[0]);
    assert_eq!(
        headers["webhook-signature"]
            .to_str()
            .unwrap()
            .split(' ')
            .count(),
        2
    );
    Webhook::new(&new_secret)
        .unwrap()
        .verify(&body, &headers)
        .unwrap();
    verifier.verify(&body, &headers).unwrap();

    // The previous secret is retired at once: only the new one signs.
    let retire = format!("/{endpoint_id}/previous_secret");
    let response = call(&app, reqwest::Method::DELETE, &retire).await;
    assert_eq!(response.status(), 204);
    let response = call(&app, reqwest::Method::POST, &redeliver).await;
    assert_eq!(response.status(), 202);
    wait_for(&inbox, 4).await;
    let (headers, body) = inbox.lock().unwrap().received[3].clone();
    let signatures = headers["webhook-signature"].to_str().unwrap();
    assert_eq!(signatures.split(' ').count(), 1, "{signatures}");
    Webhook::new(&new_secret)
        .unwrap()
        .verify(&body, &headers)
        .unwrap();
    assert!(verifier.verify(&body, &headers).is_err());

    // A task completed again (a dead-lettered chunk replayed) is announced again, under a new id.
    app.execute(&format!(
        "UPDATE tasks SET state = 'processing' WHERE id = {task_id}"
    ))
    .await;
    app.execute(&format!(
        "UPDATE tasks SET state = 'completed', completed_at = now() + interval '1 second' \
         WHERE id = {task_id}"
    ))
    .await;
    wait_for(&inbox, 5).await;
    let (headers, _) = inbox.lock().unwrap().received[4].clone();
    assert_ne!(headers["webhook-id"].to_str().unwrap(), ids[0]);

    // Removing the endpoint.
    let response = call(&app, reqwest::Method::DELETE, &format!("/{endpoint_id}")).await;
    assert_eq!(response.status(), 204);
    let listed = get_json(&app, "").await;
    assert_eq!(listed, json!([]));
    app.stop().await;
}

#[tokio::test]
async fn endpoints_that_cannot_be_used_are_refused_clearly() {
    let app = TestApp::spawn().await;
    for (url, says) in [
        ("http://127.0.0.1:9/hook", "public addresses only"),
        ("http://localhost:9/hook", "public addresses only"),
        (
            "http://169.254.169.254/latest/meta-data",
            "public addresses only",
        ),
        ("http://[::1]/hook", "public addresses only"),
        ("ftp://example.com/hook", "http or https"),
        ("nonsense", "not a valid URL"),
    ] {
        let response = register(&app, url).await;
        assert_eq!(response.status(), 400, "{url}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"]["code"], "INVALID_WEBHOOK", "{body}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(says), "{url}: {message}");
    }
    let response = register_for(&app, "http://127.0.0.1/", &["profile.deleted"]).await;
    assert_eq!(response.status(), 400);
    let reader = app
        .create_domain_with_key(&format!("{}-ro", app.domain), true)
        .await;
    let response = app
        .client
        .post(webhooks_url(&app, &format!("{}-ro", app.domain)))
        .bearer_auth(reader)
        .json(&json!({"url": "https://example.com/", "events": ["task.completed"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let response = call(&app, reqwest::Method::DELETE, "/77").await;
    assert_eq!(response.status(), 404);
    let stored = app
        .query_json("SELECT count(*) AS n FROM webhook_endpoints")
        .await;
    assert_eq!(stored[0]["n"], 0);
    app.stop().await;
}

#[tokio::test]
async fn profile_events_reach_an_endpoint_that_asked_for_them_signed_a_chunk_at_a_time() {
    let app = TestApp::spawn_with(|settings| {
        settings.webhooks.allow_private_targets = true;
        settings.webhooks.poll_interval_ms = 50;
    })
    .await;
    let changes: Shared = Arc::new(Mutex::new(Inbox::default()));
    let completions: Shared = Arc::new(Mutex::new(Inbox::default()));
    let changes_url = receiver(Arc::clone(&changes)).await;
    let completions_url = receiver(Arc::clone(&completions)).await;
    let response = register_for(&app, &changes_url, &["profile.changed"]).await;
    assert_eq!(response.status(), 201);
    let secret = response.json::<Value>().await.unwrap()["secret"]
        .as_str()
        .unwrap()
        .to_owned();
    let response = register_for(&app, &completions_url, &["task.completed"]).await;
    assert_eq!(response.status(), 201);

    let (status, created, _) = app
        .run_task(
            "create_core_profiles",
            &[
                json!({"identities": [{"uid": "pe-1"}]}),
                json!({"identities": [{"uid": "pe-2"}], "age": 5}),
            ],
        )
        .await;
    let task_id = status["task_id"].as_u64().unwrap();
    wait_for(&changes, 1).await;
    wait_for(&completions, 1).await;
    let (headers, body) = changes.lock().unwrap().received[0].clone();
    let verifier = Webhook::new(&secret).unwrap();
    verifier
        .verify(&body, &headers)
        .expect("the profile.changed delivery is signed");
    let payload: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(payload["type"], "profile.changed");
    let data = &payload["data"];
    assert_eq!(data["schema"], "userhub.profile_event_batch.v1");
    assert_eq!(data["count"], 2);
    let ids: Vec<&Value> = data["events"]
        .as_array()
        .unwrap()
        .iter()
        .map(|event| &event["core-profile-id"])
        .collect();
    let made: Vec<&Value> = created.iter().map(|r| &r["core-profile-id"]).collect();
    assert_eq!(ids, made);
    assert!(
        data["events"]
            .as_array()
            .unwrap()
            .iter()
            .all(|event| event["action"] == "created" && event["task_id"] == task_id)
    );

    // Each endpoint hears only what it asked for.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let completion_types: Vec<String> = completions
        .lock()
        .unwrap()
        .received
        .iter()
        .map(|(_, body)| serde_json::from_slice::<Value>(body).unwrap()["type"].to_string())
        .collect();
    assert_eq!(completion_types, ["\"task.completed\""]);
    assert_eq!(changes.lock().unwrap().received.len(), 1);
    let log = get_json(&app, "").await;
    assert!(log.to_string().contains("profile.changed"), "{log}");
    app.stop().await;
}
