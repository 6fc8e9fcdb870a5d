//! Dry runs (EXT): a write task with `dry_run=true` meets the real data and writes nothing —
//! a dump of the profile tables and the id sequence is the same before and after, no event is
//! published, no real id is drawn — and its results say what the same task then does for real.

use serde_json::{Value, json};
use std::collections::BTreeSet;
use userhub_tests::TestApp;
use userhub_tests::event_tap::EventTap;

/// The profile data as `pg_dump` writes it: profiles, identities, app profiles, the event
/// outbox and the profile id sequence.
fn dump(app: &TestApp) -> String {
    let output = std::process::Command::new("pg_dump")
        .args([
            "--data-only",
            "--no-owner",
            "-t",
            "core_profiles",
            "-t",
            "identities",
            "-t",
            "app_profiles",
            "-t",
            "profile_event_outbox",
            "-t",
            "core_profile_ids",
            &app.settings.database.url,
        ])
        .output()
        .expect("pg_dump runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Newer pg_dump fences its output with a random `\restrict` key per run.
    String::from_utf8(output.stdout)
        .unwrap()
        .lines()
        .filter(|line| !line.starts_with("\\restrict") && !line.starts_with("\\unrestrict"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// Runs a task with the given options; returns (status, results, errors).
async fn run(app: &TestApp, action: &str, options: Value, records: &[Value]) -> [Value; 3] {
    let task = app.create_task_with(action, options, records).await;
    let status = app.wait_completed(task).await;
    [
        status,
        Value::from(app.results(task).await),
        Value::from(app.errors(task).await),
    ]
}

/// Every error entry as (index, [(field, code)]).
fn error_codes(errors: &Value) -> Vec<(u64, Vec<(String, String)>)> {
    errors
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            let codes = entry["errors"]
                .as_array()
                .unwrap()
                .iter()
                .map(|error| {
                    (
                        error["field"].as_str().unwrap().to_owned(),
                        error["code"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            (entry["index"].as_u64().unwrap(), codes)
        })
        .collect()
}

fn entry(results: &Value, index: u64) -> &Value {
    results
        .as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["index"] == index)
        .unwrap_or_else(|| panic!("no result {index} in {results}"))
}

#[tokio::test]
async fn a_dry_run_writes_nothing_and_says_what_the_real_run_then_does() {
    let app = TestApp::spawn().await;
    let mut tap = EventTap::bind(&app, "#").await;
    let seed = [
        json!({"identities": [{"uid": "a"}, {"email": "a@example.com"}], "last_city": "Rome", "tags": ["t"]}),
        json!({"identities": [{"uid": "b"}], "age": 40}),
    ];
    let (_, seeded, _) = app.run_task("create_core_profiles", &seed).await;
    let a = seeded[0]["core-profile-id"].as_i64().unwrap();
    let b = seeded[1]["core-profile-id"].as_i64().unwrap();
    let (_, apps, _) = app
        .run_task(
            "create_app_profiles",
            &[json!({"core-profile-id": a, "app_id": "game", "user_level": 3})],
        )
        .await;
    let pid = apps[0]["pid"].as_str().unwrap().to_owned();
    tap.events(&app).await;

    let creates = [
        json!({"identities": [{"uid": "c"}], "last_city": "Oslo"}),
        json!({"identities": [{"uid": "a"}]}),
        json!({"identities": [{"uid": "c"}]}),
    ];
    let updates = [
        json!({"core-profile-id": a, "last_city": "Paris", "tags": null}),
        json!({"core-profile-id": 999, "age": 1}),
        json!({"core-profile-id": b, "age": 40}),
    ];
    let upserts = [
        json!({"identities": [{"email": "A@example.com"}], "user_persona": "gamer"}),
        json!({"identities": [{"email": "new@example.com"}]}),
    ];
    let app_updates = [json!({"pid": pid, "user_level": 5})];
    let tasks = [
        ("create_core_profiles", json!({}), &creates[..]),
        ("update_core_profiles", json!({}), &updates[..]),
        (
            "upsert_core_profiles",
            json!({"match_by": "email"}),
            &upserts[..],
        ),
        ("update_app_profiles", json!({}), &app_updates[..]),
    ];

    let before = dump(&app);
    let mut dry = Vec::new();
    for (action, options, records) in &tasks {
        let mut options = options.clone();
        options["dry_run"] = json!(true);
        let [status, results, errors] = run(&app, action, options, records).await;
        assert_eq!(status["dry_run"], true, "{status}");
        dry.push((results, errors));
    }
    assert_eq!(dump(&app), before, "a dry run leaves the data as it was");
    assert!(
        tap.events(&app).await.is_empty(),
        "a dry run publishes no event"
    );

    // The same tasks for real.
    let mut real = Vec::new();
    for (action, options, records) in &tasks {
        let [status, results, errors] = run(&app, action, options.clone(), records).await;
        assert!(status.get("dry_run").is_none(), "{status}");
        real.push((results, errors));
    }
    for ((dry_results, dry_errors), (real_results, real_errors)) in dry.iter().zip(&real) {
        assert_eq!(error_codes(dry_errors), error_codes(real_errors));
        assert_eq!(
            dry_results.as_array().unwrap().len(),
            real_results.as_array().unwrap().len()
        );
    }
    let (created, _) = &dry[0];
    assert_eq!(
        entry(created, 0),
        &json!({"index": 0, "dry_run": "would_create"})
    );
    let (updated, _) = &dry[1];
    assert_eq!(
        entry(updated, 0),
        &json!({"index": 0, "dry_run": "would_update", "core-profile-id": a,
            "changes": {"last_city": {"old": "Rome", "new": "Paris"},
                        "tags": {"old": ["t"], "new": null}}})
    );
    assert_eq!(
        entry(updated, 2),
        &json!({"index": 2, "dry_run": "would_change_nothing", "core-profile-id": b})
    );
    // The fields a dry run names are the fields the real run changed, to the values it named.
    let (real_updated, _) = &real[1];
    let named: BTreeSet<&str> = entry(updated, 0)["changes"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    let changed: BTreeSet<&str> = entry(real_updated, 0)["updated_fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|field| field.as_str().unwrap())
        .collect();
    assert_eq!(named, changed);
    let (_, exported, _) = app
        .run_task("get_core_profiles", &[json!({"core-profile-id": a})])
        .await;
    assert_eq!(exported[0]["last_city"], "Paris");
    assert!(exported[0].get("tags").is_none(), "{}", exported[0]);
    let (upserted, _) = &dry[2];
    assert_eq!(entry(upserted, 0)["dry_run"], "would_update");
    assert_eq!(
        entry(upserted, 0)["changes"]["user_persona"],
        json!({"old": null, "new": "gamer"})
    );
    assert_eq!(entry(upserted, 1)["dry_run"], "would_create");
    let (real_upserted, _) = &real[2];
    assert_eq!(entry(real_upserted, 0)["result"], "updated");
    assert_eq!(entry(real_upserted, 1)["result"], "created");
    let (app_updated, _) = &dry[3];
    assert_eq!(
        entry(app_updated, 0),
        &json!({"index": 0, "dry_run": "would_update", "pid": pid,
            "changes": {"user_level": {"old": 3, "new": 5}}})
    );
    assert_ne!(dump(&app), before, "the real runs wrote");
    tap.close().await;
    app.stop().await;
}

#[tokio::test]
async fn dry_run_is_refused_for_reads_and_accepted_as_a_query_parameter() {
    let app = TestApp::spawn().await;
    let response = app
        .authorized(app.client.post(app.tasks_url()).json(&json!({
            "action": "get_core_profiles", "payload": [{"core-profile-id": 1}], "dry_run": true
        })))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"]["code"], "INVALID_OPTION", "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("dry_run"),
        "{body}"
    );

    let url = format!("{}?dry_run=true", app.tasks_url());
    let response = app
        .authorized(app.client.post(url).json(&json!({
            "action": "create_core_profiles", "payload": [{"identities": [{"uid": "q"}]}]
        })))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201);
    let task = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let status = app.wait_completed(task).await;
    assert_eq!(status["dry_run"], true);
    assert_eq!(app.results(task).await[0]["dry_run"], "would_create");
    let stored = app
        .query_json("SELECT count(*) AS n FROM core_profiles")
        .await;
    assert_eq!(stored[0]["n"], 0);
    app.stop().await;
}
