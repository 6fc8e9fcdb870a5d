//! The seed's flow: create → status → results → errors, with every body encoding.

use serde_json::{Value, json};
use userhub_tests::TestApp;
use userhub_tests::fixtures::{seed_payload, seed_records};

async fn assert_seed_task_completes(app: &TestApp, task_id: u64) {
    let status = app.wait_completed(task_id).await;
    assert_eq!(status["progress_percentage"], 100);
    assert_eq!(status["errors"], false);
    assert_eq!(status["results"], true);
    assert_eq!(status["outcome"], "succeeded");
    assert_eq!(
        (
            status["total"].as_i64(),
            status["succeeded"].as_i64(),
            status["failed"].as_i64()
        ),
        (Some(3), Some(3), Some(0))
    );
    let results = app.results(task_id).await;
    assert_eq!(results.len(), 3);
    for (index, result) in results.iter().enumerate() {
        assert_eq!(result["index"], index);
        let id = result["core-profile-id"]
            .as_u64()
            .expect("core-profile-id is an integer");
        assert!(id > 0 && id < (1 << 53));
        assert_eq!(
            result["identities"],
            json!([{"uid": format!("uid-{}", index + 1)}])
        );
    }
    assert_eq!(
        app.errors(task_id).await,
        Vec::<Value>::new(),
        "errors file is an empty array"
    );
    let stored = app
        .query_json("SELECT last_country, last_city FROM core_profiles ORDER BY id")
        .await;
    assert_eq!(
        stored,
        json!([
            {"last_country": "IN", "last_city": "Pune"},
            {"last_country": "PK", "last_city": "Karachi"},
            {"last_country": "LK", "last_city": "Colombo"}
        ])
    );
}

#[tokio::test]
async fn the_seed_request_url_encoded_creates_three_profiles() {
    let app = TestApp::spawn().await;
    let response = app.post_form("create_core_profiles", &seed_payload()).await;
    assert_eq!(response.status(), 201);
    let location = response.headers()["location"].to_str().unwrap().to_owned();
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(
        response.headers()["access-control-allow-methods"],
        "GET, POST, PUT, DELETE, OPTIONS"
    );
    let body: Value = response.json().await.unwrap();
    let task_id = body["task_id"].as_u64().expect("task_id is a JSON integer");
    assert!(
        task_id < (1 << 53) && task_id.to_string().len() == 16,
        "16-digit id below 2^53: {task_id}"
    );
    assert!(["created", "queued"].contains(&body["state"].as_str().unwrap()));
    assert_eq!(
        location,
        format!("/v2/{}/identity/bulk_actions/{task_id}", app.domain)
    );
    assert_seed_task_completes(&app, task_id).await;
    app.stop().await;
}

