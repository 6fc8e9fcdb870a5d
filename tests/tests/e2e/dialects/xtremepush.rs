//! Xtremepush (seed 001): `POST /api/external/import/profile`.

use super::{post_text, profiles};
use serde_json::{Value, json};
use std::time::Duration;
use userhub_tests::TestApp;

const PATH: &str = "/api/external/import/profile";

/// The seed's first example, verbatim but for the token.
const IDENTIFIED: &str = r#"{
"apptoken": "YOUR_APPTOKEN",
"columns": ["user_id", "email", "email_subscription", "mobile_number", "sms_subscription", "first_name"],
"rows": [
["fe56bc676be78", "[email protected]", 1, 353850123456, 1, "Sam"],
["fe56bc676be79", "[email protected]", 1, 447700900900, 1, "Joe"]
]
}"#;

const ANONYMOUS: &str = r#"{
"apptoken": "YOUR_APPTOKEN",
"columns": ["device_id", "language", "timezone", "country", "region", "first_name"],
"rows": [
["12345", "en", "Europe/Dublin", "Ireland", "Europe", "Sam"],
["12346", "en", "Europe/London", "UK", "Europe", "Joe"]
]
}"#;

const ESCAPED_ARRAY: &str = r#"{
"apptoken": "YOUR_APPTOKEN",
"columns": ["user_id", "order"],
"rows": [
["user", "[\"frapuccino\", \"iced latte\"]"]
]
}"#;

const ESCAPED_OBJECT: &str = r#"{
"apptoken": "YOUR_APPTOKEN",
"columns": ["user_id", "order"],
"rows": [
["user1", "{\"order_total\":12.34, \"item_count\":3, \"item_name\":\"socks\", \"properties\": {\"colour\":\"red\", \"size\":\"M\"}}"]
]
}"#;

async fn import(app: &TestApp, example: &str) -> (u16, Value) {
    let body = example.replace("YOUR_APPTOKEN", &app.api_key);
    post_text(app, PATH, "application/json", body).await
}

#[tokio::test]
async fn the_seed_examples_import_synchronously() {
    let app = TestApp::spawn().await;
    // Verbatim, the seed's addresses are not e-mail addresses ("[email protected]"): each row
    // is answered with its own error and nothing is stored.
    let (status, body) = import(&app, IDENTIFIED).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["success"], true);
    assert_eq!(body["code"], 200);
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    for (row, result) in data.iter().enumerate() {
        assert_eq!(result["row"], row);
        assert_eq!(result["success"], false, "{result}");
        let message = result["message"].as_str().unwrap();
        assert!(message.contains("`email`"), "{result}");
        assert!(
            !message.contains("identities"),
            "the caller's column, not our path: {result}"
        );
        assert_eq!(
            message.matches("`email`").count(),
            1,
            "named once: {result}"
        );
    }
    assert!(profiles(&app).await.is_empty());

    // With real addresses the same request creates both profiles, then updates them.
    let real = IDENTIFIED
        .replacen("[email protected]", "sam@example.com", 1)
        .replacen("[email protected]", "joe@example.com", 1);
    let (status, body) = import(&app, &real).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][0]["success"], true, "{body}");
    assert_eq!(body["data"][0]["action"], "created");
    assert_eq!(body["data"][1]["action"], "created");
    let stored = profiles(&app).await;
    assert_eq!(stored.len(), 2);
    assert_eq!(stored[0]["names"], json!({"first_name": "Sam"}));
    assert_eq!(
        stored[0]["custom_fields"],
        json!({"email_subscription": 1, "sms_subscription": 1})
    );
    assert_eq!(
        stored[0]["identities"],
        json!([{"email": "sam@example.com"}, {"phone_number": "353850123456"}, {"uid": "fe56bc676be78"}])
    );
    let (_, again) = import(&app, &real.replace("\"Sam\"", "\"Samuel\"")).await;
    assert_eq!(again["data"][0]["action"], "updated", "{again}");
    assert_eq!(
        again["data"][0]["profile_id"],
        body["data"][0]["profile_id"]
    );
    assert_eq!(
        profiles(&app).await[0]["names"],
        json!({"first_name": "Samuel"})
    );

    // Anonymous device profiles.
    let (status, body) = import(&app, ANONYMOUS).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"][1]["success"], true, "{body}");
    let stored = profiles(&app).await;
    let device = stored
        .iter()
        .find(|profile| profile["identities"] == json!([{"device_id": "12345"}]))
        .unwrap();
    assert_eq!(device["preferred_language"], "en");
    assert_eq!(
        device["custom_fields"],
        json!({"timezone": "Europe/Dublin", "country": "Ireland", "region": "Europe"})
    );

    // JSON-escaped arrays and objects become structured attributes.
    for (example, uid, expected) in [
        (ESCAPED_ARRAY, "user", json!(["frapuccino", "iced latte"])),
        (
            ESCAPED_OBJECT,
            "user1",
            json!({"order_total": 12.34, "item_count": 3, "item_name": "socks",
                   "properties": {"colour": "red", "size": "M"}}),
        ),
    ] {
        let (status, body) = import(&app, example).await;
        assert_eq!(body["data"][0]["success"], true, "{status} {body}");
        let stored = profiles(&app).await;
        let profile = stored
            .iter()
            .find(|profile| profile["identities"] == json!([{"uid": uid}]))
            .unwrap();
        assert_eq!(profile["custom_fields"]["order"], expected);
    }
    app.stop().await;
}

