//! Reverting a task (EXT): `POST .../{task_id}/revert` makes a `revert_profiles` task that
//! deletes the profiles a create made and gives the profiles an update changed back their exact
//! values, identities and app profiles; a profile a later task changed fails with `CONFLICT`
//! naming that task; events are published for what the revert changed; before-images expire.

use serde_json::{Value, json};
use std::time::Duration;
use userhub_tests::TestApp;
use userhub_tests::event_tap::EventTap;

async fn revert(app: &TestApp, task_id: u64) -> (u16, Value) {
    let url = format!("{}/revert", app.task_url(task_id));
    let response = app.authorized(app.client.post(url)).send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

/// Reverts `task_id` and waits for the revert task: its status, results and errors.
async fn run_revert(app: &TestApp, task_id: u64) -> (Value, Vec<Value>, Vec<Value>) {
    let (code, created) = revert(app, task_id).await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["parent_task_id"], task_id);
    let child = created["task_id"].as_u64().unwrap();
    let status = app.wait_completed(child).await;
    assert_eq!(status["action"], "revert_profiles");
    assert_eq!(status["parent_task_id"], task_id);
    (status, app.results(child).await, app.errors(child).await)
}

/// The profiles as an export shows them, without `updated_at` (a revert is a change).
async fn export(app: &TestApp, ids: &[i64]) -> Vec<Value> {
    let records: Vec<Value> = ids
        .iter()
        .map(|id| json!({"core-profile-id": id}))
        .collect();
    let (_, mut results, errors) = app.run_task("get_core_profiles", &records).await;
    assert!(errors.is_empty(), "{errors:?}");
    for result in &mut results {
        result.as_object_mut().unwrap().remove("updated_at");
    }
    results
}

async fn export_app(app: &TestApp, pid: &str) -> Vec<Value> {
    let (_, mut results, errors) = app
        .run_task("get_app_profiles", &[json!({"pid": pid})])
        .await;
    assert!(errors.is_empty(), "{errors:?}");
    for result in &mut results {
        result.as_object_mut().unwrap().remove("updated_at");
    }
    results
}

fn id_of(result: &Value) -> i64 {
    result["core-profile-id"].as_i64().unwrap()
}

async fn count(app: &TestApp, sql: &str) -> i64 {
    app.query_json(sql).await[0]["n"].as_i64().unwrap()
}

#[tokio::test]
async fn reverting_a_create_deletes_its_profiles_with_their_identities_and_publishes_deletions() {
    let app = TestApp::spawn().await;
    let (_, kept, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "kept"}]})],
        )
        .await;
    let kept = id_of(&kept[0]);
    let mut tap = EventTap::bind(&app, "#").await;
    tap.events(&app).await;
    let (status, created, errors) = app
        .run_task(
            "create_core_profiles",
            &[
                json!({"identities": [{"uid": "r-1"}, {"email": "R1@x.example"}], "age": 4}),
                json!({"identities": [{"uid": "kept"}]}),
                json!({"identities": [{"uid": "r-2"}], "tags": ["a"]}),
            ],
        )
        .await;
    assert_eq!(errors.len(), 1, "the taken uid fails");
    let task = status["task_id"].as_u64().unwrap();
    let made: Vec<i64> = created.iter().map(id_of).collect();
    assert_eq!(tap.events(&app).await.len(), 2);

    let (status, results, errors) = run_revert(&app, task).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(status["succeeded"], 2);
    let mut reverted: Vec<i64> = results.iter().map(id_of).collect();
    reverted.sort_unstable();
    assert_eq!(reverted, made);
    assert!(results.iter().all(|result| result["reverted"] == "deleted"));
    let left = count(&app, "SELECT count(*) AS n FROM core_profiles").await;
    assert_eq!(left, 1, "only the profile of the earlier task stays");
    let identities = app
        .query_json("SELECT core_profile_id AS id FROM identities")
        .await;
    assert_eq!(identities, json!([{"id": kept}]));

    let events = tap.events(&app).await;
    let mut deleted: Vec<i64> = events
        .iter()
        .filter(|event| event["action"] == "deleted")
        .map(id_of)
        .collect();
    deleted.sort_unstable();
    assert_eq!(deleted, made, "{events:?}");
    assert_eq!(events.len(), 2, "{events:?}");

    // The identities are free again.
    let (_, again, errors) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "r-1"}, {"email": "r1@x.example"}]})],
        )
        .await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(again.len(), 1);
    tap.close().await;
    app.stop().await;
}

