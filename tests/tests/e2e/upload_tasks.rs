//! Tasks from uploads (EXT): a complete upload named by `upload_id` becomes one task of every
//! record in its file — JSONL, CSV or a JSON array, gzip or not — with the usual per-record
//! errors and line numbers, records of one profile applied in file order across chunks, one task
//! per upload (`409 UPLOAD_USED`, or the same task again under its `Idempotency-Key`), and the
//! refusals of an upload that is unknown, another domain's or incomplete.

use flate2::Compression;
use flate2::write::GzEncoder;
use reqwest::Response;
use serde_json::{Value, json};
use std::io::Write;
use userhub_tests::TestApp;

/// Uploads `bytes` in one tus creation-with-upload request; the upload's id.
pub async fn upload_file(app: &TestApp, metadata: &[(&str, &str)], bytes: &[u8]) -> String {
    app.begin_upload(bytes.len(), metadata, bytes).await
}

async fn task_from_upload(app: &TestApp, body: Value, idempotency_key: Option<&str>) -> Response {
    let mut request = app.authorized(app.client.post(app.tasks_url())).json(&body);
    if let Some(key) = idempotency_key {
        request = request.header("idempotency-key", key);
    }
    request.send().await.unwrap()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

async fn city_of(app: &TestApp, uid: &str) -> Value {
    let rows = app
        .query_json(&format!(
            "SELECT last_city FROM core_profiles WHERE id = \
               (SELECT core_profile_id FROM identities WHERE kind = 'uid' AND normalized = '{uid}')"
        ))
        .await;
    rows[0]["last_city"].clone()
}

#[tokio::test]
async fn a_gzip_jsonl_upload_becomes_one_task_with_line_numbers_and_file_order() {
    // Three records per chunk: the two records of `far` (lines 2 and 40) must still share one.
    let app = TestApp::spawn_with(|settings| settings.gateway.chunk_records = 3).await;
    let mut lines: Vec<String> = Vec::new();
    for n in 0..40 {
        lines.push(
            json!({"identities": [{"uid": format!("up-{n}")}], "last_city": "Pune"}).to_string(),
        );
    }
    lines.insert(
        1,
        json!({"identities": [{"uid": "far"}], "last_city": "First"}).to_string(),
    );
    lines.push(json!({"identities": [{"uid": "far"}], "last_city": "Last"}).to_string());
    lines.insert(10, "{not json".to_owned());
    lines.insert(20, String::new());
    let text = lines.join("\n") + "\n";
    let metadata = [("filename", "people.jsonl.gz")];
    let upload_id = upload_file(&app, &metadata, &gzip(text.as_bytes())).await;

    let body = json!({"action": "upsert_core_profiles", "upload_id": upload_id, "options": {"match_by": "uid"}});
    let response = task_from_upload(&app, body.clone(), Some("file-1")).await;
    assert_eq!(response.status(), 201);
    let created: Value = response.json().await.unwrap();
    // Workers may have taken its chunks before the answer (they start on the first batch).
    let state = created["state"].as_str().unwrap();
    assert!(
        ["queued", "processing", "completed"].contains(&state),
        "{created}"
    );
    assert_eq!(created["total"], 43, "every line but the blank one");
    let task_id = created["task_id"].as_u64().unwrap();
    let status = app.wait_completed(task_id).await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(42), Some(1))
    );
    let errors = app.errors(task_id).await;
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["line"], 11, "{errors:?}");
    assert_eq!(errors[0]["errors"][0]["code"], "INVALID_JSON");
    assert_eq!(
        city_of(&app, "far").await,
        "Last",
        "records of one profile apply in file order"
    );
    assert_eq!(city_of(&app, "up-39").await, "Pune");
    let chunks = app
        .query_json(&format!(
            "SELECT chunks_total FROM tasks WHERE id = {task_id}"
        ))
        .await;
    assert!(
        chunks[0]["chunks_total"].as_i64().unwrap() >= 14,
        "{chunks}"
    );

    // One upload makes one task: the same key answers it again, anything else is refused.
    let again = task_from_upload(&app, body.clone(), Some("file-1")).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers()["idempotent-replayed"], "true");
    let again: Value = again.json().await.unwrap();
    assert_eq!(again["task_id"].as_u64(), Some(task_id));
    let other_key = task_from_upload(&app, body.clone(), Some("file-2")).await;
    let (status, error) = refusal(other_key).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("UPLOAD_USED")),
        "another key finds the upload used, its bytes gone: {error}"
    );
    let used = task_from_upload(&app, body, None).await;
    assert_eq!(used.status(), 409);
    let used: Value = used.json().await.unwrap();
    assert_eq!(used["error"]["code"], "UPLOAD_USED", "{used}");
    assert_eq!(used["error"]["details"]["task_id"].as_u64(), Some(task_id));
    let parts = app
        .query_json("SELECT count(*) AS parts FROM upload_parts")
        .await;
    assert_eq!(parts[0]["parts"], 0, "a used upload's bytes are dropped");
    app.stop().await;
}

