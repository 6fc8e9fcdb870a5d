//! Values survive a round trip exactly, and a value the database could not store fails its own
//! record only — found before the chunk's SQL runs, so no retries and no dead letter.

use serde_json::{Value, json};
use userhub_tests::{TestApp, dead_letter_depth};

fn exact(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// The newest task of the app's domain.
async fn last_task(app: &TestApp) -> u64 {
    app.query_json("SELECT id FROM tasks ORDER BY id DESC LIMIT 1")
        .await[0]["id"]
        .as_u64()
        .unwrap()
}

async fn export(app: &TestApp, ids: &[Value]) -> Vec<Value> {
    let records: Vec<Value> = ids
        .iter()
        .map(|id| json!({"core-profile-id": id}))
        .collect();
    let (_, results, errors) = app.run_task("get_core_profiles", &records).await;
    assert!(errors.is_empty(), "{errors:?}");
    results
}

#[tokio::test]
async fn a_value_the_database_cannot_store_fails_only_its_own_record() {
    let app = TestApp::spawn().await;
    let bad = [
        (
            17,
            r#"{"identities":[{"uid":"bad-1"}],"custom_fields":{"n":1e-99999}}"#,
            "custom_fields.n",
        ),
        (
            150,
            r#"{"identities":[{"uid":"bad-2"}],"custom_fields":{"o":{"n":1e-100000}}}"#,
            "custom_fields.o.n",
        ),
        (
            299,
            r#"{"identities":[{"uid":"bad-3"}],"custom_fields":{"big":1e100000}}"#,
            "custom_fields.big",
        ),
    ];
    let mut lines: Vec<String> = (0..300)
        .map(|n| {
            json!({"identities": [{"uid": format!("good-{n}")}], "custom_fields": {"n": n}})
                .to_string()
        })
        .collect();
    for (at, line, _) in &bad {
        lines.insert(*at, (*line).to_owned());
    }
    let task = app
        .create_task_from_lines("create_core_profiles", &lines)
        .await;
    let status = app.wait_completed(task).await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(300), Some(3)),
        "{status}"
    );
    let errors = app.errors(task).await;
    let found: Vec<(u64, &str, &str)> = errors
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["errors"][0]["field"].as_str().unwrap(),
                e["errors"][0]["code"].as_str().unwrap(),
            )
        })
        .collect();
    let expected: Vec<(u64, &str, &str)> = bad
        .iter()
        .map(|(at, _, field)| (*at as u64, *field, "INVALID_VALUE"))
        .collect();
    assert_eq!(found, expected);
    assert_eq!(
        dead_letter_depth(
            &app.settings,
            userhub_domain::TaskAction::CreateCoreProfiles
        )
        .await,
        0,
        "nothing was dead-lettered"
    );
    app.stop().await;
}

#[tokio::test]
async fn exported_values_are_the_values_imported() {
    let app = TestApp::spawn().await;
    let custom = r#"{"big":1e308,"negative_zero":-0.0,"decimal":1.50,"huge_integer":123456789012345678901234567890,"o":{"x":null,"y":1},"arr":[1,{"k":null}],"text":"ü 漢字 \"q\" \\ \u001f","empty":"","flag":false}"#;
    let line = format!(
        r#"{{"identities":[{{"uid":"fidelity"}}],"custom_fields":{custom},"lifetime_value":"10.50","last_active_date":-86400000}}"#
    );
    let task = app
        .create_task_from_lines("create_core_profiles", &[line])
        .await;
    app.wait_completed(task).await;
    let results = app.results(task).await;
    let id = results[0]["core-profile-id"].clone();
    let exported = export(&app, std::slice::from_ref(&id)).await;
    assert_eq!(exported[0]["custom_fields"], exact(custom));
    // The text itself, not only the value: numbers keep their notation (`1e308`, `-0.0`).
    let text = app.results_ndjson(last_task(&app).await).await;
    assert!(
        text.contains(&format!("\"custom_fields\":{custom}")),
        "{text}"
    );
    assert_eq!(exported[0]["lifetime_value"], exact("10.50"));
    assert_eq!(exported[0]["last_active_date"], -86_400_000);

    let app_record = json!({"core-profile-id": id, "app_id": "game", "lifetime_value": "10.50", "app_rating": "4.50"});
    let (_, apps, errors) = app.run_task("create_app_profiles", &[app_record]).await;
    assert!(errors.is_empty(), "{errors:?}");
    let pid = apps[0]["pid"].clone();
    let (_, exported, _) = app
        .run_task("get_app_profiles", &[json!({"pid": pid})])
        .await;
    assert_eq!(exported[0]["lifetime_value"], exact("10.50"));
    assert_eq!(exported[0]["app_rating"], exact("4.50"));
    app.stop().await;
}