#[tokio::test]
async fn reverting_an_update_gives_back_the_exact_values_identities_and_app_profiles() {
    let app = TestApp::spawn().await;
    // Raw text: numbers keep their exact spelling (1.50, 10.50, a 23-digit integer).
    let lines = [
        r#"{"identities":[{"uid":"u-1"}],"names":{"first_name":"Ada"},"tags":["x","y"],"custom_fields":{"score":1.50,"plan":"gold","n":10000000000000000000001},"lifetime_value":10.50,"last_city":"Oslo","age":40}"#.to_owned(),
        r#"{"identities":[{"uid":"u-2"}],"age":7}"#.to_owned(),
    ];
    let create = app
        .create_task_from_lines("create_core_profiles", &lines)
        .await;
    app.wait_completed(create).await;
    let created = app.results(create).await;
    assert!(
        app.errors(create).await.is_empty(),
        "{:?}",
        app.errors(create).await
    );
    let ids: Vec<i64> = created.iter().map(id_of).collect();
    let (_, apps, _) = app
        .run_task(
            "create_app_profiles",
            &[json!({"core-profile-id": ids[1], "app_id": "game", "user_level": 3})],
        )
        .await;
    let pid = apps[0]["pid"].as_str().unwrap().to_owned();
    let before = export(&app, &ids).await;
    let app_before = export_app(&app, &pid).await;

    let (status, _, errors) = app
        .run_task(
            "update_core_profiles",
            &[
                json!({
                    "core-profile-id": ids[0],
                    "identities": [{"email": "ada@x.example"}],
                    "names": {"first_name": "Eve", "last_name": "Ève"},
                    "tags": ["z"],
                    "custom_fields": {"score": 2, "plan": null},
                    "lifetime_value": null,
                    "last_city": "Rome"
                }),
                json!({"core-profile-id": ids[1], "age": 7}),
            ],
        )
        .await;
    assert!(errors.is_empty(), "{errors:?}");
    let update = status["task_id"].as_u64().unwrap();
    let (status, _, errors) = app
        .run_task(
            "update_app_profiles",
            &[json!({"pid": pid, "user_level": 9, "country": "NO"})],
        )
        .await;
    assert!(errors.is_empty(), "{errors:?}");
    let app_update = status["task_id"].as_u64().unwrap();
    assert_ne!(export(&app, &ids).await, before);

    let mut tap = EventTap::bind(&app, "#").await;
    // The updates' own events may still be on their way: take them first.
    tap.events(&app).await;
    let (status, results, errors) = run_revert(&app, update).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        status["total"], 1,
        "the record that changed nothing needs no revert"
    );
    assert_eq!(results[0]["reverted"], "restored");
    assert_eq!(
        results[0]["restored_fields"],
        json!([
            "custom_fields",
            "identities",
            "last_city",
            "lifetime_value",
            "names",
            "tags"
        ])
    );
    let (_, _, errors) = run_revert(&app, app_update).await;
    assert!(errors.is_empty(), "{errors:?}");
    assert_eq!(
        export(&app, &ids).await,
        before,
        "exactly the values before"
    );
    let app_after = export_app(&app, &pid).await;
    assert_eq!(app_after, app_before);
    let events = tap.events(&app).await;
    let core: Vec<&Value> = events.iter().filter(|e| e.get("pid").is_none()).collect();
    assert_eq!(core.len(), 1, "{events:?}");
    assert_eq!(core[0]["action"], "updated");
    assert_eq!(core[0]["changed_fields"], results[0]["restored_fields"]);
    let app_events: Vec<&Value> = events.iter().filter(|e| e.get("pid").is_some()).collect();
    assert_eq!(app_events.len(), 1, "{events:?}");
    assert_eq!(
        app_events[0]["changed_fields"],
        json!(["country", "user_level"])
    );
    tap.close().await;

    // The identity the update added is free for another profile.
    let (_, _, errors) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"email": "ada@x.example"}]})],
        )
        .await;
    assert!(errors.is_empty(), "{errors:?}");
    app.stop().await;
}