#[tokio::test]
async fn a_multipart_jsonl_upload_creates_the_same_profiles() {
    let app = TestApp::spawn().await;
    let jsonl = seed_records()
        .iter()
        .map(|record| format!("{record}\r\n"))
        .collect::<String>();
    let response = app
        .post_jsonl("create_core_profiles", &format!("\u{feff}{jsonl}\n\n"))
        .await;
    assert_eq!(response.status(), 201);
    let task_id = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    assert_seed_task_completes(&app, task_id).await;
    let results = app.results(task_id).await;
    assert_eq!(
        results
            .iter()
            .map(|r| r["line"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    app.stop().await;
}

#[tokio::test]
async fn a_json_body_creates_the_same_profiles() {
    let app = TestApp::spawn().await;
    let response = app
        .post_json("create_core_profiles", &Value::Array(seed_records()))
        .await;
    assert_eq!(response.status(), 201);
    let task_id = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    assert_seed_task_completes(&app, task_id).await;
    app.stop().await;
}

#[tokio::test]
async fn a_gzip_multipart_upload_is_accepted() {
    use std::io::Write;
    let app = TestApp::spawn().await;
    let boundary = "XyZ123";
    let jsonl: String = seed_records()
        .iter()
        .map(|record| format!("{record}\n"))
        .collect();
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"action\"\r\n\r\ncreate_core_profiles\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"payload\"; filename=\"p.jsonl\"\r\n\
         Content-Type: text/plain\r\n\r\n{jsonl}\r\n--{boundary}--\r\n"
    );
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(body.as_bytes()).unwrap();
    let response = app
        .authorized(app.client.post(app.tasks_url()))
        .header(
            "content-type",
            format!("multipart/form-data; boundary={boundary}"),
        )
        .header("content-encoding", "gzip")
        .body(encoder.finish().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let task_id = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    assert_seed_task_completes(&app, task_id).await;
    app.stop().await;
}

#[tokio::test]
async fn status_before_results_and_a_known_request_id_is_echoed() {
    let app = TestApp::spawn().await;
    let response = app
        .authorized(app.client.get(app.task_url(1234567890123456)))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    assert_eq!(response.headers()["x-request-id"], "trace-me-42");
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "TASK_NOT_FOUND");
    app.stop().await;
}

#[tokio::test]
async fn a_large_import_is_split_into_chunks_and_keeps_input_order() {
    let app = TestApp::spawn_with(|settings| settings.gateway.chunk_records = 250).await;
    let records: Vec<Value> = (0..2_000)
        .map(userhub_tests::fixtures::full_profile)
        .collect();
    let (status, results, errors) = app.run_task("create_core_profiles", &records).await;
    assert_eq!(status["succeeded"], 2000, "{status}");
    assert!(errors.is_empty());
    let indexes: Vec<u64> = results
        .iter()
        .map(|r| r["index"].as_u64().unwrap())
        .collect();
    assert_eq!(indexes, (0..2000).collect::<Vec<u64>>());
    let ledger = app
        .query_json("SELECT count(*) AS chunks FROM task_chunks")
        .await;
    assert_eq!(ledger[0]["chunks"], 8);
    let profile = app
        .query_json("SELECT names, tags, custom_fields, age, lifetime_value::text AS ltv, preferred_language, accepted_t_and_c FROM core_profiles WHERE id = (SELECT core_profile_id FROM identities WHERE kind = 'uid' AND normalized = 'user-0')")
        .await;
    assert_eq!(
        profile[0],
        json!({
            "names": {"first_name": "Ada", "last_name": "Lovelace 0", "display_name": "ada"},
            "tags": ["vip", "beta"],
            "custom_fields": {"plan": "gold", "seats": 3, "trial": false},
            "age": 36, "ltv": "1234.50", "preferred_language": "en", "accepted_t_and_c": true
        })
    );
    let emails = app.query_json("SELECT value, normalized, metadata FROM identities WHERE kind = 'email' AND normalized = 'user.0@example.com'").await;
    assert_eq!(
        emails[0],
        json!({"value": "User.0@Example.com", "normalized": "user.0@example.com", "metadata": {"verified": "true"}})
    );
    app.stop().await;
}

/// `Server-Timing` on a created task names every step of accepting it, in order, each with a
/// duration in milliseconds; together they take no longer than the request did.
#[tokio::test]
async fn a_created_task_reports_where_its_accept_time_went() {
    let app = TestApp::spawn().await;
    let records: Vec<Value> = (0..2_500)
        .map(|n| json!({"identities": [{"uid": format!("timed-{n}")}]}))
        .collect();
    let body = json!({"action": "create_core_profiles", "payload": records});
    let started = std::time::Instant::now();
    let response = app
        .authorized(app.client.post(app.tasks_url()).json(&body))
        .send()
        .await
        .unwrap();
    let elapsed_ms = started.elapsed().as_secs_f64() * 1000.0;
    assert_eq!(response.status(), 201);
    let timing = response.headers()["server-timing"]
        .to_str()
        .unwrap()
        .to_owned();
    let steps: Vec<(String, f64)> = timing
        .split(", ")
        .map(|step| {
            let (name, duration) = step.split_once(";dur=").expect("name;dur=ms");
            (name.to_owned(), duration.parse().expect("milliseconds"))
        })
        .collect();
    let names: Vec<&str> = steps.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(
        names,
        [
            "read", "validate", "record", "render", "store", "publish", "queued"
        ],
        "{timing}"
    );
    assert!(steps.iter().all(|(_, ms)| *ms >= 0.0), "{timing}");
    let total: f64 = steps.iter().map(|(_, ms)| ms).sum();
    assert!(
        total > 0.0 && total <= elapsed_ms,
        "{timing} within {elapsed_ms} ms"
    );
    app.stop().await;
}