#[tokio::test]
async fn identity_metadata_keeps_its_types_and_notation_through_create_update_and_revert() {
    let app = TestApp::spawn().await;
    let line =
        r#"{"identities":[{"uid":"meta-1","rank":1E2,"vip":true,"source":"crm","score":-0.50}]}"#;
    let task = app
        .create_task_from_lines("create_core_profiles", &[line.to_owned()])
        .await;
    app.wait_completed(task).await;
    let id = app.results(task).await[0]["core-profile-id"].clone();
    export(&app, std::slice::from_ref(&id)).await;
    let text = app.results_ndjson(last_task(&app).await).await;
    assert!(
        text.contains(r#"{"rank":1E2,"score":-0.50,"source":"crm","vip":true,"uid":"meta-1"}"#),
        "numbers and booleans stay what they were: {text}"
    );
    // Re-adding the identity with other metadata replaces it; the revert restores the first.
    let update =
        format!(r#"{{"core-profile-id":{id},"identities":[{{"uid":"meta-1","rank":7.0}}]}}"#);
    let task = app
        .create_task_from_lines("update_core_profiles", &[update])
        .await;
    assert_eq!(app.wait_completed(task).await["failed"], 0);
    export(&app, std::slice::from_ref(&id)).await;
    let text = app.results_ndjson(last_task(&app).await).await;
    assert!(text.contains(r#"{"rank":7.0,"uid":"meta-1"}"#), "{text}");
    app.revert_completed(task).await;
    export(&app, std::slice::from_ref(&id)).await;
    let text = app.results_ndjson(last_task(&app).await).await;
    assert!(text.contains(r#""rank":1E2,"score":-0.50"#), "{text}");
    app.stop().await;
}

#[tokio::test]
async fn values_that_cannot_be_kept_exactly_are_refused_with_a_clear_reason() {
    let app = TestApp::spawn().await;
    let lines = [
        r#"{"identities":[{"uid":"a"}],"lifetime_value":"12345678901234567890123456789012345678901234567890123456789012345"}"#,
        r#"{"identities":[{"uid":"b"}],"lifetime_value":1e5}"#,
        r#"{"identities":[{"uid":"c"}],"age":99999999999999999999}"#,
        r#"{"identities":[{"uid":"d"}],"custom_fields":{"n":1e309}}"#,
    ]
    .map(str::to_owned);
    let task = app
        .create_task_from_lines("create_core_profiles", &lines)
        .await;
    app.wait_completed(task).await;
    let errors = app.errors(task).await;
    let found: Vec<(&str, &str)> = errors
        .iter()
        .map(|e| {
            (
                e["errors"][0]["code"].as_str().unwrap(),
                e["errors"][0]["message"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(found[0].0, "EXCEEDED_VALUE_LENGTH_LIMIT");
    assert!(
        found[0].1.contains("at most 64 characters"),
        "{}",
        found[0].1
    );
    assert_eq!(found[1].0, "INVALID_VALUE");
    assert!(found[1].1.contains("plain notation"), "{}", found[1].1);
    assert_eq!(found[2].0, "INVALID_VALUE");
    assert!(found[2].1.contains("between 1 and 149"), "{}", found[2].1);
    assert_eq!(found[3].0, "INVALID_VALUE");
    assert!(
        found[3].1.contains("1.7976931348623157e308"),
        "{}",
        found[3].1
    );
    app.stop().await;
}

#[tokio::test]
async fn updated_since_includes_its_whole_millisecond() {
    let app = TestApp::spawn().await;
    let (_, results, _) = app
        .run_task(
            "create_core_profiles",
            &[
                json!({"identities": [{"uid": "early"}]}),
                json!({"identities": [{"uid": "late"}]}),
            ],
        )
        .await;
    let early = results[0]["core-profile-id"].as_i64().unwrap();
    let late = results[1]["core-profile-id"].as_i64().unwrap();
    // Two updates inside one millisecond: 12.3451 s and 12.3459 s after some instant.
    app.execute(&format!(
        "UPDATE core_profiles SET updated_at = timestamptz '2026-01-01 00:00:12.345100+00' WHERE id = {early}"
    ))
    .await;
    app.execute(&format!(
        "UPDATE core_profiles SET updated_at = timestamptz '2026-01-01 00:00:12.345900+00' WHERE id = {late}"
    ))
    .await;
    let exported = export(&app, &[json!(early), json!(late)]).await;
    let newest = exported[1]["updated_at"].as_i64().unwrap();
    assert_eq!(
        exported[0]["updated_at"], newest,
        "both show the millisecond, rounded down"
    );
    let (_, since, _) = app
        .run_task("get_core_profiles", &[json!({"updated_since": newest})])
        .await;
    let ids: Vec<i64> = since
        .iter()
        .map(|p| p["core-profile-id"].as_i64().unwrap())
        .collect();
    assert_eq!(ids, vec![early, late], "the whole millisecond is included");
    app.stop().await;
}

#[tokio::test]
async fn a_failed_record_is_echoed_exactly_as_sent_on_one_line() {
    let app = TestApp::spawn().await;
    // A pretty-printed JSON array: the failed record spans lines, spells a letter as an
    // escape, writes a number with an exponent and repeats a key.
    let body = "{\"action\": \"create_core_profiles\", \"payload\": [\n  {\n    \"identities\": [],\n    \"last_city\": \"P\\u0075ne\",\n    \"age\": 1.50e1,\n    \"age\": 7\n  },\n  {\"identities\": [{\"uid\": \"echo-ok\"}]}\n]}";
    let response = app
        .authorized(app.client.post(app.tasks_url()))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let task_id = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    app.wait_completed(task_id).await;
    let text = app.errors_ndjson(task_id).await;
    let line = text.lines().next().expect("one error line");
    assert!(
        line.contains(r#""input":{"identities":[],"last_city":"P\u0075ne","age":1.50e1,"age":7}"#),
        "{line}"
    );
    assert_eq!(text.lines().count(), 1, "{text}");
    app.stop().await;
}
