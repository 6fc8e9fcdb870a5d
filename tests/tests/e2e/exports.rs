//! Exports: whole profiles by id and by selector, field by field as written, in NDJSON too,
//! never crossing tenants.

use serde_json::{Value, json};
use std::io::Read;
use userhub_tests::TestApp;
use userhub_tests::fixtures::full_profile;

/// The fields an export shows, without timestamps.
fn without_timestamps(mut profile: Value) -> Value {
    let object = profile.as_object_mut().unwrap();
    for key in ["index", "line", "created_at", "updated_at"] {
        object.remove(key);
    }
    profile
}

#[tokio::test]
async fn a_round_trip_exports_exactly_what_was_written() {
    let app = TestApp::spawn().await;
    let (_, created, _) = app
        .run_task(
            "create_core_profiles",
            &[full_profile(1), json!({"identities": [{"uid": "plain"}]})],
        )
        .await;
    let rich = created[0]["core-profile-id"].as_u64().unwrap();
    let plain = created[1]["core-profile-id"].as_u64().unwrap();
    let (_, apps, _) = app
        .run_task(
            "create_app_profiles",
            &[
                json!({"core-profile-id": rich, "app_id": "game", "user_level": 1, "custom_fields": {"a": 1}, "language": "en"}),
                json!({"core-profile-id": rich, "app_id": "chat", "app_status": "new"}),
            ],
        )
        .await;
    let game = apps[0]["pid"].as_str().unwrap().to_owned();
    let chat = apps[1]["pid"].as_str().unwrap().to_owned();
    app.run_task(
        "update_core_profiles",
        &[json!({"core-profile-id": rich, "last_city": null, "names": {"display_name": null}, "custom_fields": {"seats": 4}, "age": 40})],
    )
    .await;
    app.run_task(
        "update_app_profiles",
        &[json!({"pid": game, "user_level": 2, "language": null, "app_rating": "3.5"})],
    )
    .await;

    let (status, by_id, errors) = app
        .run_task(
            "get_core_profiles",
            &[
                json!({"core-profile-id": rich}),
                json!({"core-profile-id": 424242}),
            ],
        )
        .await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(1), Some(1))
    );
    assert_eq!(errors[0]["errors"][0]["code"], "NOT_FOUND");
    assert_eq!(by_id[0]["index"], 0);
    assert!(
        by_id[0]["created_at"].as_i64().unwrap() > 1_700_000_000_000,
        "epoch milliseconds"
    );
    let mut expected_apps = vec![chat.clone(), game.clone()];
    expected_apps.sort_by_key(|pid| if *pid == chat { 0 } else { 1 });
    assert_eq!(
        without_timestamps(by_id[0].clone()),
        json!({
            "core-profile-id": rich,
            "identities": [
                {"email": "User.1@Example.com", "verified": "true"},
                {"phone_number": "+1 (555) 010-0001"},
                {"uid": "user-1"}
            ],
            "names": {"first_name": "Ada", "last_name": "Lovelace 1"},
            "tags": ["vip", "beta"],
            "custom_fields": {"plan": "gold", "seats": 4, "trial": false},
            "full_privacy_enabled": false,
            "last_country": "DE",
            "age": 40,
            "lifetime_value": serde_json::from_str::<Value>("1234.50").unwrap(),
            "user_persona": "builder",
            "user_vip_segment": "platinum",
            "user_support_status": "active",
            "accepted_t_and_c": true,
            "preferred_language": "en",
            "last_active_date": 1742792448000_i64,
            "app_profiles": expected_apps
        })
    );
    let (_, all, _) = app
        .run_task("get_core_profiles", &[json!({"all": true})])
        .await;
    assert_eq!(all.len(), 2);
    assert_eq!(
        without_timestamps(all[0].clone()),
        without_timestamps(by_id[0].clone())
    );
    assert_eq!(all[1]["core-profile-id"], plain);
    assert_eq!(all[1]["identities"], json!([{"uid": "plain"}]));
    assert!(all[1].get("names").is_none(), "unset fields are left out");

    let (_, app_exports, _) = app
        .run_task("get_app_profiles", &[json!({"pid": game})])
        .await;
    assert_eq!(
        without_timestamps(app_exports[0].clone()),
        json!({
            "pid": game, "app_id": "game", "core-profile-id": rich,
            "custom_fields": {"a": 1}, "user_level": 2, "app_rating": 3.5
        })
    );
    let (_, all_apps, _) = app
        .run_task("get_app_profiles", &[json!({"all": true})])
        .await;
    assert_eq!(all_apps.len(), 2);
    app.stop().await;
}

#[tokio::test]
async fn selectors_pick_by_update_time_and_by_identity() {
    let app = TestApp::spawn().await;
    let (_, first, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"email": "old@x.io"}]})],
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let since = app
        .query_json("SELECT (extract(epoch FROM now()) * 1000)::bigint AS ms")
        .await[0]["ms"]
        .as_i64()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let (_, second, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"email": "New@x.io"}]})],
        )
        .await;
    let (status, recent, _) = app
        .run_task("get_core_profiles", &[json!({"updated_since": since})])
        .await;
    assert_eq!(status["total"], 1);
    assert_eq!(recent[0]["core-profile-id"], second[0]["core-profile-id"]);
    let (_, found, _) = app
        .run_task(
            "get_core_profiles",
            &[json!({"identity": {"email": "OLD@x.io"}})],
        )
        .await;
    assert_eq!(found[0]["core-profile-id"], first[0]["core-profile-id"]);
    let (status, none, errors) = app
        .run_task(
            "get_core_profiles",
            &[json!({"identity": {"email": "nobody@x.io"}})],
        )
        .await;
    assert_eq!(
        (status["total"].as_i64(), status["outcome"].as_str()),
        (Some(0), Some("succeeded"))
    );
    assert!(none.is_empty() && errors.is_empty());
    let mixed = app
        .post_jsonl(
            "get_core_profiles",
            "{\"all\":true}\n{\"core-profile-id\":1}\n",
        )
        .await;
    assert_eq!(mixed.status(), 400);
    app.stop().await;
}

