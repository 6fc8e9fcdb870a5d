//! Update semantics of the contract §5.3: present replaces, absent untouched, `null` clears,
//! `names`/`custom_fields` merge per key, `tags` replace, identities are added; several updates
//! of one profile in one task apply in input order.

use serde_json::{Value, json};
use userhub_tests::TestApp;
use userhub_tests::fixtures::full_profile;

const PROFILE_COLUMNS: &str = "names, tags, custom_fields, full_privacy_enabled, last_country, last_city, age, \
    lifetime_value::text AS lifetime_value, user_persona, user_vip_segment, user_support_status, accepted_t_and_c, \
    preferred_language, last_active_date";

async fn profile(app: &TestApp, id: u64) -> Value {
    let rows = app
        .query_json(&format!(
            "SELECT {PROFILE_COLUMNS} FROM core_profiles WHERE id = {id}"
        ))
        .await;
    rows[0].clone()
}

async fn identities(app: &TestApp, id: u64) -> Value {
    app.query_json(&format!(
        "SELECT kind, value FROM identities WHERE core_profile_id = {id} ORDER BY kind, value"
    ))
    .await
}

async fn create_full_profile(app: &TestApp) -> u64 {
    let (_, results, _) = app
        .run_task("create_core_profiles", &[full_profile(1)])
        .await;
    results[0]["core-profile-id"].as_u64().unwrap()
}

#[tokio::test]
async fn absent_fields_stay_null_clears_and_maps_merge_per_key() {
    let app = TestApp::spawn().await;
    let id = create_full_profile(&app).await;
    let before = profile(&app, id).await;
    let update = json!({
        "core-profile-id": id.to_string(),
        "last_city": null,
        "age": 37,
        "names": {"first_name": "Augusta", "display_name": null},
        "custom_fields": {"seats": null, "region": "emea"},
        "tags": ["new"],
        "identities": [{"steam_id": "steam-1"}]
    });
    let (status, results, errors) = app.run_task("update_core_profiles", &[update]).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(status["outcome"], "succeeded");
    assert_eq!(results[0]["core-profile-id"], id);
    assert_eq!(
        results[0]["updated_fields"],
        json!([
            "age",
            "custom_fields",
            "identities",
            "last_city",
            "names",
            "tags"
        ]),
        "every field that changed, in alphabetical order"
    );
    let after = profile(&app, id).await;
    let mut expected = before.clone();
    expected["last_city"] = Value::Null;
    expected["age"] = json!(37);
    expected["names"] = json!({"first_name": "Augusta", "last_name": "Lovelace 1"});
    expected["custom_fields"] = json!({"plan": "gold", "trial": false, "region": "emea"});
    expected["tags"] = json!(["new"]);
    assert_eq!(after, expected, "only the named fields changed");
    assert_eq!(
        identities(&app, id).await,
        json!([
            {"kind": "email", "value": "User.1@Example.com"},
            {"kind": "phone_number", "value": "+1 (555) 010-0001"},
            {"kind": "steam_id", "value": "steam-1"},
            {"kind": "uid", "value": "user-1"}
        ]),
        "identities are a union"
    );
    app.stop().await;
}

#[tokio::test]
async fn null_maps_and_tags_clear_them_entirely() {
    let app = TestApp::spawn().await;
    let id = create_full_profile(&app).await;
    let update = json!({"core-profile-id": id, "names": null, "custom_fields": null, "tags": null, "lifetime_value": null});
    let (_, _, errors) = app.run_task("update_core_profiles", &[update]).await;
    assert!(errors.is_empty(), "{errors:?}");
    let after = profile(&app, id).await;
    assert_eq!(after["names"], Value::Null);
    assert_eq!(after["custom_fields"], Value::Null);
    assert_eq!(after["tags"], Value::Null);
    assert_eq!(after["lifetime_value"], Value::Null);
    assert_eq!(after["last_city"], "Berlin");
    app.stop().await;
}

#[tokio::test]
async fn several_updates_of_one_profile_apply_in_input_order_across_chunks() {
    let app = TestApp::spawn_with(|settings| settings.gateway.chunk_records = 3).await;
    let (_, created, _) = app
        .run_task(
            "create_core_profiles",
            &(0..5)
                .map(|n| json!({"identities": [{"uid": format!("p{n}")}]}))
                .collect::<Vec<_>>(),
        )
        .await;
    let ids: Vec<u64> = created
        .iter()
        .map(|r| r["core-profile-id"].as_u64().unwrap())
        .collect();
    let mut updates = Vec::new();
    for round in 0..10 {
        for (n, id) in ids.iter().enumerate() {
            updates.push(json!({
                "core-profile-id": id,
                "age": round * 10 + n + 1,
                "custom_fields": {format!("round{round}"): round},
                "names": {"first_name": format!("name-{round}")}
            }));
        }
    }
    updates.push(json!({"core-profile-id": ids[0], "custom_fields": {"round3": null}}));
    let (status, results, _) = app.run_task("update_core_profiles", &updates).await;
    assert_eq!(status["succeeded"], 51);
    assert_eq!(results.len(), 51);
    for (n, id) in ids.iter().enumerate() {
        let stored = profile(&app, *id).await;
        assert_eq!(
            stored["age"],
            90 + n + 1,
            "the last update of profile {n} wins"
        );
        assert_eq!(stored["names"], json!({"first_name": "name-9"}));
        let expected_fields = if n == 0 { 9 } else { 10 };
        assert_eq!(
            stored["custom_fields"].as_object().unwrap().len(),
            expected_fields,
            "merged over all rounds"
        );
    }
    let chunks = app
        .query_json("SELECT count(*) AS n FROM task_chunks")
        .await;
    assert!(
        chunks[0]["n"].as_i64().unwrap() > 1,
        "the task was split into several chunks"
    );
    app.stop().await;
}

#[tokio::test]
async fn custom_fields_may_not_grow_past_thirty_by_merging() {
    let app = TestApp::spawn().await;
    let fields: serde_json::Map<String, Value> =
        (0..25).map(|i| (format!("f{i}"), json!(i))).collect();
    let (_, created, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "many"}], "custom_fields": fields})],
        )
        .await;
    let id = created[0]["core-profile-id"].as_u64().unwrap();
    let more: serde_json::Map<String, Value> =
        (25..31).map(|i| (format!("f{i}"), json!(i))).collect();
    let (_, _, errors) = app
        .run_task(
            "update_core_profiles",
            &[json!({"core-profile-id": id, "custom_fields": more})],
        )
        .await;
    assert_eq!(errors[0]["errors"][0]["code"], "EXCEEDED_COUNT_LIMIT");
    let stored = profile(&app, id).await;
    assert_eq!(stored["custom_fields"].as_object().unwrap().len(), 25);
    app.stop().await;
}