#[tokio::test]
async fn csv_and_json_array_uploads_give_the_records_they_hold() {
    let app = TestApp::spawn_with(|settings| settings.gateway.chunk_records = 2).await;
    let csv = "uid,last_city,age\ncsv-1,Oslo,30\ncsv-2,Lima\ncsv-3,Rome,41\n";
    let csv_id = upload_file(&app, &[("filename", "people.csv")], csv.as_bytes()).await;
    let array = "[\n{\"identities\":[{\"uid\":\"arr-1\"}],\"last_city\":\"Kyiv\"},\n{\"identities\":[{\"uid\":\"arr-2\"}],\"last_city\":\"Baku\"},\n 17\n]";
    let metadata = [("filename", "x"), ("content_type", "application/json")];
    let array_id = upload_file(&app, &metadata, array.as_bytes()).await;

    let response = task_from_upload(
        &app,
        json!({"action": "create_core_profiles", "upload_id": csv_id}),
        None,
    )
    .await;
    assert_eq!(response.status(), 201);
    let task_id = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let status = app.wait_completed(task_id).await;
    assert_eq!(status["succeeded"], 2, "{status}");
    let errors = app.errors(task_id).await;
    assert_eq!(
        errors[0]["line"], 3,
        "the short row keeps its line: {errors:?}"
    );
    assert_eq!(city_of(&app, "csv-3").await, "Rome");

    // The url-encoded form names an upload as well.
    let form = app
        .authorized(app.client.post(app.tasks_url()))
        .form(&[
            ("action", "create_core_profiles"),
            ("upload_id", array_id.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(form.status(), 201);
    let task_id = form.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let status = app.wait_completed(task_id).await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(2), Some(1))
    );
    let errors = app.errors(task_id).await;
    assert_eq!(errors[0]["line"], 4, "{errors:?}");
    assert_eq!(city_of(&app, "arr-2").await, "Baku");
    let format = app
        .query_json(&format!(
            "SELECT input_format FROM tasks WHERE id = {task_id}"
        ))
        .await;
    assert_eq!(format[0]["input_format"], "json", "{format}");
    app.stop().await;
}

async fn refusal(response: Response) -> (u16, Value) {
    let status = response.status().as_u16();
    let body: Value = response.json().await.unwrap();
    (status, body["error"].clone())
}

#[tokio::test]
async fn uploads_that_cannot_become_tasks_are_refused_with_their_reason() {
    let app = TestApp::spawn().await;
    app.execute(&format!(
        "UPDATE domains SET upload_record_limit = 3 WHERE name = '{}'",
        app.domain
    ))
    .await;
    let limits: Value = app
        .authorized(app.client.get(format!("{}/limits", app.tasks_url())))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(limits["records_per_upload"], 3, "{limits}");

    let create =
        |upload_id: &str| json!({"action": "create_core_profiles", "upload_id": upload_id});
    let (status, error) = refusal(task_from_upload(&app, create("nope"), None).await).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (404, Some("UPLOAD_NOT_FOUND"))
    );

    // Incomplete: 5 of 10 bytes.
    let half = app
        .begin_upload(10, &[("filename", "a.jsonl")], b"{\"a\":")
        .await;
    let (status, error) = refusal(task_from_upload(&app, create(&half), None).await).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (409, Some("UPLOAD_INCOMPLETE")),
        "{error}"
    );
    assert_eq!(error["details"]["upload_offset"], 5);

    // More records than the domain's upload limit: nothing is created, the upload stays usable.
    let lines: String = (0..4)
        .map(|n| format!("{{\"identities\":[{{\"uid\":\"l-{n}\"}}]}}\n"))
        .collect();
    let four = upload_file(&app, &[("filename", "a.jsonl")], lines.as_bytes()).await;
    let (status, error) = refusal(task_from_upload(&app, create(&four), None).await).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (413, Some("TOO_MANY_RECORDS")),
        "{error}"
    );
    assert_eq!(app.task_count().await, 0);

    // A read-only key cannot write.
    let reader = app.create_domain_with_key(&app.domain, true).await;
    let (status, _) = refusal(
        app.client
            .post(app.tasks_url())
            .header("authorization", format!("Bearer {reader}"))
            .json(&create(&four))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 403);

    // Another domain's upload is not there; no waiting.
    let other_key = app.create_domain_with_key("uploads-elsewhere", false).await;
    let (status, _) = refusal(
        app.client
            .post(format!(
                "{}/v2/uploads-elsewhere/identity/bulk_actions",
                app.base_url
            ))
            .header("authorization", format!("Bearer {other_key}"))
            .json(&create(&four))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    let (status, error) = refusal(
        app.authorized(app.client.post(format!("{}?wait=true", app.tasks_url())))
            .json(&create(&four))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("INVALID_OPTION")),
        "{error}"
    );
    let both = json!({"action": "create_core_profiles", "upload_id": four, "payload": [{"identities": [{"uid": "x"}]}]});
    let (status, error) = refusal(task_from_upload(&app, both, None).await).await;
    assert_eq!(
        (status, error["code"].as_str()),
        (400, Some("INVALID_PAYLOAD")),
        "{error}"
    );
    app.execute(&format!(
        "UPDATE domains SET upload_record_limit = NULL WHERE name = '{}'",
        app.domain
    ))
    .await;
    assert_eq!(app.task_count().await, 0, "no refusal left a task behind");
    app.stop().await;
}

