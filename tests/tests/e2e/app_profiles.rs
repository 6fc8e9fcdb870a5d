//! App profiles: creation (one per core profile and app), update semantics and errors.

use serde_json::{Value, json};
use userhub_tests::TestApp;

async fn core_profiles(app: &TestApp, count: usize) -> Vec<u64> {
    let records: Vec<Value> = (0..count)
        .map(|n| json!({"identities": [{"uid": format!("core-{n}")}]}))
        .collect();
    let (_, results, _) = app.run_task("create_core_profiles", &records).await;
    results
        .iter()
        .map(|result| result["core-profile-id"].as_u64().unwrap())
        .collect()
}

async fn stored_app_profile(app: &TestApp, pid: &str) -> Value {
    let sql = format!(
        "SELECT custom_fields, user_persona, user_paying_segment, user_vip_segment, user_level, accepted_t_and_c,
                app_status, user_support_status, country, city, language, app_rating::text AS app_rating,
                lifetime_value::text AS lifetime_value
           FROM app_profiles WHERE pid = '{pid}'"
    );
    app.query_json(&sql).await[0].clone()
}

#[tokio::test]
async fn app_profiles_are_created_once_per_core_profile_and_app() {
    let app = TestApp::spawn().await;
    let cores = core_profiles(&app, 2).await;
    let records = [
        json!({"core-profile-id": cores[0], "app_id": "game", "user_level": 3, "country": "fr"}),
        json!({"core-profile-id": cores[0], "app_id": "chat"}),
        json!({"core-profile-id": cores[1], "app_id": "game"}),
        json!({"core-profile-id": cores[0], "app_id": "game"}),
        json!({"core-profile-id": 999_999_999_999_u64, "app_id": "game"}),
    ];
    let (status, results, errors) = app.run_task("create_app_profiles", &records).await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(3), Some(2)),
        "{errors:?}"
    );
    let game_pid = results[0]["pid"].as_str().unwrap().to_owned();
    assert!(game_pid.starts_with(&format!("{}_profile_", app.domain)));
    assert_eq!(game_pid.len(), app.domain.len() + "_profile_".len() + 40);
    assert_eq!(results[0]["core-profile-id"], cores[0]);
    assert_eq!(results[0]["app_id"], "game");
    assert_eq!(errors[0]["index"], 3);
    assert_eq!(errors[0]["errors"][0]["code"], "DUPLICATE_IN_PAYLOAD");
    assert_eq!(errors[1]["errors"][0]["code"], "NOT_FOUND");
    assert_eq!(errors[1]["errors"][0]["field"], "core-profile-id");
    let (_, _, again) = app
        .run_task(
            "create_app_profiles",
            &[json!({"core-profile-id": cores[0], "app_id": "game"})],
        )
        .await;
    assert_eq!(again[0]["errors"][0]["code"], "ALREADY_EXISTS");
    assert_eq!(again[0]["errors"][0]["details"]["pid"], game_pid.as_str());
    let count = app
        .query_json("SELECT count(*) AS n FROM app_profiles")
        .await;
    assert_eq!(count[0]["n"], 3);
    app.stop().await;
}

#[tokio::test]
async fn app_profile_updates_follow_the_core_profile_semantics() {
    let app = TestApp::spawn().await;
    let cores = core_profiles(&app, 1).await;
    let created = json!({
        "core-profile-id": cores[0], "app_id": "game",
        "custom_fields": {"level_name": "cave", "coins": 10},
        "user_persona": "explorer", "user_paying_segment": "whale", "user_vip_segment": "gold",
        "user_level": "12", "accepted_t_and_c": true, "app_status": "active",
        "user_support_status": "open", "country": "Germany", "city": "Berlin", "language": "de",
        "app_rating": "4.5", "lifetime_value": "99.90"
    });
    let (_, results, _) = app.run_task("create_app_profiles", &[created]).await;
    let pid = results[0]["pid"].as_str().unwrap().to_owned();
    let updates = [
        json!({"pid": pid, "city": null, "user_level": 13, "custom_fields": {"coins": null, "boss": "dragon"}}),
        json!({"pid": pid, "user_level": 14, "app_rating": 5}),
        json!({"pid": "nobody_profile_0000", "city": "x"}),
    ];
    let (status, results, errors) = app.run_task("update_app_profiles", &updates).await;
    assert_eq!(
        (status["succeeded"].as_i64(), status["failed"].as_i64()),
        (Some(2), Some(1))
    );
    assert_eq!(
        results[0]["updated_fields"],
        json!(["city", "custom_fields", "user_level"]),
        "the fields that changed, in alphabetical order"
    );
    assert_eq!(results[1]["pid"], pid.as_str());
    assert_eq!(errors[0]["errors"][0]["code"], "NOT_FOUND");
    assert_eq!(errors[0]["errors"][0]["field"], "pid");
    assert_eq!(
        stored_app_profile(&app, &pid).await,
        json!({
            "custom_fields": {"level_name": "cave", "boss": "dragon"},
            "user_persona": "explorer", "user_paying_segment": "whale", "user_vip_segment": "gold",
            "user_level": 14, "accepted_t_and_c": true, "app_status": "active",
            "user_support_status": "open", "country": "DE", "city": null, "language": "de",
            "app_rating": "5", "lifetime_value": "99.90"
        })
    );
    app.stop().await;
}
