//! Tabular input (EXT): `columns` + `rows` JSON bodies and CSV (body or multipart part) become
//! records by column name, with JSON-escaped cells decoded and bad rows reported by line.

use serde_json::{Value, json};
use userhub_tests::TestApp;

async fn created(response: reqwest::Response) -> u64 {
    let status = response.status();
    let body: Value = response.json().await.unwrap();
    assert_eq!(status, 201, "{body}");
    body["task_id"].as_u64().unwrap()
}

/// Creates profiles from a CSV body; the task's id.
async fn csv_task(app: &TestApp, csv: &'static str) -> u64 {
    let url = format!("{}?action=create_core_profiles", app.tasks_url());
    let response = app
        .authorized(app.client.post(url))
        .header("content-type", "text/csv")
        .body(csv)
        .send()
        .await
        .unwrap();
    created(response).await
}

#[tokio::test]
async fn columns_and_rows_create_profiles_by_column_name() {
    let app = TestApp::spawn().await;
    let body = json!({
        "action": "create_core_profiles",
        "columns": ["uid", "email", "names.first_name", "custom_fields.orders", "last_city"],
        "rows": [
            ["t-1", "ann@example.com", "Ann", "12", "Pune"],
            ["t-2", null, "Bo", "[\"frapuccino\", \"iced latte\"]", null],
            ["t-3"]
        ]
    });
    let response = app
        .authorized(app.client.post(app.tasks_url()))
        .json(&body)
        .send()
        .await
        .unwrap();
    let task = created(response).await;
    let status = app.wait_completed(task).await;
    assert_eq!(status["succeeded"], 2, "{status}");
    let errors = app.errors(task).await;
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0]["index"], 2);
    assert!(
        errors[0]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("1 cells"),
        "{errors:?}"
    );
    let stored = app
        .query_json(
            "SELECT names->>'first_name' AS first_name, last_city, custom_fields->'orders' AS orders \
             FROM core_profiles ORDER BY id",
        )
        .await;
    assert_eq!(
        stored,
        json!([
            {"first_name": "Ann", "last_city": "Pune", "orders": "12"},
            {"first_name": "Bo", "last_city": null, "orders": ["frapuccino", "iced latte"]}
        ])
    );
    app.stop().await;
}

#[tokio::test]
async fn a_csv_body_and_a_csv_part_give_the_same_profiles() {
    let app = TestApp::spawn().await;
    let csv = "uid,age,tags\r\nc-1,31,\"[\"\"vip\"\"]\"\r\nc-2,,\r\nc-3,not-a-number,\r\n";
    let task = csv_task(&app, csv).await;
    app.wait_completed(task).await;
    let results = app.results(task).await;
    assert_eq!(results.len(), 2, "{:?}", app.errors(task).await);
    assert_eq!(results[0]["line"], 2);
    let errors = app.errors(task).await;
    assert_eq!(errors[0]["line"], 4, "{errors:?}");
    assert_eq!(errors[0]["errors"][0]["field"], "age");

    // The same file as a multipart part, upserting by uid: all three rows update or create.
    let form = reqwest::multipart::Form::new()
        .text("action", "upsert_core_profiles")
        .text("match_by", "uid")
        .part(
            "payload",
            reqwest::multipart::Part::bytes("uid,age\nc-1,32\nc-9,40\n".as_bytes().to_vec())
                .file_name("people.csv"),
        );
    let response = app
        .authorized(app.client.post(app.tasks_url()))
        .multipart(form)
        .send()
        .await
        .unwrap();
    let upsert = created(response).await;
    app.wait_completed(upsert).await;
    let results = app.results(upsert).await;
    assert_eq!(results[0]["result"], "updated");
    assert_eq!(results[1]["result"], "created");
    let ages = app
        .query_json("SELECT age FROM core_profiles ORDER BY id")
        .await;
    assert_eq!(ages, json!([{"age": 32}, {"age": null}, {"age": 40}]));
    app.stop().await;
}

#[tokio::test]
async fn malformed_tables_are_request_errors() {
    let app = TestApp::spawn().await;
    let bodies = [
        json!({"action": "create_core_profiles", "columns": [], "rows": [[]]}),
        json!({"action": "create_core_profiles", "columns": ["uid", "uid"], "rows": [["a", "b"]]}),
        json!({"action": "create_core_profiles", "columns": ["uid"], "rows": "nope"}),
        json!({"action": "create_core_profiles", "columns": ["uid"]}),
        json!({"action": "create_core_profiles", "columns": ["uid"], "rows": [["a"]], "payload": []}),
    ];
    for body in bodies {
        let response = app
            .authorized(app.client.post(app.tasks_url()))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 400, "{body}");
        let answer: Value = response.json().await.unwrap();
        assert_eq!(answer["error"]["code"], "INVALID_PAYLOAD", "{body}");
    }
    let no_action = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "text/csv")
        .body("uid\na\n")
        .send()
        .await
        .unwrap();
    assert_eq!(no_action.status(), 400);
    assert_eq!(app.task_count().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn numbers_in_tables_and_csv_keep_the_notation_they_were_sent_in() {
    let app = TestApp::spawn().await;
    // Sent as text: a JSON library would re-spell the numbers before they left.
    let table = r#"{"action": "create_core_profiles",
        "columns": ["uid", "custom_fields.n", "custom_fields.list"],
        "rows": [["x-1", 1E2, "[2.50E-3, 7]"]]}"#;
    let response = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "application/json")
        .body(table)
        .send()
        .await
        .unwrap();
    let task = created(response).await;
    assert_eq!(app.wait_completed(task).await["succeeded"], 1);
    let csv = "uid,custom_fields.list\nx-2,\"[1E+2, -0.0]\"\n";
    let task = csv_task(&app, csv).await;
    assert_eq!(app.wait_completed(task).await["succeeded"], 1);
    let stored = app
        .query_json("SELECT custom_fields::text AS text FROM core_profiles ORDER BY id")
        .await;
    let table_row = stored[0]["text"].as_str().unwrap();
    assert!(table_row.contains("1E2"), "{table_row}");
    assert!(table_row.contains("2.50E-3"), "{table_row}");
    let csv_row = stored[1]["text"].as_str().unwrap();
    assert!(
        csv_row.contains("1E+2") && csv_row.contains("-0.0"),
        "{csv_row}"
    );
    app.stop().await;
}

#[tokio::test]
async fn a_quoted_empty_csv_cell_sets_the_empty_string() {
    let app = TestApp::spawn().await;
    let csv = "uid,custom_fields.note,custom_fields.other\ne-1,\"\",\n";
    let task = csv_task(&app, csv).await;
    assert_eq!(app.wait_completed(task).await["succeeded"], 1);
    let stored = app
        .query_json("SELECT custom_fields::text AS text FROM core_profiles")
        .await;
    assert_eq!(
        stored[0]["text"], r#"{"note":""}"#,
        "the empty cell left its field out"
    );
    app.stop().await;
}