#[tokio::test]
async fn an_upsert_revert_deletes_what_it_created_and_restores_what_it_matched() {
    let app = TestApp::spawn().await;
    let (_, created, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "old"}], "last_city": "Oslo"})],
        )
        .await;
    let old = id_of(&created[0]);
    let before = export(&app, &[old]).await;
    let upsert = app
        .create_task_with(
            "upsert_core_profiles",
            json!({"match_by": "uid"}),
            &[
                // One identity statement adds to the matched profile and to a new one.
                json!({"identities": [{"uid": "old"}, {"email": "o@x.example"}], "last_city": "Lima"}),
                json!({"identities": [{"uid": "new"}, {"email": "n@x.example"}], "last_city": "Pune"}),
            ],
        )
        .await;
    app.wait_completed(upsert).await;
    let (_, results, errors) = run_revert(&app, upsert).await;
    assert!(errors.is_empty(), "{errors:?}");
    let outcomes: Vec<(i64, &str)> = results
        .iter()
        .map(|r| (id_of(r), r["reverted"].as_str().unwrap()))
        .collect();
    assert!(outcomes.contains(&(old, "restored")), "{outcomes:?}");
    assert!(
        outcomes
            .iter()
            .any(|(id, what)| *id != old && *what == "deleted"),
        "{outcomes:?}"
    );
    assert_eq!(export(&app, &[old]).await, before);
    let profiles = count(&app, "SELECT count(*) AS n FROM core_profiles").await;
    assert_eq!(profiles, 1);
    let identities = count(&app, "SELECT count(*) AS n FROM identities").await;
    assert_eq!(identities, 1, "only the matched profile's uid is left");
    app.stop().await;
}