#[tokio::test]
async fn subscription_columns_are_required_per_row() {
    let app = TestApp::spawn().await;
    let body = json!({
        "apptoken": app.api_key,
        "columns": ["user_id", "email", "email_subscription", "mobile_number", "sms_subscription"],
        "rows": [
            ["a", "a@example.com", null, null, null],
            ["b", null, null, "+353850000001", ""],
            ["c", "c@example.com", 0, "+353850000002", 1],
            ["d", null, null, null, null]
        ]
    });
    let (status, answer) = post_text(&app, PATH, "application/json", body.to_string()).await;
    assert_eq!(status, 200, "{answer}");
    let data = &answer["data"];
    assert_eq!(data[0]["errors"][0]["field"], "email_subscription");
    assert_eq!(data[0]["errors"][0]["code"], "MISSING_REQUIRED_FIELD");
    assert_eq!(data[1]["errors"][0]["field"], "sms_subscription");
    assert_eq!(data[2]["success"], true, "{answer}");
    assert_eq!(data[3]["success"], true, "no email, no subscription needed");
    assert_eq!(profiles(&app).await.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn large_imports_answer_202_and_report_through_task_info() {
    let app = TestApp::spawn().await;
    let rows: Vec<Value> = (0..150)
        .map(|n| json!([format!("bulk-{n}"), format!("v{n}")]))
        .collect();
    let body = json!({"apptoken": app.api_key, "columns": ["user_id", "segment"], "rows": rows});
    let (status, answer) = post_text(&app, PATH, "application/json", body.to_string()).await;
    assert_eq!(status, 202, "{answer}");
    assert_eq!(answer["code"], 202);
    let task_id = answer["task_id"].clone();
    assert!(task_id.as_u64().is_some(), "{answer}");
    let info = json!({"apptoken": app.api_key, "id": task_id}).to_string();
    let mut last = Value::Null;
    for _ in 0..200 {
        let (status, body) = post_text(
            &app,
            "/api/external/info/task",
            "application/json",
            info.clone(),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        last = body;
        if last["data"]["status"] == "completed" {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(last["data"]["status"], "completed", "{last}");
    assert_eq!(last["data"]["succeeded"], 150);
    assert_eq!(last["data"]["results"].as_array().unwrap().len(), 150);
    assert_eq!(last["data"]["results"][149]["row"], 149);
    let unknown = json!({"apptoken": app.api_key, "id": 42}).to_string();
    let (status, body) =
        post_text(&app, "/api/external/info/task", "application/json", unknown).await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["success"], false);
    app.stop().await;
}

#[tokio::test]
async fn bad_requests_get_xtremepush_errors_and_store_nothing() {
    let app = TestApp::spawn().await;
    let too_many: Vec<Value> = (0..10_001).map(|n| json!([format!("u{n}")])).collect();
    let cases = [
        (IDENTIFIED.to_owned(), 401),
        (
            json!({"apptoken": app.api_key, "columns": ["email", "email_subscription"], "rows": [["a@b.io", 1]]})
                .to_string(),
            400,
        ),
        (
            json!({"apptoken": app.api_key, "columns": ["user_id"], "rows": too_many}).to_string(),
            400,
        ),
        (json!({"apptoken": app.api_key, "columns": ["user_id"]}).to_string(), 400),
        ("{not json".to_owned(), 400),
    ];
    for (body, expected) in cases {
        let (status, answer) = post_text(&app, PATH, "application/json", body).await;
        assert_eq!(status, expected, "{answer}");
        assert_eq!(answer["success"], false);
        assert_eq!(answer["code"], expected);
        assert!(answer["message"].as_str().is_some_and(|m| !m.is_empty()));
    }
    assert_eq!(app.task_count().await, 0);
    app.stop().await;
}

#[tokio::test]
async fn numeric_identities_are_whole_numbers_or_row_errors() {
    let app = TestApp::spawn().await;
    let body = format!(
        r#"{{"apptoken": "{}", "columns": ["user_id", "mobile_number", "sms_subscription"],
            "rows": [["n1", 353850123456.0, 1], [true, null, null], ["n3", 3.5, 1], [77, null, null]]}}"#,
        app.api_key
    );
    let (status, answer) = post_text(&app, PATH, "application/json", body).await;
    assert_eq!(status, 200, "{answer}");
    let data = &answer["data"];
    assert_eq!(data[0]["success"], true, "{answer}");
    assert_eq!(data[1]["errors"][0]["field"], "user_id");
    assert_eq!(data[2]["errors"][0]["field"], "mobile_number");
    assert_eq!(data[3]["success"], true);
    let stored = profiles(&app).await;
    assert_eq!(
        stored[0]["identities"],
        json!([{"phone_number": "353850123456"}, {"uid": "n1"}])
    );
    assert_eq!(stored[1]["identities"], json!([{"uid": "77"}]));
    app.stop().await;
}

#[tokio::test]
async fn task_info_shows_only_this_endpoints_imports() {
    let app = TestApp::spawn().await;
    let native = app
        .create_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "native"}]})],
        )
        .await;
    app.wait_completed(native).await;
    let info = json!({"apptoken": app.api_key, "id": native}).to_string();
    let (status, body) = post_text(&app, "/api/external/info/task", "application/json", info).await;
    assert_eq!(status, 404, "{body}");
    app.stop().await;
}