#[tokio::test]
async fn a_selector_export_is_split_into_parallel_chunks_in_id_order() {
    let app = TestApp::spawn_with(|settings| settings.worker.export_chunk_records = 7).await;
    let records: Vec<Value> = (0..50)
        .map(|n| json!({"identities": [{"uid": format!("u{n:02}")}]}))
        .collect();
    app.run_task("create_core_profiles", &records).await;
    let (status, all, _) = app
        .run_task("get_core_profiles", &[json!({"all": true})])
        .await;
    assert_eq!(
        (status["total"].as_i64(), status["succeeded"].as_i64()),
        (Some(50), Some(50))
    );
    let ids: Vec<u64> = all
        .iter()
        .map(|p| p["core-profile-id"].as_u64().unwrap())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted, "exported in id order");
    assert_eq!(
        all.iter()
            .map(|p| p["index"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        (0..50).collect::<Vec<_>>()
    );
    let chunks = app
        .query_json(
            "SELECT count(*) AS n FROM task_chunks WHERE task_id = (SELECT max(id) FROM tasks)",
        )
        .await;
    assert_eq!(
        chunks[0]["n"],
        1 + 8,
        "the plan and ceil(50 / 7) export chunks"
    );
    app.stop().await;
}

#[tokio::test]
async fn exports_never_cross_tenants() {
    let app = TestApp::spawn().await;
    let (_, mine, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "mine"}]})],
        )
        .await;
    let other_key = app.create_domain_with_key("other-co", false).await;
    let other_url = format!("{}/v2/other-co/identity/bulk_actions", app.base_url);
    let form = |payload: String| {
        vec![
            ("action".to_owned(), "get_core_profiles".to_owned()),
            ("payload".to_owned(), payload),
        ]
    };
    let foreign_id = mine[0]["core-profile-id"].as_u64().unwrap();
    let response = app
        .client
        .post(&other_url)
        .bearer_auth(&other_key)
        .form(&form(format!("[{{\"core-profile-id\": {foreign_id}}}]")))
        .send()
        .await
        .unwrap();
    let task_id = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let errors_url = format!("{other_url}/{task_id}/errors");
    let status_url = format!("{other_url}/{task_id}");
    for _ in 0..600 {
        let status: Value = app
            .client
            .get(&status_url)
            .bearer_auth(&other_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["state"] == "completed" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let zip = app
        .client
        .get(&errors_url)
        .bearer_auth(&other_key)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    let errors: Vec<Value> = serde_json::from_slice(&userhub_tests::unzip(&zip)[0].1).unwrap();
    assert_eq!(
        errors[0]["errors"][0]["code"], "NOT_FOUND",
        "another domain's id behaves as unknown"
    );
    let response = app
        .client
        .post(&other_url)
        .bearer_auth(&other_key)
        .form(&form("[{\"all\": true}]".to_owned()))
        .send()
        .await
        .unwrap();
    let task_id = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    for _ in 0..600 {
        let status: Value = app
            .client
            .get(format!("{other_url}/{task_id}"))
            .bearer_auth(&other_key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if status["state"] == "completed" {
            assert_eq!(status["total"], 0, "the other domain has no profiles");
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    app.stop().await;
}

#[tokio::test]
async fn results_stream_as_ndjson_and_gzip_when_asked() {
    let app = TestApp::spawn().await;
    let records: Vec<Value> = (0..30)
        .map(|n| json!({"identities": [{"uid": format!("n{n}")}]}))
        .collect();
    let task_id = app.create_task("create_core_profiles", &records).await;
    app.wait_completed(task_id).await;
    let url = format!("{}/results", app.task_url(task_id));
    let plain = app
        .authorized(app.client.get(&url))
        .header("accept", "application/x-ndjson")
        .send()
        .await
        .unwrap();
    assert_eq!(plain.headers()["content-type"], "application/x-ndjson");
    let text = plain.text().await.unwrap();
    let lines: Vec<Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    assert_eq!(lines.len(), 30);
    assert_eq!(lines[29]["index"], 29);
    let gzipped = app
        .authorized(app.client.get(format!("{url}?format=ndjson")))
        .header("accept-encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let bytes = gzipped.bytes().await.unwrap();
    let mut decoded = String::new();
    flate2::read::GzDecoder::new(&bytes[..])
        .read_to_string(&mut decoded)
        .unwrap();
    assert_eq!(decoded, text);
    let before = app
        .authorized(app.client.get(format!("{}/errors", app.task_url(task_id))))
        .send()
        .await
        .unwrap();
    assert_eq!(before.status(), 200);
    app.stop().await;
}