#[tokio::test]
async fn chunks_held_open_past_the_memory_budget_are_stored_over_several_readings() {
    // Two records per chunk, a budget smaller than any chunk: one reading of the file per chunk.
    let app = TestApp::spawn_with(|settings| {
        settings.gateway.chunk_records = 2;
        settings.gateway.upload_open_chunk_bytes = 1;
    })
    .await;
    // Every profile's second record is in the second half: every chunk stays open to the end.
    let mut lines = Vec::new();
    for round in ["early", "late"] {
        for n in 0..15 {
            lines.push(json!({"identities": [{"uid": format!("open-{n}")}], "last_city": format!("{round}-{n}")}).to_string());
        }
    }
    let text = lines.join("\n");
    let upload_id = upload_file(&app, &[("filename", "pairs.jsonl")], text.as_bytes()).await;
    let body = json!({"action": "upsert_core_profiles", "upload_id": upload_id, "options": {"match_by": "uid"}});
    let response = task_from_upload(&app, body, None).await;
    let code = response.status().as_u16();
    let created: Value = response.json().await.unwrap();
    let state = created["state"].as_str().unwrap();
    assert!(
        (code == 201 && ["queued", "processing", "completed"].contains(&state))
            || (code, state) == (202, "created"),
        "{code} {created}"
    );
    let task_id = created["task_id"].as_u64().unwrap();
    let status = app.wait_completed(task_id).await;
    assert_eq!(
        (status["total"].as_u64(), status["succeeded"].as_u64()),
        (Some(30), Some(30)),
        "{status}"
    );
    for n in [0, 7, 14] {
        assert_eq!(
            city_of(&app, &format!("open-{n}")).await,
            format!("late-{n}")
        );
    }
    let chunks = app
        .query_json(&format!(
            "SELECT chunks_total FROM tasks WHERE id = {task_id}"
        ))
        .await;
    assert_eq!(
        chunks[0]["chunks_total"], 8,
        "two profiles per chunk, each with both its records"
    );
    app.stop().await;
}

