//! `Idempotency-Key`: a retried request returns the original task; a different request with the
//! same key is refused; keys are per domain and expire after 24 hours.

use serde_json::{Value, json};
use userhub_tests::TestApp;
use userhub_tests::fixtures::{seed_payload, seed_records};

async fn post_with_key(app: &TestApp, key: &str, payload: &str) -> reqwest::Response {
    app.authorized(app.client.post(app.tasks_url()))
        .header("idempotency-key", key)
        .form(&[("action", "create_core_profiles"), ("payload", payload)])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn a_retried_request_returns_the_original_task_once() {
    let app = TestApp::spawn().await;
    let first = post_with_key(&app, "import-2026-11-24", &seed_payload()).await;
    assert_eq!(first.status(), 201);
    assert!(first.headers().get("idempotent-replayed").is_none());
    let task_id = first.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    app.wait_completed(task_id).await;
    let again = post_with_key(&app, "import-2026-11-24", &seed_payload()).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let body: Value = again.json().await.unwrap();
    assert_eq!(body["task_id"], task_id);
    assert_eq!(body["state"], "completed");
    // The same records as JSONL are the same request.
    let jsonl: String = seed_records()
        .iter()
        .map(|record| format!("{record}\n"))
        .collect();
    let part = reqwest::multipart::Part::bytes(jsonl.into_bytes()).file_name("p.jsonl");
    let form = reqwest::multipart::Form::new()
        .text("action", "create_core_profiles")
        .part("payload", part);
    let as_file = app
        .authorized(app.client.post(app.tasks_url()))
        .header("idempotency-key", "import-2026-11-24")
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(as_file.json::<Value>().await.unwrap()["task_id"], task_id);
    assert_eq!(app.task_count().await, 1, "one task for three requests");
    let profiles = app
        .query_json("SELECT count(*) AS n FROM core_profiles")
        .await;
    assert_eq!(profiles[0]["n"], 3);
    app.stop().await;
}

#[tokio::test]
async fn a_key_reused_for_another_request_or_still_in_flight_is_refused() {
    let app = TestApp::spawn().await;
    assert_eq!(
        post_with_key(&app, "k-1", &seed_payload()).await.status(),
        201
    );
    let different = post_with_key(&app, "k-1", "[{\"identities\":[{\"uid\":\"other\"}]}]").await;
    assert_eq!(different.status(), 422);
    let body: Value = different.json().await.unwrap();
    assert_eq!(body["error"]["code"], "IDEMPOTENCY_KEY_REUSED");
    // A request whose acceptance has not finished yet holds its key.
    app.execute(&format!(
        "INSERT INTO tasks (id, domain_id, action, state, input_format, total, chunks_total, idempotency_key)
         SELECT 1234, id, 'create_core_profiles', 'created', 'json', 1, 1, 'k-busy' FROM domains WHERE name = '{}'",
        app.domain
    ))
    .await;
    let busy = post_with_key(&app, "k-busy", &seed_payload()).await;
    assert_eq!(busy.status(), 409);
    assert_eq!(
        busy.json::<Value>().await.unwrap()["error"]["code"],
        "IDEMPOTENCY_KEY_IN_USE"
    );
    let too_long = post_with_key(&app, &"k".repeat(256), &seed_payload()).await;
    assert_eq!(too_long.status(), 400);
    assert_eq!(
        too_long.json::<Value>().await.unwrap()["error"]["code"],
        "INVALID_IDEMPOTENCY_KEY"
    );
    app.stop().await;
}

#[tokio::test]
async fn keys_are_per_domain_and_expire_after_a_day() {
    let app = TestApp::spawn().await;
    let first = post_with_key(&app, "shared", &seed_payload())
        .await
        .json::<Value>()
        .await
        .unwrap();
    let other_key = app.create_domain_with_key("idem-other", false).await;
    let other = app
        .client
        .post(format!(
            "{}/v2/idem-other/identity/bulk_actions",
            app.base_url
        ))
        .bearer_auth(other_key)
        .header("idempotency-key", "shared")
        .form(&[
            ("action", "create_core_profiles"),
            ("payload", &seed_payload()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 201);
    assert!(
        other.headers().get("idempotent-replayed").is_none(),
        "another domain's key is another key"
    );
    app.wait_completed(first["task_id"].as_u64().unwrap()).await;
    app.execute("UPDATE tasks SET created_at = now() - interval '25 hours' WHERE idempotency_key = 'shared'").await;
    let later = post_with_key(
        &app,
        "shared",
        &json!([{"identities": [{"uid": "next-day"}]}]).to_string(),
    )
    .await;
    assert_eq!(later.status(), 201);
    let later: Value = later.json().await.unwrap();
    assert_ne!(
        later["task_id"], first["task_id"],
        "an expired key starts a new task"
    );
    app.stop().await;
}