#[tokio::test]
async fn a_profile_a_later_task_changed_fails_with_conflict_naming_that_task() {
    let app = TestApp::spawn().await;
    let (_, created, _) = app
        .run_task(
            "create_core_profiles",
            &[
                json!({"identities": [{"uid": "p"}], "age": 1}),
                json!({"identities": [{"uid": "q"}], "age": 1}),
            ],
        )
        .await;
    let (p, q) = (id_of(&created[0]), id_of(&created[1]));
    let (status, _, _) = app
        .run_task(
            "update_core_profiles",
            &[
                json!({"core-profile-id": p, "age": 2}),
                json!({"core-profile-id": q, "age": 2}),
            ],
        )
        .await;
    let first = status["task_id"].as_u64().unwrap();
    let (status, _, _) = app
        .run_task(
            "update_core_profiles",
            &[json!({"core-profile-id": p, "last_city": "Kyiv"})],
        )
        .await;
    let later = status["task_id"].as_u64().unwrap();

    let (status, results, errors) = run_revert(&app, first).await;
    let revert_task = status["task_id"].as_u64().unwrap();
    assert_eq!(
        (status["succeeded"].clone(), status["failed"].clone()),
        (json!(1), json!(1))
    );
    assert_eq!(id_of(&results[0]), q);
    assert_eq!(errors[0]["input"]["core-profile-id"], p);
    let error = &errors[0]["errors"][0];
    assert_eq!(error["code"], "CONFLICT");
    assert_eq!(
        error["details"]["changed_by_task_id"],
        json!(later),
        "a JSON integer"
    );
    assert_eq!(
        error["details"]["reverted_task_id"],
        json!(first),
        "a JSON integer"
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains(&later.to_string()),
        "{error}"
    );
    let ages = export(&app, &[p, q]).await;
    assert_eq!(ages[0]["age"], 2, "the conflicting profile is untouched");
    assert_eq!(ages[0]["last_city"], "Kyiv");
    assert_eq!(ages[1]["age"], 1);

    // A second revert of the same task is refused, naming the first.
    let (code, refused) = revert(&app, first).await;
    assert_eq!(code, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "ALREADY_REVERTED", "{refused}");
    assert_eq!(
        refused["error"]["details"]["revert_task_id"],
        json!(revert_task),
        "a JSON integer"
    );

    // Reverting the later task first, then retrying the conflict, undoes both.
    let (_, _, errors) = run_revert(&app, later).await;
    assert!(errors.is_empty(), "{errors:?}");
    let url = format!("{}/retry", app.task_url(revert_task));
    let response = app.authorized(app.client.post(url)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let retried: Value = response.json().await.unwrap();
    let retry = retried["task_id"].as_u64().unwrap();
    let status = app.wait_completed(retry).await;
    assert_eq!(status["succeeded"], 1, "{status}");
    let back = export(&app, &[p]).await;
    assert_eq!(back[0]["age"], 1);
    assert!(
        back[0].get("last_city").is_none_or(Value::is_null),
        "{back:?}"
    );
    app.stop().await;
}

#[tokio::test]
async fn reverts_are_refused_where_they_cannot_apply() {
    let app = TestApp::spawn_with(|settings| {
        settings.retention.revert_days = 7;
        settings.retention.sweep_interval_ms = 100;
    })
    .await;
    let (status, created, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "a"}]})],
        )
        .await;
    let create = status["task_id"].as_u64().unwrap();
    let id = id_of(&created[0]);
    let (status, _, _) = app
        .run_task("get_core_profiles", &[json!({"core-profile-id": id})])
        .await;
    let read = status["task_id"].as_u64().unwrap();
    let (code, body) = revert(&app, read).await;
    assert_eq!(
        (code, body["error"]["code"].clone()),
        (409, json!("NOT_REVERTIBLE"))
    );

    let dry = app
        .create_task_with(
            "update_core_profiles",
            json!({"dry_run": true}),
            &[json!({"core-profile-id": id, "age": 3})],
        )
        .await;
    app.wait_completed(dry).await;
    let (code, body) = revert(&app, dry).await;
    assert_eq!(
        (code, body["error"]["code"].clone()),
        (409, json!("NOT_REVERTIBLE"))
    );

    let (status, _, _) = app
        .run_task(
            "update_core_profiles",
            &[json!({"core-profile-id": id, "age": 3})],
        )
        .await;
    let unchanged = app
        .create_task(
            "update_core_profiles",
            &[json!({"core-profile-id": id, "age": 3})],
        )
        .await;
    app.wait_completed(unchanged).await;
    let (code, body) = revert(&app, unchanged).await;
    assert_eq!(
        (code, body["error"]["code"].clone()),
        (409, json!("NOTHING_TO_REVERT"))
    );

    let (code, _) = revert(&app, 1_234_567).await;
    assert_eq!(code, 404);

    // Users cannot ask for a revert task by name.
    let response = app
        .post_json("revert_profiles", &json!([{"core-profile-id": id}]))
        .await;
    assert_eq!(response.status().as_u16(), 400);

    // A read-only key cannot revert.
    let reader = app.create_domain_with_key(&app.domain, true).await;
    let url = format!("{}/revert", app.task_url(create));
    let response = app
        .client
        .post(url)
        .bearer_auth(&reader)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 403);

    // After the retention period the before-images are deleted: 410.
    let update = status["task_id"].as_u64().unwrap();
    app.execute(&format!(
        "UPDATE tasks SET completed_at = now() - interval '8 days' WHERE id = {update}"
    ))
    .await;
    let mut expired = false;
    for _ in 0..100 {
        let rows = app
            .query_json(&format!(
                "SELECT 1 AS n FROM tasks WHERE id = {update} AND revert_expired_at IS NOT NULL"
            ))
            .await;
        if rows.as_array().is_some_and(|rows| !rows.is_empty()) {
            expired = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(expired, "the sweeper never expired the before-images");
    let images = count(
        &app,
        &format!("SELECT count(*) AS n FROM core_profile_images WHERE task_id = {update}"),
    )
    .await;
    assert_eq!(images, 0);
    let (code, body) = revert(&app, update).await;
    assert_eq!(
        (code, body["error"]["code"].clone()),
        (410, json!("REVERT_EXPIRED"))
    );
    let (code, _) = revert(&app, create).await;
    assert_eq!(code, 201, "a recent task can still be reverted");
    app.stop().await;
}

#[tokio::test]
async fn a_revert_running_after_the_before_images_expired_fails_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let (_, created, _) = app
        .run_task(
            "create_core_profiles",
            &[json!({"identities": [{"uid": "late"}], "age": 1})],
        )
        .await;
    let p = id_of(&created[0]);
    let (status, _, _) = app
        .run_task(
            "update_core_profiles",
            &[json!({"core-profile-id": p, "age": 2})],
        )
        .await;
    let first = status["task_id"].as_u64().unwrap();
    app.run_task(
        "update_core_profiles",
        &[json!({"core-profile-id": p, "age": 3})],
    )
    .await;
    let (status, _, errors) = run_revert(&app, first).await;
    assert_eq!(errors[0]["errors"][0]["code"], "CONFLICT");
    let revert_task = status["task_id"].as_u64().unwrap();

    // The sweeper expires the first task's before-images; the revert's retry then runs.
    app.execute(&format!(
        "UPDATE tasks SET revert_expired_at = now() WHERE id = {first}"
    ))
    .await;
    let url = format!("{}/retry", app.task_url(revert_task));
    let response = app.authorized(app.client.post(url)).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 201);
    let retry = response.json::<Value>().await.unwrap()["task_id"]
        .as_u64()
        .unwrap();
    let status = app.wait_completed(retry).await;
    assert_eq!(status["failed"], 1, "{status}");
    let errors = app.errors(retry).await;
    assert_eq!(
        errors[0]["errors"][0]["code"], "REVERT_EXPIRED",
        "{errors:?}"
    );
    assert_eq!(
        export(&app, &[p]).await[0]["age"],
        3,
        "nothing was restored"
    );
    app.stop().await;
}