/// Polls until the task is completed, for as long as a million records take here.
async fn wait_long(app: &TestApp, task_id: u64) -> Value {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(1200);
    loop {
        if let Some(status) = app.status_when_available(task_id).await {
            if status["state"] == "completed" {
                return status;
            }
            assert!(tokio::time::Instant::now() < deadline, "{status}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    }
}

#[tokio::test]
async fn a_million_record_upload_becomes_one_task() {
    const RECORDS: usize = 1_000_000;
    let app = TestApp::spawn_with(|settings| settings.gateway.upload_task_wait_ms = 1_000).await;
    let mut text = String::with_capacity(RECORDS * 48);
    for n in 0..RECORDS {
        text.push_str(&format!(
            "{{\"identities\":[{{\"uid\":\"m-{n}\"}}],\"age\":{}}}\n",
            n % 90 + 1
        ));
    }
    let compressed = gzip(text.as_bytes());
    drop(text);
    let upload_id = upload_file(&app, &[("filename", "million.jsonl.gz")], &compressed).await;
    let response = task_from_upload(
        &app,
        json!({"action": "create_core_profiles", "upload_id": upload_id}),
        None,
    )
    .await;
    // Accepting a million records takes longer than the second the request waits.
    assert_eq!(response.status(), 202);
    assert!(response.headers().contains_key("location"));
    let created: Value = response.json().await.unwrap();
    assert_eq!(created["state"], "created", "{created}");
    assert_eq!(created["total"], RECORDS);
    let task_id = created["task_id"].as_u64().unwrap();
    let status = wait_long(&app, task_id).await;
    assert_eq!(
        (status["succeeded"].as_u64(), status["failed"].as_u64()),
        (Some(RECORDS as u64), Some(0)),
        "{status}"
    );

    // Every line became its own profile, and the results file lists each record once.
    let stored = app
        .query_json("SELECT count(*) AS profiles, sum(age) AS ages FROM core_profiles")
        .await;
    let ages: u64 = (0..RECORDS as u64).map(|n| n % 90 + 1).sum();
    assert_eq!(stored[0]["profiles"], RECORDS, "{stored}");
    assert_eq!(stored[0]["ages"], ages, "{stored}");
    let results = app.results_ndjson(task_id).await;
    let mut seen = vec![false; RECORDS];
    for line in results.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        let index = entry["index"].as_u64().unwrap() as usize;
        assert_eq!(entry["line"].as_u64(), Some(index as u64 + 1));
        assert!(
            !std::mem::replace(&mut seen[index], true),
            "index {index} twice"
        );
    }
    assert!(seen.iter().all(|seen| *seen), "every record has a result");
    app.stop().await;
}

#[tokio::test]
async fn the_sweeper_deletes_incomplete_uploads_at_expiry_and_complete_ones_a_period_later() {
    let app = TestApp::spawn().await;
    let line = b"{\"identities\":[{\"uid\":\"swept\"}]}\n";
    let complete = upload_file(&app, &[("filename", "a.jsonl")], line).await;
    let fresh = upload_file(&app, &[("filename", "b.jsonl")], line).await;
    let incomplete = app.begin_upload(100, &[("filename", "c.jsonl")], b"").await;
    // Created 30 hours ago with a 24-hour expiry: the incomplete one is past it, the complete
    // one has until hour 48.
    app.execute(&format!(
        "UPDATE uploads SET created_at = now() - interval '30 hours', \
                            expires_at = now() - interval '6 hours' \
          WHERE id IN ('{complete}', '{incomplete}')"
    ))
    .await;
    let sweep = || async {
        let client = app.pool.get().await.unwrap();
        userhub_store::uploads::expire_uploads(&client, 100)
            .await
            .unwrap()
    };
    assert_eq!(sweep().await, 1);
    let left = app.query_json("SELECT id FROM uploads ORDER BY id").await;
    let mut expected = vec![complete.clone(), fresh.clone()];
    expected.sort();
    let left: Vec<&str> = left
        .as_array()
        .unwrap()
        .iter()
        .map(|row| row["id"].as_str().unwrap())
        .collect();
    assert_eq!(left, expected);
    app.execute(&format!(
        "UPDATE uploads SET created_at = now() - interval '50 hours', \
                            expires_at = now() - interval '26 hours' WHERE id = '{complete}'"
    ))
    .await;
    assert_eq!(
        sweep().await,
        1,
        "a complete upload goes one period after its expiry"
    );
    let parts = app
        .query_json("SELECT count(*) AS n FROM upload_parts")
        .await;
    assert_eq!(parts[0]["n"], 1, "only the fresh upload's bytes are left");
    app.stop().await;
}
